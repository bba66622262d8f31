/**
 * Syscall numbers and constants that differ per architecture, in one table keyed by
 * `Deno.build.arch`. glibc wrappers for credentials broadcast to every thread, so per-thread
 * credential changes use raw `syscall(2)` with these numbers.
 *
 * @module
 */

/** Raw syscall numbers used by docker-ts. */
export interface SyscallNumbers {
  setresuid: number;
  setresgid: number;
  setgroups: number;
  pivot_root: number;
  capget: number;
  capset: number;
  seccomp: number;
  openat2: number;
  pidfd_open: number;
  pidfd_send_signal: number;
  getpid: number;
  gettid: number;
  rt_sigaction: number;
  ptrace: number;
  pidfd_getfd: number;
  mount_setattr: number;
  move_mount: number;
  fsopen: number;
  fsconfig: number;
  fsmount: number;
}

const TABLES: Record<string, SyscallNumbers> = {
  x86_64: {
    setresuid: 117,
    setresgid: 119,
    setgroups: 116,
    pivot_root: 155,
    capget: 125,
    capset: 126,
    seccomp: 317,
    openat2: 437,
    pidfd_open: 434,
    pidfd_send_signal: 424,
    getpid: 39,
    gettid: 186,
    rt_sigaction: 13,
    ptrace: 101,
    pidfd_getfd: 438,
    mount_setattr: 442,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
  },
  aarch64: {
    setresuid: 147,
    setresgid: 149,
    setgroups: 159,
    pivot_root: 41,
    capget: 90,
    capset: 91,
    seccomp: 277,
    openat2: 437,
    pidfd_open: 434,
    pidfd_send_signal: 424,
    getpid: 172,
    gettid: 178,
    rt_sigaction: 134,
    ptrace: 117,
    pidfd_getfd: 438,
    mount_setattr: 442,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
  },
};

/** The syscall table of the running architecture. */
export function syscallNumbers(arch: string = Deno.build.arch): SyscallNumbers {
  const table = TABLES[arch];
  if (!table) throw new Error(`Unsupported architecture "${arch}"`);
  return table;
}
