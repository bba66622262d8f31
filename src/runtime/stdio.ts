/**
 * The container's stdio: pipes or a pty on the child's side, web streams on the engine's side.
 *
 * Every fd the engine keeps is O_CLOEXEC and O_NONBLOCK and is driven by the shared
 * {@link IoLoop}; the child's ends are plain blocking fds that the launcher dup2s onto 0/1/2
 * (dup2 clears O_CLOEXEC on the target). After the spawn, {@link StdioPlan.closeChildEnds} must
 * run: an engine still holding the write end of the child's stdout would never see EOF.
 *
 * @module
 */
import {
  close,
  F_SETPIPE_SZ,
  fcntl,
  O_RDWR,
  open,
  pipe2,
  read,
  setNonblocking,
  write,
} from "../../ffi/io.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";
import {
  detachedMount,
  MOUNT_ATTR_NODEV,
  MOUNT_ATTR_NOEXEC,
  MOUNT_ATTR_NOSUID,
  MOUNT_ATTR_RDONLY,
} from "../../ffi/mount.ts";
import { InvalidArgumentError } from "../errors.ts";
import { IoCancelledError, type IoLoop, ioLoop, SharedFd } from "./io_loop.ts";
import { Pty } from "./pty.ts";

/** Options for {@link readableFromFd}. */
export interface FdReadableOptions {
  /** Loop to wait on (default: the process-wide one). */
  loop?: IoLoop;
  /** Bytes per read (default 64 KiB: one default pipe buffer). */
  chunkSize?: number;
  /** Bytes buffered ahead of the reader before reading pauses (default 1 MiB). */
  highWaterMark?: number;
  /** Treat EIO as end of file: a pty master reads EIO once every slave fd is closed. */
  eioIsEof?: boolean;
}

/**
 * A byte stream over a nonblocking fd. The stream owns (a reference to) the fd and releases it
 * at end of file, on error, or on cancel. Reading pauses while `highWaterMark` bytes wait
 * unread, so a slow consumer throttles the child through the pipe instead of growing memory.
 */
export function readableFromFd(
  fd: number | SharedFd,
  options: FdReadableOptions = {},
): ReadableStream<Uint8Array> {
  const loop = options.loop ?? ioLoop();
  const owner = typeof fd === "number" ? new SharedFd(fd, loop) : fd;
  const raw = owner.fd;
  const scratch = new Uint8Array(options.chunkSize ?? 64 * 1024);
  const eioIsEof = options.eioIsEof ?? false;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    owner.release();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      for (;;) {
        if (done) return;
        let n: number | null;
        try {
          n = read(raw, scratch);
        } catch (err) {
          if (eioIsEof && err instanceof SyscallError && err.code === "EIO") {
            n = 0;
          } else {
            finish();
            controller.error(err);
            return;
          }
        }
        if (n === null) {
          try {
            await loop.waitReadable(raw);
          } catch (err) {
            if (err instanceof IoCancelledError) return; // cancel() already released the fd
            finish();
            controller.error(err);
            return;
          }
          continue;
        }
        if (n === 0) {
          finish();
          controller.close();
          return;
        }
        controller.enqueue(scratch.slice(0, n));
        return; // the stream calls pull again while it wants more
      }
    },
    cancel(): void {
      finish();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: options.highWaterMark ?? 1024 * 1024 }));
}

/** Options for {@link writableToFd}. */
export interface FdWritableOptions {
  /** Loop to wait on (default: the process-wide one). */
  loop?: IoLoop;
}

/**
 * A byte sink over a nonblocking fd. Each write resolves once the kernel took every byte, which
 * is the backpressure a `pipeTo` needs. Closing the stream releases the fd (for a pipe, the
 * child then reads EOF). Writing after the reader went away fails with EPIPE.
 */
export function writableToFd(
  fd: number | SharedFd,
  options: FdWritableOptions = {},
): WritableStream<Uint8Array> {
  const loop = options.loop ?? ioLoop();
  const owner = typeof fd === "number" ? new SharedFd(fd, loop) : fd;
  const raw = owner.fd;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    owner.release();
  };
  return new WritableStream<Uint8Array>({
    async write(chunk): Promise<void> {
      let off = 0;
      try {
        while (off < chunk.byteLength) {
          const n = write(raw, off === 0 ? chunk : chunk.subarray(off));
          if (n === null) await loop.waitWritable(raw);
          else off += n;
        }
      } catch (err) {
        finish();
        throw err;
      }
    },
    close(): void {
      finish();
    },
    abort(): void {
      finish();
    },
  });
}

/** Where one of the child's standard streams goes. */
export type StdioMode = "pipe" | "null" | "inherit";

/** Options for {@link createStdio}. */
export interface StdioOptions {
  /** The child's stdin: a pipe fed by the returned `stdin` stream, /dev/null, or ours. */
  stdin: StdioMode;
  /** The child's stdout (ignored with `tty`: the pty carries it). */
  stdout: StdioMode;
  /** The child's stderr (ignored with `tty`: the pty carries it, merged with stdout). */
  stderr: StdioMode;
  /** Allocate a pty of this size instead of pipes. */
  tty?: { rows: number; cols: number };
  /**
   * With a tty: the options of the spec's /dev/pts devpts mount. The pty then comes from a new
   * devpts instance the init attaches there (the slave is the container's `/dev/pts/0`, as with
   * Docker), instead of from the host's /dev/ptmx.
   */
  devpts?: readonly string[];
  /**
   * Pipe buffer size in bytes (default 256 KiB; best effort). Bigger pipes mean fewer wake-ups:
   * measured (bench/io_bench.ts) ~700 MB/s with the kernel's 64 KiB, ~1600 MB/s with 256 KiB and no
   * better with 1 MiB. The default stays
   * moderate because, without CAP_SYS_RESOURCE, pipe capacity counts against the per-user
   * `pipe-user-pages-soft` limit (64 MiB) across every container.
   */
  pipeSize?: number;
  /** Loop to drive the streams (default: the process-wide one). */
  loop?: IoLoop;
}

/** What the launcher needs to wire the child's stdio. */
export interface StdioPlan {
  /** Fds to dup2 onto the child's 0, 1 and 2. The engine's own copies are O_CLOEXEC. */
  childFds: [number, number, number];
  /**
   * With a tty: the slave the child opens as its controlling terminal (setsid first).
   * `devptsFd`: the devpts instance (mounted nowhere) the slave belongs to, which the init
   * attaches at its /dev/pts; `slavePath` is then the path inside the container, and the child
   * opens its fd 0 (the slave) through /proc/self/fd.
   */
  tty?: { slavePath: string; devptsFd?: number };
  /** Closes the engine's copies of the child's ends; call right after the spawn. Idempotent. */
  closeChildEnds(): void;
  /**
   * An fd of the engine's the container also holds, at fd 1023 (`KEPT_FD`): its stdin pipe's
   * write end or its pty master, so that they outlive the engine (see ContainerState.kept).
   */
  keep?: number;
}

/** A {@link StdioPlan} plus the engine's side of each stream. */
export interface Stdio extends StdioPlan {
  /** Feeds the child's stdin; closing it delivers EOF (pipe mode). */
  stdin?: WritableStream<Uint8Array>;
  /** The child's stdout, or the pty's output (stdout and stderr merged) with a tty. */
  stdout?: ReadableStream<Uint8Array>;
  /** The child's stderr (never with a tty). */
  stderr?: ReadableStream<Uint8Array>;
  /** The pty, with a tty: `resize(rows, cols)`. */
  pty?: Pty;
  /**
   * Releases everything not yet handed off: the child's ends, the engine's hold on the pty
   * master (call it once the container has exited: resize needs the master until then), and,
   * when `streams` is true (e.g. after a failed spawn), the streams themselves. Streams not
   * cancelled release their fds on their own at end of file or close.
   */
  close(options?: { streams?: boolean }): void;
}

/**
 * Creates the child's stdio. On any failure, every fd created so far is closed before the error
 * propagates.
 */
export function createStdio(options: StdioOptions): Stdio {
  const loop = options.loop ?? ioLoop();
  const childOnly: number[] = []; // fds only the child needs: closed after the spawn
  const cleanup: Array<() => void> = [];
  const closeChildEnds = (): void => {
    while (childOnly.length > 0) {
      const fd = childOnly.pop()!;
      try {
        close(fd);
      } catch {
        // Already closed: nothing to release.
      }
    }
  };
  try {
    for (const name of ["stdin", "stdout", "stderr"] as const) {
      const mode = options[name];
      if (mode !== "pipe" && mode !== "null" && mode !== "inherit") {
        throw new InvalidArgumentError(`Invalid stdio mode for ${name}: "${String(mode)}"`);
      }
    }
    if (options.tty) return withTty(options, loop, cleanup);

    const childFds: [number, number, number] = [0, 1, 2];
    let stdin: WritableStream<Uint8Array> | undefined;
    let stdout: ReadableStream<Uint8Array> | undefined;
    let stderr: ReadableStream<Uint8Array> | undefined;
    let devNull = -1;
    const nullFd = (): number => {
      if (devNull < 0) {
        devNull = open("/dev/null", O_RDWR);
        childOnly.push(devNull);
      }
      return devNull;
    };

    if (options.stdin === "pipe") {
      const [r, w] = pipe2();
      childOnly.push(r);
      cleanup.push(() => loop.closeFd(w));
      setNonblocking(w);
      growPipe(w, options.pipeSize);
      childFds[0] = r;
      stdin = writableToFd(w, { loop });
    } else if (options.stdin === "null") {
      childFds[0] = nullFd();
    }

    const outputs: Array<["stdout" | "stderr", 1 | 2]> = [["stdout", 1], ["stderr", 2]];
    for (const [name, index] of outputs) {
      const mode = options[name];
      if (mode === "pipe") {
        const [r, w] = pipe2();
        childOnly.push(w);
        cleanup.push(() => loop.closeFd(r));
        setNonblocking(r);
        growPipe(r, options.pipeSize);
        childFds[index] = w;
        const stream = readableFromFd(r, { loop });
        if (name === "stdout") stdout = stream;
        else stderr = stream;
      } else if (mode === "null") {
        childFds[index] = nullFd();
      }
    }

    const streams = [stdin, stdout, stderr];
    return {
      childFds,
      closeChildEnds,
      stdin,
      stdout,
      stderr,
      close(opts = {}): void {
        closeChildEnds();
        if (opts.streams) cancelStreams(streams);
      },
    };
  } catch (err) {
    closeChildEnds();
    for (const fn of cleanup) fn();
    throw err;
  }
}

const DEFAULT_PIPE_SIZE = 256 * 1024;

/** Sets a pipe's capacity; a refusal (EPERM over the user's pipe quota) keeps the kernel's. */
function growPipe(fd: number, size = DEFAULT_PIPE_SIZE): void {
  try {
    fcntl(fd, F_SETPIPE_SZ, size);
  } catch {
    // Throughput only: a smaller pipe works, with more wake-ups.
  }
}

/**
 * A devpts instance for a container's terminal, mounted nowhere: `options` are the spec's
 * devpts mount options (`newinstance`, `ptmxmode=0666`, `nosuid`, …).
 */
export function devptsInstance(options: readonly string[]): number {
  const flags: string[] = [];
  const data: Record<string, string> = {};
  let attrs = 0;
  for (const o of options) {
    const eq = o.indexOf("=");
    if (eq > 0) data[o.slice(0, eq)] = o.slice(eq + 1);
    else if (o === "nosuid") attrs |= MOUNT_ATTR_NOSUID;
    else if (o === "noexec") attrs |= MOUNT_ATTR_NOEXEC;
    else if (o === "nodev") attrs |= MOUNT_ATTR_NODEV;
    else if (o === "ro") attrs |= MOUNT_ATTR_RDONLY;
    else if (o !== "rw" && o !== "dev" && o !== "suid" && o !== "exec") flags.push(o);
  }
  return detachedMount("devpts", flags, data, attrs);
}

function withTty(options: StdioOptions, loop: IoLoop, cleanup: Array<() => void>): Stdio {
  const devptsFd = options.devpts ? devptsInstance(options.devpts) : undefined;
  let devptsOpen = devptsFd !== undefined;
  const closeDevpts = (): void => {
    if (!devptsOpen) return;
    devptsOpen = false;
    close(devptsFd!);
  };
  cleanup.push(closeDevpts);
  const pty = Pty.open(options.tty, loop, { devptsFd });
  cleanup.push(() => pty.close());
  // The child's three ends are the pty's own slave fd (the launcher opens `slavePath` as the
  // controlling terminal, or dup2s it); the master has three owners: the pty (for resize) and
  // the two streams. It closes when the last lets go.
  const slave = pty.slaveFd;
  // The devpts fd stays open until close(): the launch Worker attaches it by this fd number
  // after the spawn (or the init its inherited copy). Attached, closing it unmounts nothing.
  const closeChildEnds = (): void => pty.closeSlave();
  const stdout = readableFromFd(pty.master.retain(), { loop, eioIsEof: true });
  const stdin = options.stdin === "pipe" ? writableToFd(pty.master.retain(), { loop }) : undefined;
  return {
    childFds: [slave, slave, slave],
    tty: devptsFd === undefined
      ? { slavePath: pty.slavePath }
      : { slavePath: pty.slavePath, devptsFd },
    closeChildEnds,
    stdin,
    stdout,
    pty,
    close(opts = {}): void {
      closeChildEnds();
      if (opts.streams) cancelStreams([stdin, stdout]);
      pty.close();
      closeDevpts();
    },
  };
}

function cancelStreams(
  streams: Array<ReadableStream<Uint8Array> | WritableStream<Uint8Array> | undefined>,
): void {
  for (const s of streams) {
    if (!s || s.locked) continue;
    if (s instanceof ReadableStream) s.cancel().catch(() => {});
    else s.abort().catch(() => {});
  }
}

/** A pipe for a detached container's stdin: the child reads `childFd`, the engine writes. */
export interface StdinPipe {
  /** The read end for the child's fd 0 (blocking, O_CLOEXEC: the launcher dup2s it). */
  childFd: number;
  /** The engine's write end; closing it delivers EOF to the container. */
  stdin: WritableStream<Uint8Array>;
  /** Closes the engine's copy of the read end (after the spawn). Idempotent. */
  closeChildEnd(): void;
  /** The write end's fd (owned by `stdin`), for the container to keep a copy of. */
  writeFd: number;
}

/**
 * Opens the stdin pipe of a detached `-i` container. The engine keeps the write end for as long
 * as the container runs, so the container sees EOF only when the engine closes it (StdinOnce);
 * without StdinOnce the container also keeps a copy (see kept_fd.ts), so a `kill -9` of the
 * daemon does not end its input.
 */
export function createStdinPipe(options: { loop?: IoLoop } = {}): StdinPipe {
  const loop = options.loop ?? ioLoop();
  const [r, w] = pipe2();
  try {
    setNonblocking(w);
  } catch (err) {
    close(r);
    close(w);
    throw err;
  }
  let open = true;
  return {
    childFd: r,
    writeFd: w,
    stdin: writableToFd(w, { loop }),
    closeChildEnd(): void {
      if (!open) return;
      open = false;
      try {
        close(r);
      } catch {
        // Already closed: nothing to release.
      }
    },
  };
}
