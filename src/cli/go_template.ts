/**
 * A subset of Go's text/template, enough for the `--format` strings people script against
 * docker: fields (`{{.State.ExitCode}}`), variables, pipelines, `if`/`else if`/`else`, `range`
 * (with `$i, $v :=`), `with`, trim markers (`{{-`, `-}}`), and docker's functions (`json`,
 * `join`, `split`, `lower`, `upper`, `title`, `truncate`, `pad`, `println`) plus Go's builtins
 * (`index`, `len`, `print`, `printf`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`).
 *
 * Data is plain JSON-like values, which matches docker's own fallback of executing on decoded
 * JSON: a missing map key prints `<no value>`.
 *
 * @module
 */

import { TemplateError } from "./template_error.ts";

export { TemplateError };

// ---------------------------------------------------------------------------------------------
// Lexing

type Token =
  | { t: "field"; path: string[] } // `.A.B` (path [] is `.`)
  | { t: "var"; name: string; path: string[] } // `$x.A`
  | { t: "ident"; name: string }
  | { t: "string"; value: string }
  | { t: "number"; value: number }
  | { t: "bool"; value: boolean }
  | { t: "nil" }
  | { t: "("; path?: undefined }
  | { t: ")"; path: string[] } // a `)` may be followed by `.Field` chain
  | { t: "|" }
  | { t: ":=" }
  | { t: "=" }
  | { t: "," };

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;

function lexAction(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const fieldChain = (): string[] => {
    const path: string[] = [];
    while (src[i] === "." && IDENT.test(src.slice(i + 1))) {
      const m = IDENT.exec(src.slice(i + 1))!;
      path.push(m[0]);
      i += 1 + m[0].length;
    }
    return path;
  };
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === ".") {
      if (IDENT.test(src.slice(i + 1))) out.push({ t: "field", path: fieldChain() });
      else {
        out.push({ t: "field", path: [] });
        i++;
      }
    } else if (c === "$") {
      const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(i))!;
      i += m[0].length;
      out.push({ t: "var", name: m[0], path: fieldChain() });
    } else if (c === '"') {
      let j = i + 1;
      let value = "";
      while (j < src.length && src[j] !== '"') {
        if (src[j] === "\\") {
          const e = src[j + 1];
          value += e === "n" ? "\n" : e === "t" ? "\t" : e === "r" ? "\r" : e === "0" ? "\0" : e;
          j += 2;
        } else value += src[j++];
      }
      if (j >= src.length) throw new TemplateError("template: unterminated quoted string");
      out.push({ t: "string", value });
      i = j + 1;
    } else if (c === "`") {
      const j = src.indexOf("`", i + 1);
      if (j === -1) throw new TemplateError("template: unterminated raw quoted string");
      out.push({ t: "string", value: src.slice(i + 1, j) });
      i = j + 1;
    } else if (/[-+0-9]/.test(c) && /^[-+]?\d/.test(src.slice(i))) {
      const m = /^[-+]?(\d+\.?\d*(e[-+]?\d+)?|0x[0-9a-f]+)/i.exec(src.slice(i))!;
      out.push({ t: "number", value: Number(m[0]) });
      i += m[0].length;
    } else if (c === "(") {
      out.push({ t: "(" });
      i++;
    } else if (c === ")") {
      i++;
      out.push({ t: ")", path: fieldChain() });
    } else if (c === "|") {
      out.push({ t: "|" });
      i++;
    } else if (src.startsWith(":=", i)) {
      out.push({ t: ":=" });
      i += 2;
    } else if (c === "=") {
      out.push({ t: "=" });
      i++;
    } else if (c === ",") {
      out.push({ t: "," });
      i++;
    } else if (IDENT.test(src.slice(i))) {
      const name = IDENT.exec(src.slice(i))![0];
      i += name.length;
      if (name === "true" || name === "false") out.push({ t: "bool", value: name === "true" });
      else if (name === "nil") out.push({ t: "nil" });
      else out.push({ t: "ident", name });
    } else {
      throw new TemplateError(`template: unexpected "${c}" in command`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing

type Operand =
  | { k: "field"; path: string[] }
  | { k: "var"; name: string; path: string[] }
  | { k: "lit"; value: unknown }
  | { k: "fn"; name: string }
  | { k: "sub"; pipe: Pipeline; path: string[] };
interface Command {
  args: Operand[];
}
interface Pipeline {
  decl: string[];
  assign: boolean;
  cmds: Command[];
}
type Node =
  | { k: "text"; text: string }
  | { k: "action"; pipe: Pipeline }
  | { k: "if" | "with"; pipe: Pipeline; body: Node[]; alt: Node[] }
  | { k: "range"; pipe: Pipeline; body: Node[]; alt: Node[] };

/** A raw piece of the template: literal text or the inside of `{{ }}`. */
type Piece = { text: string } | { action: string };

function split(src: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    let text = src.slice(i, open === -1 ? src.length : open);
    if (trimNext) text = text.replace(/^\s+/, "");
    trimNext = false;
    if (open === -1) {
      if (text) pieces.push({ text });
      break;
    }
    let start = open + 2;
    if (
      src.startsWith("- ", start) || src.startsWith("-\t", start) || src.startsWith("-\n", start)
    ) {
      text = text.replace(/\s+$/, "");
      start += 1;
    }
    if (text) pieces.push({ text });
    const close = src.indexOf("}}", start);
    if (close === -1) throw new TemplateError("template: unclosed action");
    let inner = src.slice(start, close);
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      trimNext = true;
    }
    // Comments `{{/* … */}}` produce nothing.
    if (!/^\s*\/\*[\s\S]*\*\/\s*$/.test(inner)) pieces.push({ action: inner });
    i = close + 2;
  }
  return pieces;
}

class Parser {
  #pieces: Piece[];
  #pos = 0;
  constructor(pieces: Piece[]) {
    this.#pieces = pieces;
  }

  /** Parses nodes until one of `stops` (a keyword action) or the end; returns the stop found. */
  list(stops: string[]): { nodes: Node[]; stop: string; rest: Token[] } {
    const nodes: Node[] = [];
    while (this.#pos < this.#pieces.length) {
      const piece = this.#pieces[this.#pos++];
      if ("text" in piece) {
        nodes.push({ k: "text", text: piece.text });
        continue;
      }
      const tokens = lexAction(piece.action);
      if (tokens.length === 0) throw new TemplateError("template: missing value for command");
      const first = tokens[0];
      const kw = first.t === "ident" ? first.name : "";
      if (stops.includes(kw)) return { nodes, stop: kw, rest: tokens.slice(1) };
      if (kw === "end" || kw === "else") throw new TemplateError(`template: unexpected {{${kw}}}`);
      if (kw === "if" || kw === "with" || kw === "range") {
        nodes.push(this.control(kw, tokens.slice(1)));
      } else {
        nodes.push({ k: "action", pipe: parsePipeline(tokens) });
      }
    }
    if (stops.length > 0) throw new TemplateError("template: unexpected EOF");
    return { nodes, stop: "", rest: [] };
  }

  control(kw: "if" | "with" | "range", tokens: Token[]): Node {
    const pipe = parsePipeline(tokens);
    const body = this.list(["else", "end"]);
    let alt: Node[] = [];
    if (body.stop === "else") {
      if (
        body.rest.length > 0 && body.rest[0].t === "ident" &&
        (body.rest[0].name === "if" || body.rest[0].name === "with")
      ) {
        // `{{else if x}}` is an `if` nested in the else branch that shares the `{{end}}`.
        alt = [this.control(body.rest[0].name as "if" | "with", body.rest.slice(1))];
      } else {
        const tail = this.list(["end"]);
        alt = tail.nodes;
      }
    }
    return { k: kw, pipe, body: body.nodes, alt } as Node;
  }
}

function parsePipeline(tokens: Token[]): Pipeline {
  let pos = 0;
  const decl: string[] = [];
  let assign = false;
  // `$x :=`, `$i, $v :=`, `$x =`
  const declEnd = tokens.findIndex((t) => t.t === ":=" || t.t === "=");
  if (declEnd > 0 && tokens.slice(0, declEnd).every((t) => t.t === "var" || t.t === ",")) {
    for (const t of tokens.slice(0, declEnd)) if (t.t === "var") decl.push(t.name);
    assign = tokens[declEnd].t === "=";
    pos = declEnd + 1;
  }
  const parseCmds = (end: ")" | "eof"): Command[] => {
    const cmds: Command[] = [];
    let args: Operand[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos++];
      switch (tok.t) {
        case "|":
          if (args.length === 0) throw new TemplateError("template: missing command before |");
          cmds.push({ args });
          args = [];
          break;
        case ")":
          if (end !== ")") throw new TemplateError("template: unexpected right paren");
          pos--;
          if (args.length) cmds.push({ args });
          return cmds;
        case "(": {
          const inner = parseCmds(")");
          const close = tokens[pos++] as { t: ")"; path: string[] } | undefined;
          if (!close || close.t !== ")") throw new TemplateError("template: unclosed left paren");
          args.push({ k: "sub", pipe: { decl: [], assign: false, cmds: inner }, path: close.path });
          break;
        }
        case "field":
          args.push({ k: "field", path: tok.path });
          break;
        case "var":
          args.push({ k: "var", name: tok.name, path: tok.path });
          break;
        case "ident":
          args.push({ k: "fn", name: tok.name });
          break;
        case "string":
        case "number":
        case "bool":
          args.push({ k: "lit", value: tok.value });
          break;
        case "nil":
          args.push({ k: "lit", value: null });
          break;
        default:
          throw new TemplateError(`template: unexpected "${tok.t}" in command`);
      }
    }
    if (end === ")") throw new TemplateError("template: unclosed left paren");
    if (args.length) cmds.push({ args });
    return cmds;
  };
  const cmds = parseCmds("eof");
  if (cmds.length === 0) throw new TemplateError("template: missing value for command");
  return { decl, assign, cmds };
}

// ---------------------------------------------------------------------------------------------
// Values

const NO_VALUE = Symbol("no value");

function truthy(v: unknown): boolean {
  if (v === NO_VALUE || v === null || v === undefined || v === false || v === 0 || v === "") {
    return false;
  }
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v as object).length > 0;
  return true;
}

/** Formats a value as Go's `%v` would for the equivalent decoded-JSON value. */
export function goString(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (typeof v === "string") return v;
  if (typeof v === "number") return goNumber(v);
  if (typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(" ")}]`;
  if (typeof v === "object") {
    // Methods (see Exec.command) are not data.
    const keys = Object.keys(v as object).filter((k) =>
      typeof (v as Record<string, unknown>)[k] !== "function"
    ).sort();
    return `map[${
      keys.map((k) => `${k}:${goString((v as Record<string, unknown>)[k])}`).join(" ")
    }]`;
  }
  return String(v);
}

function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Go's %v for float64 is the shortest representation, switching to an exponent at 1e21.
  return String(n).replace(/e([+-])(\d)$/, "e$10$2");
}

function field(value: unknown, name: string, path: string): unknown {
  if (value === NO_VALUE) return NO_VALUE;
  if (value === null || value === undefined) {
    throw new TemplateError(`template: nil pointer evaluating ${path}`);
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new TemplateError(
      `template: can't evaluate field ${name} in type ${goTypeName(value)}`,
    );
  }
  const obj = value as Record<string, unknown>;
  return Object.hasOwn(obj, name) ? obj[name] : NO_VALUE;
}

function goTypeName(v: unknown): string {
  if (typeof v === "string") return "string";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "[]interface {}";
  return "interface {}";
}

function compare(a: unknown, b: unknown, name: string): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new TemplateError(`template: error calling ${name}: incompatible types for comparison`);
}

function goPrint(args: unknown[]): string {
  // Go's print: a space between operands when neither side is a string.
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string") out += " ";
    out += goString(a);
  });
  return out;
}

function goPrintf(format: string, args: unknown[]): string {
  let n = 0;
  return format.replace(
    /%([-+ 0#]*)(\d*)(?:\.(\d+))?([%vsdqtfxXg])/g,
    (_m, flags, width, prec, verb) => {
      if (verb === "%") return "%";
      const arg = args[n++];
      let s: string;
      switch (verb) {
        case "q":
          s = JSON.stringify(goString(arg));
          break;
        case "d":
          s = typeof arg === "number" ? String(Math.trunc(arg)) : `%!d(${goString(arg)})`;
          break;
        case "f":
          s = typeof arg === "number" ? arg.toFixed(prec ? Number(prec) : 6) : goString(arg);
          break;
        case "x":
        case "X":
          s = typeof arg === "number"
            ? arg.toString(16)
            : [...new TextEncoder().encode(goString(arg))].map((b) =>
              b.toString(16).padStart(2, "0")
            ).join("");
          if (verb === "X") s = s.toUpperCase();
          break;
        default:
          s = goString(arg);
          if (prec && (verb === "s" || verb === "v")) s = s.slice(0, Number(prec));
      }
      const w = Number(width || 0);
      if (s.length < w) {
        s = flags.includes("-") ? s.padEnd(w) : s.padStart(w, flags.includes("0") ? "0" : " ");
      }
      return s;
    },
  );
}

type Fn = (...args: unknown[]) => unknown;

const FUNCS: Record<string, Fn> = {
  json: (v) => JSON.stringify(v === NO_VALUE ? null : v) ?? "null",
  join: (list, sep) => {
    if (!Array.isArray(list)) throw new TemplateError("template: error calling join: not a list");
    return list.map(goString).join(String(sep));
  },
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => goString(s).toLowerCase(),
  upper: (s) => goString(s).toUpperCase(),
  title: (s) =>
    goString(s).replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_m, a, b) => a + b.toUpperCase()),
  truncate: (s, n) => [...goString(s)].slice(0, Number(n)).join(""),
  pad: (s, l, r) => " ".repeat(Number(l)) + goString(s) + " ".repeat(Number(r)),
  println: (...args) => args.map(goString).join(" ") + "\n",
  print: (...args) => goPrint(args),
  printf: (format, ...args) => goPrintf(String(format), args),
  len: (v) => {
    if (typeof v === "string") return new TextEncoder().encode(v).length;
    if (Array.isArray(v)) return v.length;
    if (v && typeof v === "object") return Object.keys(v).length;
    throw new TemplateError(`template: error calling len: len of ${goTypeName(v)}`);
  },
  index: (v, ...keys) => {
    let cur = v;
    for (const key of keys) {
      if (cur === NO_VALUE || cur === null || cur === undefined) return NO_VALUE;
      if (Array.isArray(cur)) {
        const i = Number(key);
        if (!Number.isInteger(i) || i < 0 || i >= cur.length) {
          throw new TemplateError(`template: error calling index: index out of range: ${key}`);
        }
        cur = cur[i];
      } else if (typeof cur === "object") {
        const obj = cur as Record<string, unknown>;
        cur = Object.hasOwn(obj, String(key)) ? obj[String(key)] : NO_VALUE;
      } else {
        throw new TemplateError(
          `template: error calling index: can't index item of type ${goTypeName(cur)}`,
        );
      }
    }
    return cur;
  },
  not: (v) => !truthy(v),
  and: (...args) => {
    for (const a of args) if (!truthy(a)) return a;
    return args[args.length - 1];
  },
  or: (...args) => {
    for (const a of args) if (truthy(a)) return a;
    return args[args.length - 1];
  },
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: (a, b) => compare(a, b, "lt") < 0,
  le: (a, b) => compare(a, b, "le") <= 0,
  gt: (a, b) => compare(a, b, "gt") > 0,
  ge: (a, b) => compare(a, b, "ge") >= 0,
};

// ---------------------------------------------------------------------------------------------
// Execution

/**
 * Fields whose values are maps of user data (label keys, port keys, network names…): a key
 * missing there prints `<no value>` even when missing keys are errors, as docker's typed
 * structs hold them as Go maps.
 */
const USER_MAPS = new Set([
  "Annotations",
  "Containers",
  "Data",
  "ExposedPorts",
  "Labels",
  "Networks",
  "Options",
  "PortBindings",
  "Ports",
  "StorageOpt",
  "Sysctls",
  "Tmpfs",
  "Volumes",
]);

class Exec {
  #vars: Array<[string, unknown]> = [];
  #out = "";
  readonly #root: unknown;
  readonly #options: TemplateOptions;
  constructor(root: unknown, options: TemplateOptions) {
    this.#vars.push(["$", root]);
    this.#root = root;
    this.#options = options;
  }
  get output(): string {
    return this.#out;
  }

  lookupVar(name: string): unknown {
    for (let i = this.#vars.length - 1; i >= 0; i--) {
      if (this.#vars[i][0] === name) return this.#vars[i][1];
    }
    throw new TemplateError(`template: undefined variable "${name}"`);
  }

  walk(nodes: Node[], dot: unknown): void {
    for (const node of nodes) {
      switch (node.k) {
        case "text":
          this.#out += node.text;
          break;
        case "action": {
          const v = this.pipeline(node.pipe, dot);
          if (node.pipe.decl.length === 0) this.#out += goString(v);
          break;
        }
        case "if":
        case "with": {
          const mark = this.#vars.length;
          const v = this.pipeline(node.pipe, dot);
          if (truthy(v)) this.walk(node.body, node.k === "with" ? v : dot);
          else this.walk(node.alt, dot);
          this.#vars.length = mark;
          break;
        }
        case "range": {
          const mark = this.#vars.length;
          const { decl } = node.pipe;
          const v = this.pipeline({ ...node.pipe, decl: [] }, dot);
          const entries: Array<[unknown, unknown]> = Array.isArray(v)
            ? v.map((e, i) => [i, e])
            : v && typeof v === "object"
            ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])
            : typeof v === "number"
            ? Array.from({ length: v }, (_, i) => [i, i])
            : [];
          if (
            v !== null && v !== NO_VALUE && v !== undefined && typeof v !== "object" &&
            typeof v !== "number"
          ) {
            throw new TemplateError(`template: range can't iterate over ${goString(v)}`);
          }
          if (entries.length === 0) this.walk(node.alt, dot);
          for (const [key, elem] of entries) {
            const inner = this.#vars.length;
            if (decl.length === 1) this.#vars.push([decl[0], elem]);
            if (decl.length === 2) this.#vars.push([decl[0], key], [decl[1], elem]);
            this.walk(node.body, elem);
            this.#vars.length = inner;
          }
          this.#vars.length = mark;
          break;
        }
      }
    }
  }

  pipeline(pipe: Pipeline, dot: unknown): unknown {
    let value: unknown = NO_VALUE;
    let piped = false;
    for (const cmd of pipe.cmds) {
      value = this.command(cmd, dot, piped ? [value] : []);
      piped = true;
    }
    for (const name of pipe.decl) {
      if (pipe.assign) {
        const slot = [...this.#vars].reverse().find(([n]) => n === name);
        if (!slot) throw new TemplateError(`template: undefined variable "${name}"`);
        slot[1] = value;
      } else {
        this.#vars.push([name, value]);
      }
    }
    return value;
  }

  command(cmd: Command, dot: unknown, extra: unknown[]): unknown {
    const [head, ...rest] = cmd.args;
    if (head.k === "fn") {
      const fn = FUNCS[head.name];
      if (!fn) throw new TemplateError(`template: function "${head.name}" not defined`);
      const args = [...rest.map((a) => this.operand(a, dot)), ...extra];
      return fn(...args);
    }
    const value = this.operand(head, dot);
    // A method of docker's row types (`{{.Label "com.example"}}`): data may carry functions.
    if (typeof value === "function") {
      return value(...rest.map((a) => this.operand(a, dot)), ...extra);
    }
    if (rest.length > 0 || extra.length > 0) {
      throw new TemplateError("template: can't give argument to non-function");
    }
    return value;
  }

  operand(op: Operand, dot: unknown): unknown {
    switch (op.k) {
      case "lit":
        return op.value;
      case "field":
        return this.chain(dot, op.path, "");
      case "var":
        return this.chain(this.lookupVar(op.name), op.path, op.name);
      case "sub":
        return this.chain(this.pipeline(op.pipe, dot), op.path, "(…)");
      case "fn": {
        const fn = FUNCS[op.name];
        if (!fn) throw new TemplateError(`template: function "${op.name}" not defined`);
        return fn();
      }
    }
  }

  chain(value: unknown, path: string[], base: string): unknown {
    let cur = value;
    let seen = base;
    let parent: string | undefined;
    for (const name of path) {
      seen += `.${name}`;
      const next = field(cur, name, seen);
      if (next === NO_VALUE && cur !== NO_VALUE && this.#options.missingKey === "error") {
        this.#missing(cur, name, seen, parent);
      }
      cur = next;
      parent = name;
    }
    return cur;
  }

  /** docker's errors for a field its typed value does not have (see {@link TemplateOptions}). */
  #missing(obj: unknown, name: string, seen: string, parent: string | undefined): void {
    if (parent !== undefined && USER_MAPS.has(parent)) return;
    const at = `template: executing "" at <${seen}>: `;
    const type = this.#options.typeName;
    if (type !== undefined && obj === this.#root) {
      throw new TemplateError(`${at}can't evaluate field ${name} in type ${type}`);
    }
    throw new TemplateError(`${at}map has no entry for key "${name}"`);
  }
}

/** How a {@link GoTemplate} treats a field the data does not have. */
export interface TemplateOptions {
  /**
   * `"error"`: fail, as docker does for `inspect` (its fallback runs with missingkey=error) and
   * for the typed rows of `ps`/`images`. Default: print `<no value>` (decoded JSON in Go).
   */
  missingKey?: "error";
  /** The Go type docker names in "can't evaluate field" errors on the root value. */
  typeName?: string;
}

/** A parsed template, reusable for many values. */
export class GoTemplate {
  #nodes: Node[];
  readonly #options: TemplateOptions;

  /** Parses `source`; throws {@link TemplateError} on a syntax error. */
  constructor(source: string, options: TemplateOptions = {}) {
    this.#nodes = new Parser(split(source)).list([]).nodes;
    this.#options = options;
  }

  /** Executes the template against `data` and returns the text. */
  execute(data: unknown): string {
    const exec = new Exec(data, this.#options);
    exec.walk(this.#nodes, data);
    return exec.output;
  }
}

/**
 * Renders `source` against `data` in one call.
 *
 * @example
 * ```ts
 * renderTemplate("{{.State.ExitCode}}", { State: { ExitCode: 3 } }); // "3"
 * ```
 */
export function renderTemplate(source: string, data: unknown): string {
  return new GoTemplate(source).execute(data);
}
