/**
 * A command-line flag parser with docker's (spf13/pflag) behaviour: `-abc` combined bool
 * shorthands, `-e X`, `-eX`, `-e=X`, `--env X`, `--env=X`, repeated list flags accumulate,
 * `--flag=false` for bools, `--` ends the flags, and optional stop at the first positional
 * (`run`, `create`, `exec`: the command's own flags must pass through untouched).
 *
 * Errors are {@link FlagError}s whose message is exactly what pflag prints.
 *
 * @module
 */

/** The value kind of a flag, which also names it in help text (`--env list`). */
export type FlagKind = "bool" | "string" | "list" | "int" | "float";

/** One flag a verb accepts. */
export interface FlagSpec {
  /** Long name without dashes (`env`). */
  name: string;
  /** One-letter shorthand without dash (`e`). */
  short?: string;
  /** Value kind. */
  kind: FlagKind;
  /** Help text; a `\n` starts an indented continuation line. */
  description: string;
  /** Type word shown in help (defaults by kind: string, list, int, float, none for bool). */
  valueName?: string;
  /** Default value; shown in help as `(default …)` when not the zero value. */
  default?: string | number | boolean;
  /** Other long names that set the same flag (`net` for `network`). */
  aliases?: string[];
  /** Accepted but not listed in help. */
  hidden?: boolean;
}

/** The value a parsed flag holds. */
export type FlagValue = boolean | string | string[] | number;

/** Result of {@link parseFlags}. */
export interface ParsedArgs {
  /** Values by long name; every spec'd flag is present (defaults or zero values). */
  values: Record<string, FlagValue>;
  /** Long names of the flags given on the command line. */
  changed: Set<string>;
  /** Positional arguments, in order. */
  positionals: string[];
}

/** Options of {@link parseFlags}. */
export interface ParseOptions {
  /**
   * When false, parsing stops at the first positional and everything after it is positional
   * (pflag's `SetInterspersed(false)`, used by `run`, `create`, `exec`).
   */
  interspersed?: boolean;
}

/** A command-line error in pflag's words (`unknown flag: --foo`). */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

function zeroValue(spec: FlagSpec): FlagValue {
  if (spec.default !== undefined) {
    return spec.kind === "list" ? String(spec.default).split(",").filter(Boolean) : spec.default;
  }
  switch (spec.kind) {
    case "bool":
      return false;
    case "string":
      return "";
    case "list":
      return [];
    case "int":
    case "float":
      return 0;
  }
}

/** pflag names a flag `-n, --last` or `--all` in value errors. */
function flagLabel(spec: FlagSpec): string {
  return spec.short ? `-${spec.short}, --${spec.name}` : `--${spec.name}`;
}

/** Go's strconv.ParseBool accepts exactly these spellings. */
function parseBool(text: string, spec: FlagSpec): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  throw new FlagError(
    `invalid argument "${text}" for "${
      flagLabel(spec)
    }" flag: strconv.ParseBool: parsing "${text}": invalid syntax`,
  );
}

function convert(spec: FlagSpec, text: string, values: Record<string, FlagValue>): void {
  switch (spec.kind) {
    case "bool":
      values[spec.name] = parseBool(text, spec);
      return;
    case "string":
      values[spec.name] = text;
      return;
    case "list": {
      const current = values[spec.name];
      values[spec.name] = [...(Array.isArray(current) ? current : []), text];
      return;
    }
    case "int": {
      if (!/^[+-]?\d+$/.test(text.trim()) || text.trim() !== text) {
        throw new FlagError(
          `invalid argument "${text}" for "${
            flagLabel(spec)
          }" flag: strconv.ParseInt: parsing "${text}": invalid syntax`,
        );
      }
      values[spec.name] = Number.parseInt(text, 10);
      return;
    }
    case "float": {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) {
        throw new FlagError(
          `invalid argument "${text}" for "${
            flagLabel(spec)
          }" flag: strconv.ParseFloat: parsing "${text}": invalid syntax`,
        );
      }
      values[spec.name] = n;
      return;
    }
  }
}

/**
 * Parses `args` against `specs` the way pflag does.
 *
 * @example
 * ```ts
 * const r = parseFlags(["-it", "--rm", "busybox", "sh", "-c", "x"], [
 *   { name: "interactive", short: "i", kind: "bool", description: "" },
 *   { name: "tty", short: "t", kind: "bool", description: "" },
 *   { name: "rm", kind: "bool", description: "" },
 * ], { interspersed: false });
 * // r.positionals = ["busybox", "sh", "-c", "x"]
 * ```
 */
export function parseFlags(
  args: readonly string[],
  specs: readonly FlagSpec[],
  options: ParseOptions = {},
): ParsedArgs {
  const interspersed = options.interspersed ?? true;
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  const values: Record<string, FlagValue> = {};
  for (const spec of specs) {
    byLong.set(spec.name, spec);
    for (const alias of spec.aliases ?? []) byLong.set(alias, spec);
    if (spec.short) byShort.set(spec.short, spec);
    values[spec.name] = zeroValue(spec);
  }
  const changed = new Set<string>();
  const positionals: string[] = [];
  // List flags start from their default only until first set on the command line.
  const set = (spec: FlagSpec, text: string): void => {
    if (spec.kind === "list" && !changed.has(spec.name)) values[spec.name] = [];
    convert(spec, text, values);
    changed.add(spec.name);
  };

  let i = 0;
  while (i < args.length) {
    const arg = args[i++];
    if (arg === "--") {
      positionals.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      if (!interspersed) {
        positionals.push(...args.slice(i));
        break;
      }
      continue;
    }
    if (arg.startsWith("--")) {
      const body = arg.slice(2);
      const eq = body.indexOf("=");
      const name = eq === -1 ? body : body.slice(0, eq);
      const spec = byLong.get(name);
      if (!spec) throw new FlagError(`unknown flag: --${name}`);
      if (eq !== -1) {
        set(spec, body.slice(eq + 1));
      } else if (spec.kind === "bool") {
        set(spec, "true");
      } else if (i < args.length) {
        set(spec, args[i++]);
      } else {
        throw new FlagError(`flag needs an argument: --${name}`);
      }
      continue;
    }
    // Shorthands: each letter is a flag until one takes a value, which is the rest of the
    // argument (after an optional `=`) or else the next argument.
    let rest = arg.slice(1);
    while (rest.length > 0) {
      const letter = rest[0];
      const spec = byShort.get(letter);
      if (!spec) throw new FlagError(`unknown shorthand flag: '${letter}' in ${arg}`);
      if (rest.length > 2 && rest[1] === "=") {
        set(spec, rest.slice(2));
        rest = "";
      } else if (spec.kind === "bool") {
        set(spec, "true");
        rest = rest.slice(1);
      } else if (rest.length > 1) {
        set(spec, rest.slice(1));
        rest = "";
      } else if (i < args.length) {
        set(spec, args[i++]);
        rest = "";
      } else {
        throw new FlagError(`flag needs an argument: '${letter}' in ${arg}`);
      }
    }
  }
  return { values, changed, positionals };
}

function defaultText(spec: FlagSpec): string {
  const d = spec.default;
  if (d === undefined || d === false || d === "" || d === 0) return "";
  if (spec.kind === "string") return ` (default "${d}")`;
  if (spec.kind === "list") return ` (default [${d}])`;
  return ` (default ${d})`;
}

/** Renders the `Options:` table of a help text the way pflag lays it out. */
export function formatFlagUsages(specs: readonly FlagSpec[]): string {
  const rows: Array<[string, string]> = [];
  // pflag lists flags sorted by long name, byte order.
  const sorted = [...specs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const spec of sorted) {
    if (spec.hidden) continue;
    let left = spec.short ? `  -${spec.short}, --${spec.name}` : `      --${spec.name}`;
    const word = spec.valueName ?? (spec.kind === "bool" ? "" : spec.kind);
    if (word) left += ` ${word}`;
    rows.push([left, spec.description + defaultText(spec)]);
  }
  const width = Math.max(0, ...rows.map(([l]) => l.length)) + 3;
  return rows.map(([left, desc]) =>
    left.padEnd(width) + desc.split("\n").join("\n" + " ".repeat(width))
  ).join("\n");
}
