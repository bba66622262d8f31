/**
 * Child reaping and signals: waitpid(2), kill(2) and the Linux signal table.
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";

const waitSymbols = {
  /** pid_t waitpid(pid_t pid, int *wstatus, int options); wait(2) */
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int kill(pid_t pid, int sig); kill(2) */
  kill: { parameters: ["i32", "i32"], result: "i32" },
  /** sighandler_t signal(int sig, sighandler_t handler); signal(2) */
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Sets `sig`'s disposition to SIG_IGN for the whole process. */
export function ignoreSignal(sig: number): void {
  sym().signal(sig, Deno.UnsafePointer.create(1n));
}

function sym(): Deno.DynamicLibrary<typeof waitSymbols>["symbols"] {
  return libc("wait", waitSymbols);
}

/** waitpid option: return at once if no child has changed state. */
export const WNOHANG = 1;

const EINTR = 4;

/** How a waited-for child ended. */
export type WaitResult =
  | { kind: "running" }
  | { kind: "exited"; code: number }
  | { kind: "signaled"; signal: number; coreDumped: boolean }
  /** A ptrace stop of a traced process: `event` is the PTRACE_EVENT_* (0: signal delivery). */
  | { kind: "stopped"; signal: number; event: number };

/** Decodes a wait status word (the W* macros of <sys/wait.h>). */
export function decodeWaitStatus(status: number): WaitResult {
  const low = status & 0x7f;
  if (low === 0) return { kind: "exited", code: (status >> 8) & 0xff };
  if (low !== 0x7f) return { kind: "signaled", signal: low, coreDumped: (status & 0x80) !== 0 };
  // Continued (0xffff) only comes with WCONTINUED, which is never passed; stops come for traced
  // processes (ptrace stops are reported without WUNTRACED).
  if (status === 0xffff) return { kind: "running" };
  return { kind: "stopped", signal: (status >> 8) & 0xff, event: (status >> 16) & 0xff };
}

/**
 * waitpid(pid, &status, options) for one known pid, retrying EINTR. Returns `running` when
 * WNOHANG found no change. Never call it with pid -1: that steals Deno.Command's children.
 */
export function waitpid(pid: number, options = WNOHANG): WaitResult {
  if (pid <= 0) throw new RangeError(`waitpid needs a positive pid, got ${pid}`);
  const status = new Int32Array(1);
  for (;;) {
    const r = sym().waitpid(pid, new Uint8Array(status.buffer), options);
    if (r === pid) return decodeWaitStatus(status[0]);
    if (r === 0) return { kind: "running" };
    const e = errno();
    if (e === EINTR) continue;
    throw new SyscallError("waitpid", e, { path: `pid ${pid}` });
  }
}

/** kill(2). Throws SyscallError (ESRCH when the process is gone). */
export function kill(pid: number, signal: number): void {
  if (sym().kill(pid, signal) === -1) {
    throw new SyscallError("kill", errno(), { path: `pid ${pid}` });
  }
}

/** Linux signal numbers (x86_64 and aarch64 share them). */
export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** Name of signal `n` (`SIGKILL`), or `SIGRTMIN+k` / `SIG<n>` for the others. */
export function signalName(n: number): string {
  for (const [name, value] of Object.entries(SIGNALS)) if (value === n) return name;
  if (n >= 34 && n <= 64) return `SIGRTMIN+${n - 34}`;
  return `SIG${n}`;
}

/**
 * Number of a signal given as `KILL`, `SIGKILL`, `sigkill`, `9` or `SIGRTMIN+3`; undefined when
 * unknown (the caller reports it with its own wording).
 */
export function signalNumber(spec: string): number | undefined {
  const s = spec.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  const name = s.startsWith("SIG") ? s : `SIG${s}`;
  if (name in SIGNALS) return SIGNALS[name];
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name);
  if (rt) {
    const n = 34 + Number(rt[1] ?? 0);
    return n <= 64 ? n : undefined;
  }
  const rtmax = /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rtmax) {
    const n = 64 - Number(rtmax[1] ?? 0);
    return n >= 34 ? n : undefined;
  }
  return undefined;
}
