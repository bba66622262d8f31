/**
 * Compiles a seccomp profile to a classic BPF program (`struct sock_filter[]` bytes).
 *
 * Layout:
 * 1. Load `arch`; one `JEQ` per admitted audit value; anything else → SECCOMP_RET_KILL_PROCESS.
 * 2. Per architecture section: load `nr`. On x86_64 a `JGE 0x40000000` splits off the x32 range,
 *    which is killed unless the profile admits x32 (then it gets its own section).
 * 3. A binary search over the syscall number line: the line is cut into intervals that each map
 *    to one action (runs of neighbouring syscalls with the same action, and the gaps between them
 *    with the default action, merge), or to one syscall whose rules compare arguments. Docker's
 *    default profile needs ~7 comparisons per syscall instead of a linear scan of ~350.
 * 4. Argument rules: each rule is an AND of 64-bit comparisons, split into high and low 32-bit
 *    words (unsigned, as the kernel's BPF compares); rules of one syscall are tried in profile
 *    order, the first that matches decides; then the syscall's unconditional rule, if any, then
 *    the default action.
 * 5. One shared `RET` per distinct action at the end.
 *
 * Rule semantics for a syscall named by several rules: argument-conditioned rules are tried
 * first (in profile order), an unconditional rule is the fallback; among unconditional rules the
 * first one wins. Names unknown to an architecture are skipped for it, as libseccomp does.
 *
 * @module
 */
import { NotImplementedError } from "../../errors.ts";
import { ARCHES, type SeccompArch, X32_SYSCALL_BIT } from "./arch.ts";
import { argOffset, Assembler, BPF, type Label, SECCOMP_DATA, SECCOMP_RET } from "./bpf.ts";
import { parseProfile, type SeccompActionName, type SeccompArg } from "./profile.ts";
import {
  type ResolvedProfile,
  type ResolvedRule,
  resolveProfile,
  type SeccompTargetOptions,
} from "./resolve.ts";

/** EPERM: the errno of SCMP_ACT_ERRNO when the profile gives none. */
const EPERM = 1;

/** Options of {@link compileProfile}. */
export type CompileOptions = SeccompTargetOptions;

/** A compiled filter with what was decided on the way. */
export interface CompiledFilter {
  /** `struct sock_filter[]`, 8 bytes per instruction, little-endian. */
  program: Uint8Array<ArrayBuffer>;
  /** Number of instructions. */
  length: number;
  /** The architectures the filter admits (others are killed). */
  arches: string[];
  /** The profile decided for this container. */
  resolved: ResolvedProfile;
}

/**
 * The 32-bit return value for an action name. `errnoRet` is the rule's value; `fallbackErrno`
 * the profile's `defaultErrnoRet`.
 *
 * @throws NotImplementedError for SCMP_ACT_NOTIFY (needs a listener fd and an agent)
 */
export function actionValue(
  action: SeccompActionName,
  errnoRet?: number,
  fallbackErrno?: number,
): number {
  switch (action) {
    case "SCMP_ACT_ALLOW":
      return SECCOMP_RET.ALLOW;
    case "SCMP_ACT_LOG":
      return SECCOMP_RET.LOG;
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SECCOMP_RET.KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SECCOMP_RET.KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SECCOMP_RET.TRAP;
    case "SCMP_ACT_ERRNO":
      // The kernel clamps errno to MAX_ERRNO (4095) anyway; the schema caps it at 16 bits.
      return (SECCOMP_RET.ERRNO | ((errnoRet ?? fallbackErrno ?? EPERM) & 0xffff)) >>> 0;
    case "SCMP_ACT_TRACE":
      return (SECCOMP_RET.TRACE | ((errnoRet ?? fallbackErrno ?? EPERM) & 0xffff)) >>> 0;
    case "SCMP_ACT_NOTIFY":
      throw new NotImplementedError(
        'Cannot compile seccomp action "SCMP_ACT_NOTIFY": user notification is not supported',
      );
  }
}

/** What one syscall number does in one architecture section. */
interface Handler {
  /** Rules with argument comparisons, in order. */
  conditional: { args: SeccompArg[]; action: number }[];
  /** The unconditional action, if a rule gave one. */
  fallback?: number;
}

/** An interval of the syscall number line and where it leads. */
interface Interval {
  start: number;
  end: number;
  /** A return value, or the syscall number whose argument chain decides. */
  action?: number;
  chainNr?: number;
}

class ProgramBuilder {
  readonly asm = new Assembler();
  readonly #retLabels = new Map<number, Label>();
  readonly #retOrder: number[] = [];

  /** The shared RET for `value`, emitted at the end. */
  ret(value: number): Label {
    let l = this.#retLabels.get(value >>> 0);
    if (l === undefined) {
      l = this.asm.label();
      this.#retLabels.set(value >>> 0, l);
      this.#retOrder.push(value >>> 0);
    }
    return l;
  }

  finish(): Uint8Array<ArrayBuffer> {
    for (const v of this.#retOrder) {
      this.asm.bind(this.#retLabels.get(v)!);
      this.asm.stmt(BPF.RET_K, v);
    }
    return this.asm.assemble();
  }
}

/** Emits one comparison; control goes to `pass` or `fail`. */
function emitComparison(
  b: ProgramBuilder,
  arg: SeccompArg,
  args32: boolean,
  pass: Label,
  fail: Label,
): void {
  const a = b.asm;
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  const ldLo = () => a.stmt(BPF.LD_W_ABS, argOffset(arg.index, false));
  const ldHi = () => a.stmt(BPF.LD_W_ABS, argOffset(arg.index, true));
  // A forward label bound by the caller of `then` right after the current instruction.
  const next = (): Label => a.label();

  if (arg.op === "SCMP_CMP_MASKED_EQ") {
    const mask = arg.value;
    const datum = arg.valueTwo;
    // High word: skipped when the mask has no high bits (then it matches iff the datum has none).
    if (!args32) {
      if (hi(mask) === 0) {
        if (hi(datum) !== 0) {
          a.ja(fail);
          return;
        }
      } else {
        const l = next();
        ldHi();
        a.stmt(BPF.ALU_AND_K, hi(mask));
        a.jump(BPF.JEQ_K, hi(datum), l, fail);
        a.bind(l);
      }
    }
    ldLo();
    a.stmt(BPF.ALU_AND_K, lo(mask));
    a.jump(BPF.JEQ_K, lo(datum), pass, fail);
    return;
  }

  const v = arg.value;
  if (args32) {
    // 32-bit ABIs: the high words of seccomp_data.args are not meaningful; compare the low word.
    ldLo();
    const k = lo(v);
    switch (arg.op) {
      case "SCMP_CMP_EQ":
        return a.jump(BPF.JEQ_K, k, pass, fail);
      case "SCMP_CMP_NE":
        return a.jump(BPF.JEQ_K, k, fail, pass);
      case "SCMP_CMP_GT":
        return a.jump(BPF.JGT_K, k, pass, fail);
      case "SCMP_CMP_GE":
        return a.jump(BPF.JGE_K, k, pass, fail);
      case "SCMP_CMP_LT":
        return a.jump(BPF.JGE_K, k, fail, pass);
      case "SCMP_CMP_LE":
        return a.jump(BPF.JGT_K, k, fail, pass);
    }
  }

  // 64-bit: decide on the high word when it differs, else on the low word (unsigned).
  const lowWord = next();
  ldHi();
  switch (arg.op) {
    case "SCMP_CMP_EQ":
      a.jump(BPF.JEQ_K, hi(v), lowWord, fail);
      a.bind(lowWord);
      ldLo();
      a.jump(BPF.JEQ_K, lo(v), pass, fail);
      return;
    case "SCMP_CMP_NE":
      a.jump(BPF.JEQ_K, hi(v), lowWord, pass);
      a.bind(lowWord);
      ldLo();
      a.jump(BPF.JEQ_K, lo(v), fail, pass);
      return;
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE":
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE": {
      const greater = arg.op === "SCMP_CMP_GT" || arg.op === "SCMP_CMP_GE";
      // hi > vhi: GT/GE pass, LT/LE fail.
      const eqCheck = next();
      a.jump(BPF.JGT_K, hi(v), greater ? pass : fail, eqCheck);
      a.bind(eqCheck);
      // hi < vhi: GT/GE fail, LT/LE pass; hi == vhi: decide on the low word.
      a.jump(BPF.JEQ_K, hi(v), lowWord, greater ? fail : pass);
      a.bind(lowWord);
      ldLo();
      if (arg.op === "SCMP_CMP_GT") a.jump(BPF.JGT_K, lo(v), pass, fail);
      else if (arg.op === "SCMP_CMP_GE") a.jump(BPF.JGE_K, lo(v), pass, fail);
      else if (arg.op === "SCMP_CMP_LT") a.jump(BPF.JGE_K, lo(v), fail, pass);
      else a.jump(BPF.JGT_K, lo(v), fail, pass);
      return;
    }
  }
}

/** Builds nr → handler for one architecture. */
function handlers(
  arch: SeccompArch,
  rules: ResolvedRule[],
  defaultErrno: number | undefined,
): Map<number, Handler> {
  const out = new Map<number, Handler>();
  for (const rule of rules) {
    const value = actionValue(rule.action, rule.errnoRet, defaultErrno);
    for (const name of rule.names) {
      const nr = arch.table[name];
      if (nr === undefined || nr < arch.nrMin || nr > arch.nrMax) continue;
      let h = out.get(nr);
      if (!h) out.set(nr, h = { conditional: [] });
      if (rule.args.length) h.conditional.push({ args: rule.args, action: value });
      else h.fallback ??= value;
    }
  }
  // Conditional rules that end where the fallback would anyway are dead weight.
  for (const h of out.values()) {
    const fb = h.fallback;
    if (fb !== undefined) {
      while (h.conditional.length && h.conditional[h.conditional.length - 1].action === fb) {
        h.conditional.pop();
      }
    }
  }
  return out;
}

/** Cuts [min, max] into intervals, merging neighbours that lead to the same action. */
function intervals(
  map: Map<number, Handler>,
  min: number,
  max: number,
  defaultValue: number,
): Interval[] {
  const out: Interval[] = [];
  const push = (iv: Interval) => {
    const last = out[out.length - 1];
    if (
      last && last.action !== undefined && iv.action !== undefined && last.action === iv.action &&
      last.end + 1 === iv.start
    ) {
      last.end = iv.end;
    } else out.push(iv);
  };
  let cursor = min;
  for (const nr of [...map.keys()].sort((x, y) => x - y)) {
    if (nr > cursor) push({ start: cursor, end: nr - 1, action: defaultValue });
    const h = map.get(nr)!;
    if (h.conditional.length) push({ start: nr, end: nr, chainNr: nr });
    else push({ start: nr, end: nr, action: h.fallback ?? defaultValue });
    cursor = nr + 1;
  }
  if (cursor <= max) push({ start: cursor, end: max, action: defaultValue });
  return out;
}

/** Emits the argument chain of one syscall. */
function emitChain(
  b: ProgramBuilder,
  h: Handler,
  args32: boolean,
  defaultValue: number,
): void {
  const a = b.asm;
  const final = b.ret(h.fallback ?? defaultValue);
  h.conditional.forEach((rule, i) => {
    const isLast = i === h.conditional.length - 1;
    const nextRule = isLast ? final : a.label();
    rule.args.forEach((arg, j) => {
      const pass = j === rule.args.length - 1 ? b.ret(rule.action) : a.label();
      emitComparison(b, arg, args32, pass, nextRule);
      if (!a.isBound(pass) && j !== rule.args.length - 1) a.bind(pass);
    });
    if (!isLast) a.bind(nextRule);
  });
}

/**
 * Emits a binary search over `ivs` (A = nr) and returns the label where it starts. A single
 * interval emits nothing: its label is the RET (or chain) it leads to.
 */
function emitSearch(
  b: ProgramBuilder,
  ivs: Interval[],
  chainLabels: Map<number, Label>,
): Label {
  const a = b.asm;
  const labelFor = (i: number, j: number): Label => {
    if (i !== j) return a.label();
    const iv = ivs[i];
    return iv.action !== undefined ? b.ret(iv.action) : chainLabels.get(iv.chainNr!)!;
  };
  // Preorder: each node is followed by its low half, so the low branch is usually offset 0.
  const build = (i: number, j: number, self: Label): void => {
    const mid = (i + j + 1) >> 1;
    const lo = labelFor(i, mid - 1);
    const hi = labelFor(mid, j);
    a.bind(self);
    a.jump(BPF.JGE_K, ivs[mid].start, hi, lo);
    if (mid - 1 > i) build(i, mid - 1, lo);
    if (j > mid) build(mid, j, hi);
  };
  const root = labelFor(0, ivs.length - 1);
  if (ivs.length > 1) build(0, ivs.length - 1, root);
  return root;
}

/**
 * Compiles a profile (Docker JSON, or the OCI `linux.seccomp` subset) for one container and
 * returns the program with what was decided.
 *
 * @throws InvalidArgumentError for an invalid profile or a program over 4096 instructions
 * @throws NotImplementedError for SCMP_ACT_NOTIFY
 */
export function compileProfileDetailed(
  profile: unknown,
  options: CompileOptions = {},
): CompiledFilter {
  const resolved = resolveProfile(parseProfile(profile), options);
  const b = new ProgramBuilder();
  const a = b.asm;
  const defaultValue = actionValue(resolved.defaultAction, undefined, resolved.defaultErrnoRet);
  const kill = b.ret(SECCOMP_RET.KILL_PROCESS);

  const arches = resolved.arches.filter((n) => ARCHES[n] !== undefined).map((n) => ARCHES[n]);
  const hasX32 = arches.some((x) => x.scmp === "SCMP_ARCH_X32");
  // x32 shares x86_64's audit value: it is a sub-range of that section, not a section itself.
  const sections = arches.filter((x) => x.scmp !== "SCMP_ARCH_X32");

  a.stmt(BPF.LD_W_ABS, SECCOMP_DATA.ARCH);
  const sectionLabels = sections.map(() => a.label());
  sections.forEach((s, i) => {
    const isLast = i === sections.length - 1;
    const next = isLast ? kill : a.label();
    a.jump(BPF.JEQ_K, s.audit, sectionLabels[i], next);
    if (!isLast) a.bind(next);
  });

  const emitArch = (arch: SeccompArch, entry: Label | undefined) => {
    const map = handlers(arch, resolved.syscalls, resolved.defaultErrnoRet);
    const ivs = intervals(map, arch.nrMin, arch.nrMax, defaultValue);
    const chainLabels = new Map<number, Label>();
    for (const iv of ivs) if (iv.chainNr !== undefined) chainLabels.set(iv.chainNr, a.label());
    const before = a.length;
    const root = emitSearch(b, ivs, chainLabels);
    if (entry !== undefined) a.alias(entry, root);
    // A search that emitted nothing must not fall through into the chains below.
    else if (a.length === before) a.ja(root);
    for (const [nr, label] of chainLabels) {
      a.bind(label);
      emitChain(b, map.get(nr)!, arch.args32, defaultValue);
    }
  };

  sections.forEach((s, i) => {
    a.bind(sectionLabels[i]);
    a.stmt(BPF.LD_W_ABS, SECCOMP_DATA.NR);
    if (s.scmp === "SCMP_ARCH_X86_64") {
      const x32Entry = hasX32 ? a.label() : kill;
      const x64Entry = a.label();
      a.jump(BPF.JGE_K, X32_SYSCALL_BIT, x32Entry, x64Entry);
      emitArch(s, x64Entry);
      if (hasX32) emitArch(ARCHES.SCMP_ARCH_X32, x32Entry);
    } else {
      emitArch(s, undefined);
    }
  });

  const program = b.finish();
  return {
    program,
    length: program.length / 8,
    arches: arches.map((x) => x.scmp),
    resolved,
  };
}

/**
 * Compiles a profile to `struct sock_filter[]` bytes (8 per instruction) for
 * {@link loadSeccompProgram}.
 *
 * @example
 * ```ts
 * const prog = compileProfile(defaultProfile(), { capabilities: DEFAULT_CAPABILITIES });
 * ```
 */
export function compileProfile(
  profile: unknown,
  options: CompileOptions = {},
): Uint8Array<ArrayBuffer> {
  return compileProfileDetailed(profile, options).program;
}
