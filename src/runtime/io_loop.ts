/**
 * One I/O loop per process: a single `nonblocking` FFI `epoll_wait` in flight wakes on the
 * readiness of any registered fd; reads and writes then happen synchronously on the main thread
 * on O_NONBLOCK fds.
 *
 * Why: Deno cannot wrap a raw fd in a stream, and its blocking pool has 32 threads shared with
 * async fs ops. One parked read per container stream would exhaust it at a handful of
 * containers; one epoll wait costs one pool thread for all of them.
 *
 * Interest is one-shot (EPOLLONESHOT): a waiter arms its fd, the wake disarms it. The wait is only
 * in flight while something is armed, so the loop never keeps the process alive on its own: a
 * stream nobody reads, or a closed one, holds nothing. When the armed set empties while a wait is
 * in flight (a waiter was cancelled), an eventfd kicks the wait so it returns at once.
 *
 * @module
 */
import {
  close,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  epollCreate,
  epollCtl,
  EPOLLERR,
  EpollEvents,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  epollWaitAsync,
  eventfd,
  read,
  write,
} from "../../ffi/io.ts";
import { InvalidStateError } from "../errors.ts";

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  promise: Promise<void>;
}

interface Entry {
  fd: number;
  token: bigint;
  registered: boolean;
  armed: boolean;
  read?: Waiter;
  write?: Waiter;
}

function waiter(): Waiter {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { resolve, reject, promise };
}

/** Rejection reason of a wait whose fd was forgotten (stream cancelled or fd closed). */
export class IoCancelledError extends Error {
  /** Names the fd whose wait was cancelled. */
  constructor(fd: number) {
    super(`I/O on fd ${fd} was cancelled`);
    this.name = "IoCancelledError";
  }
}

const KICK_TOKEN = 0n;
const READ_EVENTS = EPOLLIN | EPOLLHUP | EPOLLERR;
const WRITE_EVENTS = EPOLLOUT | EPOLLHUP | EPOLLERR;

/** Counters for benchmarks and tests. */
export interface IoLoopStats {
  /** epoll_wait calls issued. */
  waits: number;
  /** Events dispatched. */
  events: number;
  /** fds currently known to the loop. */
  fds: number;
  /** fds currently armed. */
  armed: number;
  /** Whether an epoll_wait is in flight. */
  inFlight: boolean;
}

/** A readiness loop over nonblocking fds. Use {@link ioLoop} for the process-wide instance. */
export class IoLoop {
  #epfd = -1;
  #kickFd = -1;
  #events = new EpollEvents(128);
  #entries = new Map<number, Entry>();
  #byToken = new Map<bigint, Entry>();
  #nextToken = 1n;
  #armed = 0;
  #inFlight = false;
  #closed = false;
  #waits = 0;
  #dispatched = 0;

  #ensureOpen(): void {
    if (this.#closed) throw new InvalidStateError("Cannot use the I/O loop: it is closed");
    if (this.#epfd >= 0) return;
    const epfd = epollCreate();
    try {
      this.#kickFd = eventfd();
      epollCtl(epfd, EPOLL_CTL_ADD, this.#kickFd, EPOLLIN, KICK_TOKEN);
    } catch (err) {
      if (this.#kickFd >= 0) close(this.#kickFd);
      close(epfd);
      throw err;
    }
    this.#epfd = epfd;
  }

  /** Resolves when `fd` is readable, at end of file, or in error. */
  waitReadable(fd: number): Promise<void> {
    return this.#wait(fd, "read");
  }

  /** Resolves when `fd` is writable or in error (a write then reports the error). */
  waitWritable(fd: number): Promise<void> {
    return this.#wait(fd, "write");
  }

  #wait(fd: number, kind: "read" | "write"): Promise<void> {
    this.#ensureOpen();
    let entry = this.#entries.get(fd);
    if (!entry) {
      entry = { fd, token: this.#nextToken++, registered: false, armed: false };
      this.#entries.set(fd, entry);
      this.#byToken.set(entry.token, entry);
    }
    const existing = entry[kind];
    if (existing) return existing.promise;
    const w = waiter();
    entry[kind] = w;
    try {
      this.#arm(entry);
    } catch (err) {
      entry[kind] = undefined;
      throw err;
    }
    this.#pump();
    return w.promise;
  }

  #arm(entry: Entry): void {
    const mask = (entry.read ? EPOLLIN : 0) | (entry.write ? EPOLLOUT : 0);
    if (mask === 0) return;
    epollCtl(
      this.#epfd,
      entry.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
      entry.fd,
      mask | EPOLLONESHOT,
      entry.token,
    );
    entry.registered = true;
    if (!entry.armed) {
      entry.armed = true;
      this.#armed++;
    }
  }

  #pump(): void {
    if (this.#inFlight || this.#armed === 0 || this.#closed) return;
    this.#inFlight = true;
    this.#waits++;
    epollWaitAsync(this.#epfd, this.#events, -1).then(
      (n) => {
        this.#inFlight = false;
        // -1: errno is lost on the pool thread; the only expected failure is EINTR, so retry.
        if (n > 0) this.#dispatch(n);
        if (this.#closed) this.#release();
        else this.#pump();
      },
      (err) => {
        this.#inFlight = false;
        this.#failAll(err);
      },
    );
  }

  #dispatch(n: number): void {
    this.#dispatched += n;
    for (let i = 0; i < n; i++) {
      const token = this.#events.data(i);
      const bits = this.#events.events(i);
      if (token === KICK_TOKEN) {
        read(this.#kickFd, new Uint8Array(8));
        continue;
      }
      const entry = this.#byToken.get(token);
      if (!entry) continue; // forgotten while the wait was in flight
      if (entry.armed) {
        entry.armed = false;
        this.#armed--;
      }
      const r = entry.read;
      const w = entry.write;
      if (r && bits & READ_EVENTS) {
        entry.read = undefined;
        r.resolve();
      }
      if (w && bits & WRITE_EVENTS) {
        entry.write = undefined;
        w.resolve();
      }
      // One-shot disarmed the whole fd: re-arm for a waiter that did not fire.
      if (entry.read || entry.write) this.#arm(entry);
    }
  }

  #failAll(err: unknown): void {
    for (const entry of this.#entries.values()) {
      entry.read?.reject(err);
      entry.write?.reject(err);
      entry.read = entry.write = undefined;
      entry.armed = false;
    }
    this.#armed = 0;
  }

  #kick(): void {
    if (this.#kickFd < 0) return;
    const one = new Uint8Array(8);
    one[0] = 1;
    write(this.#kickFd, one);
  }

  /**
   * Drops `fd` from the loop (call it before closing the fd). Pending waits on it reject with
   * {@link IoCancelledError}.
   */
  forget(fd: number): void {
    const entry = this.#entries.get(fd);
    if (!entry) return;
    this.#entries.delete(fd);
    this.#byToken.delete(entry.token);
    if (entry.registered && this.#epfd >= 0) {
      try {
        epollCtl(this.#epfd, EPOLL_CTL_DEL, fd, 0, 0n);
      } catch {
        // The fd may already be closed, which removed it from the epoll set.
      }
    }
    if (entry.armed) this.#armed--;
    const cancelled = new IoCancelledError(fd);
    entry.read?.reject(cancelled);
    entry.write?.reject(cancelled);
    // Nothing left to wait for: let the in-flight wait return so the process may exit.
    if (this.#armed === 0 && this.#inFlight) this.#kick();
  }

  /** Forgets `fd`, then closes it. */
  closeFd(fd: number): void {
    this.forget(fd);
    close(fd);
  }

  /** Counters (for benches and tests). */
  stats(): IoLoopStats {
    return {
      waits: this.#waits,
      events: this.#dispatched,
      fds: this.#entries.size,
      armed: this.#armed,
      inFlight: this.#inFlight,
    };
  }

  /** Cancels every wait and releases the epoll fd and eventfd. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fd of [...this.#entries.keys()]) this.forget(fd);
    if (this.#inFlight) this.#kick(); // the completion handler releases the fds
    else this.#release();
  }

  #release(): void {
    if (this.#epfd >= 0) close(this.#epfd);
    if (this.#kickFd >= 0) close(this.#kickFd);
    this.#epfd = this.#kickFd = -1;
  }
}

let shared: IoLoop | undefined;

/** The process-wide I/O loop (created on first use). */
export function ioLoop(): IoLoop {
  shared ??= new IoLoop();
  return shared;
}

/**
 * An fd shared by several owners (a pty master read by the output stream and written by the
 * input stream): closed through the loop when the last owner releases it.
 */
export class SharedFd {
  /** The raw fd; -1 once closed. */
  fd: number;
  #refs = 1;
  readonly #loop: IoLoop;

  /** Takes ownership of `fd` (one reference). */
  constructor(fd: number, loop: IoLoop = ioLoop()) {
    this.fd = fd;
    this.#loop = loop;
  }

  /** Adds an owner. */
  retain(): this {
    if (this.#refs === 0) throw new InvalidStateError(`Cannot reuse fd ${this.fd}: it is closed`);
    this.#refs++;
    return this;
  }

  /** Drops an owner; the last one closes the fd. */
  release(): void {
    if (this.#refs === 0) return;
    if (--this.#refs === 0) {
      this.#loop.closeFd(this.fd);
      this.fd = -1;
    }
  }

  /** Whether the fd is still open. */
  get open(): boolean {
    return this.#refs > 0;
  }
}
