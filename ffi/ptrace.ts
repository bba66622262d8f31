/**
 * The two ptrace(2) requests docker-ts uses: seizing a process that is not our child, so that
 * its exit status comes to us, and resuming it at each stop with the signal it was stopped for.
 *
 * A container re-adopted after a daemon restart is the child of init, not of the daemon, and
 * its exit status goes to init. Seized just before the daemon signals it (`stop`, `kill`), it
 * reports its exit to us as well, so `docker stop` shows 143 rather than "unknown". While
 * seized, every signal it receives stops it until we resume it (see src/runtime/reaper.ts).
 * Requests must come from the thread that seized: docker-ts seizes and resumes on the engine's
 * main thread only. Through raw `syscall(2)`, as glibc's ptrace wrapper is variadic.
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";
import { syscallNumbers } from "./arch.ts";

const symbols = {
  /** long syscall(SYS_ptrace, long request, pid_t pid, void *addr, void *data);  ptrace(2) */
  syscall_ptrace: {
    name: "syscall",
    parameters: ["i64", "i64", "i64", "i64", "i64"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

function lib(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  return libc("ptrace", symbols);
}

const PTRACE_CONT = 7;
const PTRACE_SEIZE = 0x4206;
/** The event of a group-stop of a seized process (`status >> 16`). */
export const PTRACE_EVENT_STOP = 128;

function call(request: number, pid: number, data: number, what: string): void {
  const r = lib().syscall_ptrace(
    BigInt(syscallNumbers().ptrace),
    BigInt(request),
    BigInt(pid),
    0n,
    BigInt(data),
  );
  if (r === -1) throw new SyscallError(what, errno(), { path: `pid ${pid}` });
}

/** PTRACE_SEIZE without options: the process keeps running; signals now stop it for us. */
export function ptraceSeize(pid: number): void {
  call(PTRACE_SEIZE, pid, 0, "ptrace(PTRACE_SEIZE)");
}

/** PTRACE_CONT: resumes a stopped tracee, delivering `signal` (0: none). ESRCH when it is gone. */
export function ptraceCont(pid: number, signal: number): void {
  call(PTRACE_CONT, pid, signal, "ptrace(PTRACE_CONT)");
}
