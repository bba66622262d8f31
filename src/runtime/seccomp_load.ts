/**
 * Loads a compiled seccomp filter in the container's init, right before execve. Kept tiny (no
 * compiler, no zod) because it sits on the container start path.
 *
 * The filter attaches to the calling thread only (no TSYNC): the init execs from that thread,
 * and the new program inherits its filter, while Deno's other threads — gone at execve — never
 * run under a profile that might kill them.
 *
 * The kernel demands no_new_privs or CAP_SYS_ADMIN in the effective set. Docker does not set
 * no_new_privs by default, so without `no-new-privileges` the filter must be loaded **before**
 * the capabilities are dropped (runc does the same); the profile then has to allow what the
 * remaining credential steps call (Docker's default does: prctl, capset, setresuid, setgroups).
 *
 * @module
 */
import { SECCOMP_PROGRAM_KEY } from "../security/seccomp/program_key.ts";
import { preloadSeccomp, seccompSetModeFilter } from "../../ffi/seccomp.ts";
import { PR_SET_NO_NEW_PRIVS, prctl } from "../../ffi/process.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";
import { InternalError, InvalidArgumentError } from "../errors.ts";

/** prctl(PR_GET_NO_NEW_PRIVS). */
const PR_GET_NO_NEW_PRIVS = 39;

/** Filter flags by the names profiles use. */
const FLAG_BITS: Readonly<Record<string, number>> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

/** `BPF_RET | BPF_K`: return the constant `k`. */
const BPF_RET_K = 0x06;
/** SECCOMP_RET_ACTION_FULL: the action bits of a filter's return value. */
const RET_ACTION_FULL = 0xffff0000;
/** SECCOMP_RET_KILL_THREAD and SECCOMP_RET_KILL_PROCESS. */
const RET_KILL_THREAD = 0x00000000;
const RET_KILL_PROCESS = 0x80000000;

/**
 * Returns a copy of `program` where every constant kill-thread return kills the process instead.
 *
 * Why: the filter is loaded on one thread of the multi-threaded Deno init, before execve. A
 * kill-thread verdict there (a profile with `defaultAction: SCMP_ACT_KILL` denies the init's
 * own next call) kills only that thread: the thread-group leader turns zombie while Deno's
 * other threads live on, the process never exits and the engine waits for it forever. Killing
 * the process gives the container the SIGSYS death (exit 159) Docker users expect. After execve
 * this is the same for single-threaded programs; multi-threaded ones lose the whole process
 * rather than being left with a silently missing thread.
 */
export function killThreadAsProcess(program: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = program.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let off = 0; off + 8 <= out.byteLength; off += 8) {
    if (view.getUint16(off, true) !== BPF_RET_K) continue;
    const k = view.getUint32(off + 4, true);
    if (((k & RET_ACTION_FULL) >>> 0) === RET_KILL_THREAD) {
      view.setUint32(off + 4, RET_KILL_PROCESS, true);
    }
  }
  return out;
}

/** Options of {@link loadSeccompProgram}. */
export interface LoadSeccompOptions {
  /** seccomp(2) flags, as bits or the profile's flag names. Default none. */
  flags?: number | readonly string[];
  /** Set no_new_privs first (irreversible; inherited across execve). Default false. */
  noNewPrivs?: boolean;
}

function flagBits(flags: LoadSeccompOptions["flags"]): number {
  if (flags === undefined) return 0;
  if (typeof flags === "number") return flags;
  let bits = 0;
  for (const f of flags) {
    const b = FLAG_BITS[f];
    if (b === undefined) throw new InvalidArgumentError(`Unknown seccomp flag "${f}"`);
    bits |= b;
  }
  return bits;
}

/**
 * Attaches `program` (`struct sock_filter[]`, as from `compileProfile`) to the calling thread.
 *
 * @throws InternalError wrapping the SyscallError; for EACCES the message says that neither
 *   no_new_privs nor CAP_SYS_ADMIN was in effect
 */
export function loadSeccompProgram(
  program: Uint8Array<ArrayBuffer>,
  options: LoadSeccompOptions = {},
): void {
  if (options.noNewPrivs) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, "PR_SET_NO_NEW_PRIVS");
  attach(killThreadAsProcess(program), flagBits(options.flags));
}

/** Decodes the program docker-ts attaches to `linux.seccomp`; undefined when there is none. */
export function programFromSpec(seccomp: unknown): Uint8Array<ArrayBuffer> | undefined {
  if (typeof seccomp !== "object" || seccomp === null) return undefined;
  const b64 = (seccomp as Record<string, unknown>)[SECCOMP_PROGRAM_KEY];
  if (typeof b64 !== "string") return undefined;
  // Uint8Array.fromBase64 (V8 ≥ 14) decodes natively; the loop is the fallback.
  const fromBase64 = (Uint8Array as unknown as {
    fromBase64?: (s: string) => Uint8Array<ArrayBuffer>;
  }).fromBase64;
  if (fromBase64) return fromBase64(b64);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A spec's filter decoded and ready to attach: {@link attachPreparedSeccomp}. */
export interface PreparedSeccomp {
  program: Uint8Array<ArrayBuffer>;
  flags: number;
}

/**
 * Everything of loading the spec's filter except the attach itself: decoding, the kill-thread
 * rewrite, the flags and the symbol lookup. The init does this while it waits for its start
 * gate, so only the seccomp(2) call remains on the start path. Undefined for no filter.
 *
 * @throws InvalidArgumentError when `linux.seccomp` carries no compiled program
 */
export function prepareSeccompFromSpec(seccomp: unknown): PreparedSeccomp | undefined {
  if (seccomp === undefined || seccomp === null) return undefined;
  const program = programFromSpec(seccomp);
  if (!program) {
    throw new InvalidArgumentError(
      `Cannot load seccomp filter: linux.seccomp has no "${SECCOMP_PROGRAM_KEY}" program`,
    );
  }
  const flags = (seccomp as { flags?: unknown }).flags;
  preloadSeccomp();
  return {
    program: killThreadAsProcess(program),
    flags: flagBits(Array.isArray(flags) ? flags as string[] : undefined),
  };
}

/** Attaches a prepared filter to the calling thread (see {@link loadSeccompProgram}). */
/**
 * Runs {@link prepareSeccompFromSpec} once on a one-instruction program, so that a warm init's
 * real preparation finds its symbols loaded and its code compiled (measured: 1.9 ms cold, 0.1 ms
 * after this).
 */
export function prewarmSeccomp(): void {
  // BPF_RET|BPF_K, SECCOMP_RET_ALLOW: never attached, only decoded.
  prepareSeccompFromSpec({ [SECCOMP_PROGRAM_KEY]: btoa("\x06\x00\x00\x00\x00\x00\xff\x7f") });
}

export function attachPreparedSeccomp(p: PreparedSeccomp): void {
  attach(p.program, p.flags);
}

function attach(program: Uint8Array<ArrayBuffer>, flags: number): void {
  try {
    seccompSetModeFilter(program, flags);
  } catch (err) {
    if (err instanceof SyscallError && err.code === "EACCES") {
      const nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0, "PR_GET_NO_NEW_PRIVS");
      throw new InternalError(
        `${err.message} (no_new_privs is ${
          nnp ? "set" : "unset"
        } and CAP_SYS_ADMIN is not effective: load the filter before dropping capabilities)`,
        { cause: err },
      );
    }
    throw new InternalError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/**
 * Loads the filter described by the spec's `linux.seccomp` (the shape `seccompForContainer`
 * returns). Does nothing for `undefined`/`null` (unconfined).
 *
 * @throws InvalidArgumentError when `linux.seccomp` carries no compiled program
 */
export function loadSeccompFromSpec(seccomp: unknown, options: LoadSeccompOptions = {}): void {
  if (seccomp === undefined || seccomp === null) return;
  const program = programFromSpec(seccomp);
  if (!program) {
    throw new InvalidArgumentError(
      `Cannot load seccomp filter: linux.seccomp has no "${SECCOMP_PROGRAM_KEY}" program`,
    );
  }
  const flags = (seccomp as { flags?: unknown }).flags;
  loadSeccompProgram(program, {
    ...options,
    ...(options.flags === undefined && Array.isArray(flags) ? { flags: flags as string[] } : {}),
  });
}
