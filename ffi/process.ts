/**
 * Process-level calls used by the launch path and the container's init: the few fd primitives it
 * needs (open/close/read/write/pipe2/fcntl/close_range/mkfifo), prctl, capget/capset, raw
 * per-thread credential syscalls, rlimits, hostname, chdir/chroot/pivot_root, umask, signal
 * dispositions and execve.
 *
 * Credentials go through raw `syscall(2)`: glibc's setresuid & co. broadcast to every thread of
 * the process (DENO-FACTS 6), which is wrong on a Worker and pointless in the init.
 *
 * @module
 */
import { libc } from "./library.ts";
import { ENGINE_PROCESS_SYMBOLS, PROCESS_SYMBOLS } from "./launch_symbols.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";
import { cstr, CStringArray } from "./cstring.ts";
import { syscallNumbers } from "./arch.ts";

/** open(2) flags used here (asm-generic values, shared by x86_64 and aarch64 except O_DIRECTORY). */
export const O_RDONLY = 0;
/** Write only. */
export const O_WRONLY = 1;
/** Read and write. */
export const O_RDWR = 2;
/** Create when missing. */
export const O_CREAT = 0o100;
/** With O_CREAT: fail when it exists. */
export const O_EXCL = 0o200;
/** Do not make a tty the controlling terminal. */
export const O_NOCTTY = 0o400;
/** Truncate on open. */
export const O_TRUNC = 0o1000;
/** Append. */
export const O_APPEND = 0o2000;
/** Non-blocking I/O. */
export const O_NONBLOCK = 0o4000;
/** Close on exec. */
export const O_CLOEXEC = 0o2000000;
/** A path-only descriptor. */
export const O_PATH = 0o10000000;
/** Fail unless a directory (x86_64 value; aarch64 differs). */
export const O_DIRECTORY = Deno.build.arch === "aarch64" ? 0o40000 : 0o200000;
/** Do not follow a final symlink (x86_64 value; aarch64 differs). */
export const O_NOFOLLOW = Deno.build.arch === "aarch64" ? 0o100000 : 0o400000;

/** prctl(2) options. */
export const PR_SET_PDEATHSIG = 1;
/** Keep permitted caps across a uid change away from 0. */
export const PR_SET_KEEPCAPS = 8;
/** Drop a capability from the bounding set. */
export const PR_CAPBSET_DROP = 24;
/** Set securebits. */
export const PR_SET_SECUREBITS = 28;
/** Set no_new_privs (inherited, irreversible). */
export const PR_SET_NO_NEW_PRIVS = 38;
/** Ambient capability operations. */
export const PR_CAP_AMBIENT = 47;
/** PR_CAP_AMBIENT sub-op: raise one capability. */
export const PR_CAP_AMBIENT_RAISE = 2;
/** PR_CAP_AMBIENT sub-op: clear all. */
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const F_DUPFD_CLOEXEC = 1030;
const CLOSE_RANGE_CLOEXEC = 4;

function lib(): Deno.DynamicLibrary<typeof PROCESS_SYMBOLS>["symbols"] {
  return libc("process", PROCESS_SYMBOLS);
}

const asyncSymbols = {
  /** read(2) on a pool thread, for waiting on a pipe without blocking the event loop. */
  read: { parameters: ["i32", "buffer", "usize"], result: "i32", nonblocking: true },
} as const satisfies Deno.ForeignLibraryInterface;

function engineLib(): Deno.DynamicLibrary<typeof ENGINE_PROCESS_SYMBOLS>["symbols"] {
  return libc("process-engine", ENGINE_PROCESS_SYMBOLS);
}

/** Loads the process symbols now (a warm launch Worker pays the dlopen before it is needed). */
export function preloadProcess(): void {
  lib();
}

// ---------------------------------------------------------------------------------------------
// File descriptors

/** open(2); always add O_CLOEXEC unless the fd must survive an exec. */
export function openFd(path: string, flags: number, mode = 0): number {
  const fd = lib().open(cstr(path), flags, mode);
  if (fd === -1) throw new SyscallError("open", errno(), { path });
  return fd;
}

/** close(2), ignoring EBADF-free errors (EINTR on Linux still closes). */
export function closeFd(fd: number): void {
  lib().close(fd);
}

/** read(2) into `buf`; returns the byte count (0 at EOF). Retries EINTR. */
export function readFd(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  for (;;) {
    const n = Number(lib().read(fd, buf, BigInt(buf.length)));
    if (n >= 0) return n;
    const e = errno();
    if (e !== 4) throw new SyscallError("read", e, { path: `fd ${fd}` });
  }
}

/**
 * Blocks until `fd` is readable, or until `watchFd` reports an error or hang-up (poll(2) with no
 * requested events: for the write end of a pipe, POLLERR means its last reader is gone).
 * Returns true when `fd` is readable, false when `watchFd` failed first. Retries EINTR.
 */
export function waitReadableUnless(fd: number, watchFd: number): boolean {
  // struct pollfd { int fd; short events; short revents; } × 2
  const buf = new Uint8Array(16);
  const view = new DataView(buf.buffer);
  view.setInt32(0, fd, true);
  view.setInt16(4, POLLIN, true);
  view.setInt32(8, watchFd, true);
  view.setInt16(12, 0, true);
  for (;;) {
    const n = lib().poll(buf, 2n, -1);
    if (n === -1) {
      const e = errno();
      if (e === 4) continue;
      throw new SyscallError("poll", e, { path: `fd ${fd}` });
    }
    const readable = view.getInt16(6, true) & (POLLIN | POLLHUP);
    if (readable) return true;
    if (view.getInt16(14, true) & (POLLERR | POLLHUP | POLLNVAL)) return false;
  }
}

const POLLIN = 0x1;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;

/**
 * read(2) on a blocking pool thread, so the caller's event loop keeps running. errno is lost on
 * that path (DENO-FACTS 9): a failure is reported as -1. Keep such reads short-lived: the pool
 * has 32 threads per runtime.
 */
export async function readFdAsync(fd: number, buf: Uint8Array<ArrayBuffer>): Promise<number> {
  const n = await libc("process-async", asyncSymbols).read(fd, buf, BigInt(buf.length));
  return Number(n);
}

/** write(2) of the whole buffer. Retries EINTR and short writes. */
export function writeFd(fd: number, data: Uint8Array<ArrayBuffer>): void {
  let off = 0;
  while (off < data.length) {
    const chunk = off === 0 ? data : data.subarray(off);
    const n = Number(lib().write(fd, chunk, BigInt(chunk.length)));
    if (n === -1) {
      const e = errno();
      if (e === 4) continue;
      throw new SyscallError("write", e, { path: `fd ${fd}` });
    }
    off += n;
  }
}

/** pipe2(2) with O_CLOEXEC; returns `[readEnd, writeEnd]`. */
export function pipe(flags = O_CLOEXEC): [number, number] {
  const fds = new Int32Array(2);
  if (engineLib().pipe2(new Uint8Array(fds.buffer), flags) === -1) {
    throw new SyscallError("pipe2", errno());
  }
  return [fds[0], fds[1]];
}

/** fcntl(F_DUPFD_CLOEXEC): a close-on-exec duplicate numbered at least `min`. */
export function dupCloexec(fd: number, min: number): number {
  const r = lib().fcntl(fd, F_DUPFD_CLOEXEC, min);
  if (r === -1) {
    throw new SyscallError("fcntl", errno(), { action: "Cannot duplicate fd", path: `${fd}` });
  }
  return r;
}

/** Sets or clears FD_CLOEXEC on `fd`. */
export function setCloexec(fd: number, on: boolean): void {
  const flags = lib().fcntl(fd, F_GETFD, 0);
  if (flags === -1) throw new SyscallError("fcntl", errno(), { path: `fd ${fd}` });
  const next = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
  if (lib().fcntl(fd, F_SETFD, next) === -1) {
    throw new SyscallError("fcntl", errno(), { path: `fd ${fd}` });
  }
}

/** Marks every fd from `first` up close-on-exec (close_range(2) with CLOSE_RANGE_CLOEXEC). */
export function cloexecFrom(first: number): void {
  if (lib().close_range(first, 0xffffffff, CLOSE_RANGE_CLOEXEC) === -1) {
    throw new SyscallError("close_range", errno());
  }
}

/** memfd_create(2) with MFD_CLOEXEC: an anonymous in-memory file. */
export function memfd(name: string): number {
  const fd = engineLib().memfd_create(cstr(name), 1 /* MFD_CLOEXEC */);
  if (fd === -1) throw new SyscallError("memfd_create", errno(), { path: name });
  return fd;
}

/** mkfifo(3). */
export function mkfifo(path: string, mode: number): void {
  if (engineLib().mkfifo(cstr(path), mode) === -1) {
    throw new SyscallError("mkfifo", errno(), { path });
  }
}

// ---------------------------------------------------------------------------------------------
// prctl and capabilities

/** prctl(2); returns the call's result. */
export function prctl(op: number, a = 0, b = 0, c = 0, d = 0, what?: string): number {
  const r = lib().prctl(op, BigInt(a), BigInt(b), BigInt(c), BigInt(d));
  if (r === -1) {
    throw new SyscallError("prctl", errno(), { action: `Cannot prctl(${what ?? op})` });
  }
  return r;
}

/** The three per-thread capability sets, as 64-bit masks. */
export interface CapSets {
  /** Capabilities in effect. */
  effective: bigint;
  /** Capabilities the thread may make effective. */
  permitted: bigint;
  /** Capabilities preserved across execve (with file or ambient caps). */
  inheritable: bigint;
}

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

function capHeader(pid: number): Uint8Array<ArrayBuffer> {
  const h = new Uint8Array(8);
  const v = new DataView(h.buffer);
  v.setUint32(0, LINUX_CAPABILITY_VERSION_3, true);
  v.setInt32(4, pid, true);
  return h;
}

/** capget(2) of a thread (0 = the caller). */
export function capget(pid = 0): CapSets {
  const data = new Uint8Array(24);
  const r = lib().syscall_pp(BigInt(syscallNumbers().capget), capHeader(pid), data);
  if (Number(r) === -1) throw new SyscallError("capget", errno());
  const v = new DataView(data.buffer);
  const word = (off: number) =>
    BigInt(v.getUint32(off, true)) | (BigInt(v.getUint32(off + 12, true)) << 32n);
  return { effective: word(0), permitted: word(4), inheritable: word(8) };
}

/** capset(2) on the calling thread. */
export function capset(sets: CapSets): void {
  const data = new Uint8Array(24);
  const v = new DataView(data.buffer);
  const put = (off: number, mask: bigint) => {
    v.setUint32(off, Number(mask & 0xffffffffn), true);
    v.setUint32(off + 12, Number((mask >> 32n) & 0xffffffffn), true);
  };
  put(0, sets.effective);
  put(4, sets.permitted);
  put(8, sets.inheritable);
  const r = lib().syscall_pp(BigInt(syscallNumbers().capset), capHeader(0), data);
  if (Number(r) === -1) {
    throw new SyscallError("capset", errno(), { action: "Cannot set capabilities" });
  }
}

// ---------------------------------------------------------------------------------------------
// Credentials (raw, per thread)

/** Raw setresuid(2) on the calling thread only; -1 leaves a value unchanged. */
export function setresuid(ruid: number, euid: number, suid: number): void {
  const r = lib().syscall_iii(
    BigInt(syscallNumbers().setresuid),
    BigInt(ruid),
    BigInt(euid),
    BigInt(suid),
  );
  if (Number(r) === -1) {
    throw new SyscallError("setresuid", errno(), { action: `Cannot set uid to ${euid}` });
  }
}

/** Raw setresgid(2) on the calling thread only. */
export function setresgid(rgid: number, egid: number, sgid: number): void {
  const r = lib().syscall_iii(
    BigInt(syscallNumbers().setresgid),
    BigInt(rgid),
    BigInt(egid),
    BigInt(sgid),
  );
  if (Number(r) === -1) {
    throw new SyscallError("setresgid", errno(), { action: `Cannot set gid to ${egid}` });
  }
}

/** Raw setgroups(2) on the calling thread only. */
export function setgroups(gids: readonly number[]): void {
  const list = new Uint32Array(Math.max(gids.length, 1));
  gids.forEach((g, i) => list[i] = g);
  const r = lib().syscall_ip(
    BigInt(syscallNumbers().setgroups),
    BigInt(gids.length),
    new Uint8Array(list.buffer),
  );
  if (Number(r) === -1) {
    throw new SyscallError("setgroups", errno(), {
      action: `Cannot set supplementary groups [${gids.join(",")}]`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Resources, hostname, filesystem root, exec

/** Linux RLIMIT_* numbers by name. */
export const RLIMITS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** RLIM_INFINITY as a 64-bit value. */
export const RLIM_INFINITY = 0xffffffffffffffffn;

/** A soft/hard limit pair. */
export interface Rlimit {
  /** The limit enforced. */
  soft: bigint;
  /** The ceiling for the soft limit. */
  hard: bigint;
}

function packRlimit(l: Rlimit): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, l.soft, true);
  v.setBigUint64(8, l.hard, true);
  return b;
}

/** getrlimit via prlimit(2) on process `pid` (0 = self). */
export function getRlimit(resource: number, pid = 0): Rlimit {
  const old = new Uint8Array(16);
  if (lib().prlimit(pid, resource, null, old) === -1) throw new SyscallError("prlimit", errno());
  const v = new DataView(old.buffer);
  return { soft: v.getBigUint64(0, true), hard: v.getBigUint64(8, true) };
}

/** setrlimit via prlimit(2) on process `pid` (0 = self). */
export function setRlimit(resource: number, limit: Rlimit, pid = 0, name?: string): void {
  if (lib().prlimit(pid, resource, packRlimit(limit), null) === -1) {
    throw new SyscallError("prlimit", errno(), {
      action: `Cannot set ${name ?? `rlimit ${resource}`} to soft ${limit.soft} hard ${limit.hard}`,
    });
  }
}

/** sethostname(2) (the caller's UTS namespace). */
export function sethostname(name: string): void {
  const b = new TextEncoder().encode(name);
  if (lib().sethostname(b, BigInt(b.length)) === -1) {
    throw new SyscallError("sethostname", errno(), { action: "Cannot set hostname", path: name });
  }
}

/** chdir(2). */
export function chdir(path: string): void {
  if (lib().chdir(cstr(path)) === -1) {
    throw new SyscallError("chdir", errno(), { action: "Cannot change directory to", path });
  }
}

/** fchdir(2). */
export function fchdir(fd: number): void {
  if (lib().fchdir(fd) === -1) throw new SyscallError("fchdir", errno(), { path: `fd ${fd}` });
}

/** chroot(2). */
export function chroot(path: string): void {
  if (engineLib().chroot(cstr(path)) === -1) throw new SyscallError("chroot", errno(), { path });
}

/** pivot_root(2) through syscall(2) (glibc has no wrapper). */
export function pivotRoot(newRoot: string, putOld: string): void {
  const r = lib().syscall_pp(BigInt(syscallNumbers().pivot_root), cstr(newRoot), cstr(putOld));
  if (Number(r) === -1) {
    throw new SyscallError("pivot_root", errno(), {
      action: "Cannot pivot_root to",
      path: newRoot,
    });
  }
}

/** umask(2); returns the previous mask. */
export function umask(mask: number): number {
  return lib().umask(mask);
}

/**
 * Resets every catchable signal to SIG_DFL and unblocks all signals, so the exec'd program does
 * not inherit the init's dispositions (Deno ignores SIGPIPE, and SIG_IGN survives execve).
 */
export function resetSignals(): void {
  const l = lib();
  for (let sig = 1; sig < 65; sig++) {
    if (sig === 9 || sig === 19 || sig === 32 || sig === 33) continue;
    l.signal(sig, null);
  }
  // glibc's signal() refuses 32 and 33 (its internal SIGCANCEL/SIGSETXID), yet a disposition the
  // runtime set on them would survive execve: reset them with the raw syscall. struct
  // kernel_sigaction is { handler, flags, restorer, mask } = 32 bytes; all zero is SIG_DFL.
  const dfl = new Uint8Array(32);
  for (const sig of [32, 33]) {
    l.syscall_ipii(BigInt(syscallNumbers().rt_sigaction), BigInt(sig), dfl, 0n, 8n);
  }
  const empty = new Uint8Array(128);
  l.sigprocmask(2, /* SIG_SETMASK */ empty, null);
}

/**
 * execve(2). Returns only on failure, by throwing a SyscallError whose errno tells why
 * (ENOENT, EACCES, ENOEXEC, …).
 */
export function execve(path: string, argv: readonly string[], envp: readonly string[]): never {
  const a = new CStringArray(argv);
  const e = new CStringArray(envp);
  const p = cstr(path);
  lib().execve(p, a.pointer, e.pointer);
  const code = errno();
  // Keep the arrays alive until after the call.
  void a.array;
  void e.array;
  throw new SyscallError("execve", code, { action: "Cannot exec", path });
}
