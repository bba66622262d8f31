/**
 * Taking a copy of another process's file descriptor: pidfd_open(2) + pidfd_getfd(2).
 *
 * A detached interactive container keeps its own copy of the engine's end of its stdin pipe or
 * pty master (src/runtime/kept_fd.ts); a daemon restarted after a crash takes that end back from
 * the container with these calls. Reopening `/proc/<pid>/fd/<n>` would not do for a pty master
 * (it would open a new pty); pidfd_getfd returns the very same open file. Needs Linux ≥ 5.6 and
 * ptrace access to the target (root). Through raw `syscall(2)`.
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";
import { syscallNumbers } from "./arch.ts";

const symbols = {
  /** long syscall(long nr, long a, long b, long c);  pidfd_open(pid, flags) / pidfd_getfd */
  syscall3: { name: "syscall", parameters: ["i64", "i64", "i64", "i64"], result: "i32" },
  /** int close(int fd);  close(2) */
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function lib(): Deno.DynamicLibrary<typeof symbols>["symbols"] {
  return libc("pidfd", symbols);
}

/**
 * A new fd (close-on-exec, as pidfd_getfd always makes it) for process `pid`'s fd `targetFd`.
 * Throws SyscallError: ESRCH (gone), EBADF (no such fd), EPERM (no ptrace access).
 */
export function takeFdOf(pid: number, targetFd: number): number {
  const n = syscallNumbers();
  const pidfd = Number(lib().syscall3(BigInt(n.pidfd_open), BigInt(pid), 0n, 0n));
  if (pidfd === -1) throw new SyscallError("pidfd_open", errno(), { path: `pid ${pid}` });
  try {
    const fd = Number(
      lib().syscall3(BigInt(n.pidfd_getfd), BigInt(pidfd), BigInt(targetFd), 0n),
    );
    if (fd === -1) {
      throw new SyscallError("pidfd_getfd", errno(), { path: `pid ${pid} fd ${targetFd}` });
    }
    return fd;
  } finally {
    lib().close(pidfd);
  }
}
