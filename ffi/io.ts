/**
 * File-descriptor I/O: pipes, nonblocking read/write, fcntl, epoll and eventfd.
 *
 * Deno cannot wrap a raw fd in a stream, so the runtime's I/O loop (src/runtime/io_loop.ts)
 * drives these directly. Every fd created here is O_CLOEXEC so it never leaks into a child unless
 * the launcher dup2s it onto 0/1/2 on purpose.
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { cstr } from "./cstring.ts";
import { SyscallError } from "./syscall_error.ts";

const ioSymbols = {
  /** int pipe2(int pipefd[2], int flags); pipe(2) */
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  /** int open(const char *path, int flags, mode_t mode); open(2) */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t count); read(2) */
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t count); write(2) */
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** int close(int fd); close(2) */
  close: { parameters: ["i32"], result: "i32" },
  /** The same close(2) on a blocking-pool thread: the last close of a namespace fd can block. */
  close_async: { name: "close", parameters: ["i32"], result: "i32", nonblocking: true },
  /** int fcntl(int fd, int cmd, int arg); fcntl(2) — only int-argument commands are used */
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int dup3(int oldfd, int newfd, int flags); dup(2) */
  dup3: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int epoll_create1(int flags); epoll_create(2) */
  epoll_create1: { parameters: ["i32"], result: "i32" },
  /** int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event); epoll_ctl(2) */
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout); sync */
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  /**
   * The same epoll_wait(2), run on a blocking-pool thread so the main thread stays free.
   * errno is lost on that thread: a -1 result is treated as EINTR by callers.
   */
  epoll_wait_async: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  /** int eventfd(unsigned int initval, int flags); eventfd(2) */
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  /** int socketpair(int domain, int type, int protocol, int sv[2]); socketpair(2) */
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function sym(): Deno.DynamicLibrary<typeof ioSymbols>["symbols"] {
  return libc("io", ioSymbols);
}

/** open(2) and fcntl(2) flags (asm-generic values, shared by x86_64 and aarch64). */
export const O_RDONLY = 0;
/** Open for writing only. */
export const O_WRONLY = 1;
/** Open for reading and writing. */
export const O_RDWR = 2;
/** Do not make the opened terminal the controlling terminal. */
export const O_NOCTTY = 0o400;
/** Nonblocking I/O. */
export const O_NONBLOCK = 0o4000;
/** Close on exec. */
export const O_CLOEXEC = 0o2000000;
/** fcntl: get file status flags. */
export const F_GETFL = 3;
/** fcntl: set file status flags. */
export const F_SETFL = 4;
/** fcntl: get fd flags. */
export const F_GETFD = 1;
/** fcntl: set fd flags. */
export const F_SETFD = 2;
/** The close-on-exec fd flag. */
export const FD_CLOEXEC = 1;
/** fcntl: set the pipe buffer size (Linux). */
export const F_SETPIPE_SZ = 1031;
/** fcntl: get the pipe buffer size (Linux). */
export const F_GETPIPE_SZ = 1032;

/** epoll event bits. */
export const EPOLLIN = 0x001;
/** Writable. */
export const EPOLLOUT = 0x004;
/** Error condition (always reported). */
export const EPOLLERR = 0x008;
/** Hang-up (always reported). */
export const EPOLLHUP = 0x010;
/** Peer closed its writing end (stream sockets). */
export const EPOLLRDHUP = 0x2000;
/** Disarm after one event until re-armed with EPOLL_CTL_MOD. */
export const EPOLLONESHOT = 1 << 30;
/** epoll_ctl operations. */
export const EPOLL_CTL_ADD = 1;
/** Remove an fd. */
export const EPOLL_CTL_DEL = 2;
/** Change an fd's interest. */
export const EPOLL_CTL_MOD = 3;

const EINTR = 4;
const EAGAIN = 11;

/**
 * `struct epoll_event` layout: packed (12 bytes) on x86_64, naturally aligned (16 bytes) elsewhere.
 */
export const EPOLL_EVENT_SIZE: number = Deno.build.arch === "x86_64" ? 12 : 16;
const EPOLL_DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;

/** Creates a pipe; both ends O_CLOEXEC plus `flags`. Returns `[readEnd, writeEnd]`. */
export function pipe2(flags = 0): [number, number] {
  const fds = new Int32Array(2);
  if (sym().pipe2(new Uint8Array(fds.buffer), flags | O_CLOEXEC) === -1) {
    throw new SyscallError("pipe2", errno());
  }
  return [fds[0], fds[1]];
}

/** open(2) with O_CLOEXEC always added. */
export function open(path: string, flags: number, mode = 0o644): number {
  const fd = sym().open(cstr(path), flags | O_CLOEXEC, mode);
  if (fd === -1) throw new SyscallError("open", errno(), { path });
  return fd;
}

/**
 * read(2) into `buf`, retrying EINTR. Returns the byte count (0 at end of file), or `null` when
 * the fd is nonblocking and has no data (EAGAIN).
 */
export function read(fd: number, buf: Uint8Array): number | null {
  for (;;) {
    const n = Number(sym().read(fd, buf, BigInt(buf.byteLength)));
    if (n >= 0) return n;
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) return null;
    throw new SyscallError("read", e, { path: `fd ${fd}` });
  }
}

/**
 * write(2) from `buf`, retrying EINTR. Returns the byte count written (possibly partial), or
 * `null` when the fd is nonblocking and full (EAGAIN).
 */
export function write(fd: number, buf: Uint8Array): number | null {
  for (;;) {
    const n = Number(sym().write(fd, buf, BigInt(buf.byteLength)));
    if (n >= 0) return n;
    const e = errno();
    if (e === EINTR) continue;
    if (e === EAGAIN) return null;
    throw new SyscallError("write", e, { path: `fd ${fd}` });
  }
}

/** close(2). EINTR is not retried: on Linux the fd is released even then. */
export function close(fd: number): void {
  if (sym().close(fd) === -1) {
    const e = errno();
    if (e !== EINTR) throw new SyscallError("close", e, { path: `fd ${fd}` });
  }
}

/** fcntl(2) with an int argument; returns the call's result. */
export function fcntl(fd: number, cmd: number, arg = 0): number {
  const r = sym().fcntl(fd, cmd, arg);
  if (r === -1) throw new SyscallError("fcntl", errno(), { path: `fd ${fd}` });
  return r;
}

/** Sets or clears O_NONBLOCK on the fd's open file description. */
export function setNonblocking(fd: number, on = true): void {
  const flags = fcntl(fd, F_GETFL);
  const next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (next !== flags) fcntl(fd, F_SETFL, next);
}

/** Duplicates `fd` to the lowest free fd, O_CLOEXEC. */
export function dup(fd: number): number {
  // F_DUPFD_CLOEXEC (1030) with a minimum of 3 keeps 0/1/2 free for stdio.
  const r = sym().fcntl(fd, 1030, 3);
  if (r === -1) throw new SyscallError("dup", errno(), { path: `fd ${fd}` });
  return r;
}

/**
 * close(2) on a pool thread. Closing the last reference to a namespace tears it down in the
 * caller (a mount namespace waits for an RCU grace period, several ms): this keeps that off the
 * event loop. Errors are ignored (errno is lost on pool threads).
 */
export async function closeAsync(fd: number): Promise<void> {
  await sym().close_async(fd);
}

/** dup3(2): makes `newfd` a copy of `oldfd` (flags may be O_CLOEXEC). */
export function dup3(oldfd: number, newfd: number, flags = 0): number {
  const r = sym().dup3(oldfd, newfd, flags);
  if (r === -1) throw new SyscallError("dup3", errno(), { path: `fd ${oldfd}` });
  return r;
}

/** epoll_create1(2), O_CLOEXEC. */
export function epollCreate(): number {
  const fd = sym().epoll_create1(O_CLOEXEC);
  if (fd === -1) throw new SyscallError("epoll_create1", errno());
  return fd;
}

/** epoll_ctl(2): `data` is a 64-bit token returned with the fd's events. */
export function epollCtl(
  epfd: number,
  op: number,
  fd: number,
  events: number,
  data: bigint,
): void {
  const ev = new Uint8Array(EPOLL_EVENT_SIZE);
  const view = new DataView(ev.buffer);
  view.setUint32(0, events >>> 0, true);
  view.setBigUint64(EPOLL_DATA_OFFSET, data, true);
  if (sym().epoll_ctl(epfd, op, fd, ev) === -1) {
    throw new SyscallError("epoll_ctl", errno(), { path: `fd ${fd}` });
  }
}

/** A reusable buffer of `struct epoll_event` for {@link epollWait} / {@link epollWaitAsync}. */
export class EpollEvents {
  /** Raw storage handed to the kernel. */
  readonly buffer: Uint8Array<ArrayBuffer>;
  /** Capacity in events. */
  readonly capacity: number;
  readonly #view: DataView;

  /** Room for `capacity` events. */
  constructor(capacity: number) {
    this.capacity = capacity;
    this.buffer = new Uint8Array(capacity * EPOLL_EVENT_SIZE);
    this.#view = new DataView(this.buffer.buffer);
  }

  /** Event bits of entry `i`. */
  events(i: number): number {
    return this.#view.getUint32(i * EPOLL_EVENT_SIZE, true);
  }

  /** Data token of entry `i`. */
  data(i: number): bigint {
    return this.#view.getBigUint64(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET, true);
  }
}

/** Synchronous epoll_wait(2); returns the number of ready entries (0 on EINTR or timeout). */
export function epollWait(epfd: number, out: EpollEvents, timeoutMs: number): number {
  const n = sym().epoll_wait(epfd, out.buffer, out.capacity, timeoutMs);
  if (n === -1) {
    const e = errno();
    if (e === EINTR) return 0;
    throw new SyscallError("epoll_wait", e);
  }
  return n;
}

/**
 * epoll_wait(2) on a blocking-pool thread. `out` must not be touched until the promise settles.
 * Returns the ready count; -1 (errno unknown: lost on the pool thread) means "retry".
 */
export function epollWaitAsync(epfd: number, out: EpollEvents, timeoutMs: number): Promise<number> {
  return sym().epoll_wait_async(epfd, out.buffer, out.capacity, timeoutMs);
}

/** eventfd(2), O_CLOEXEC | O_NONBLOCK. */
export function eventfd(initval = 0): number {
  const fd = sym().eventfd(initval, O_CLOEXEC | O_NONBLOCK);
  if (fd === -1) throw new SyscallError("eventfd", errno());
  return fd;
}

/** Unix stream socketpair(2), both ends O_CLOEXEC. */
export function socketpair(): [number, number] {
  const fds = new Int32Array(2);
  // AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = O_CLOEXEC
  if (sym().socketpair(1, 1 | O_CLOEXEC, 0, new Uint8Array(fds.buffer)) === -1) {
    throw new SyscallError("socketpair", errno());
  }
  return [fds[0], fds[1]];
}
