/**
 * The engine's stdio end a detached interactive container keeps (ContainerState.kept).
 *
 * A `run -di` container's stdin pipe and a `run -dt` container's pty master belong to the
 * engine: with no shim process between them, a daemon that crashes would take them along, and
 * the container would read end-of-file or have its terminal hung up. So the container holds a
 * copy at fd 1023 (KEPT_FD; passed through the launch, not close-on-exec), which keeps them
 * open while no daemon runs; a pty's output then waits in the pty (the writer blocks once it is
 * full) until a daemon drains it again. A restarted daemon takes the end back with
 * pidfd_getfd and serves `attach`, resize and the log from it as before.
 *
 * The cost is that one fd the command did not open: visible in /proc/self/fd, and closed by
 * programs that close every fd at start (they then lose only this crash protection).
 *
 * @module
 */
import { dup, setNonblocking } from "../../ffi/io.ts";
import { setWinSize } from "../../ffi/pty.ts";
import { takeFdOf } from "../../ffi/pidfd.ts";
import { KEPT_FD } from "./init_config.ts";
import { readableFromFd, writableToFd } from "./stdio.ts";

/** The engine's side of a kept stdio end, taken back from a running container. */
export interface ReclaimedStdio {
  /** Writes to the container's stdin (the pipe, or the pty master). */
  stdin: WritableStream<Uint8Array>;
  /** With a pty: its output (stdout and stderr merged); ends when the container's side closes. */
  output?: ReadableStream<Uint8Array>;
  /** With a pty: resizes it. */
  resize?(rows: number, cols: number): void;
}

/**
 * Takes back the end `pid` keeps at KEPT_FD; undefined when it cannot (the process is gone, it
 * closed the fd, or the kernel lacks pidfd_getfd).
 */
export function reclaimKeptStdio(pid: number, kind: "stdin" | "pty"): ReclaimedStdio | undefined {
  let fd: number;
  try {
    fd = takeFdOf(pid, KEPT_FD);
  } catch {
    return undefined;
  }
  // The same open file as the container's copy: O_NONBLOCK is shared with it. The container's
  // side (the pipe's read end, the pty slave) is a different file and keeps blocking reads.
  setNonblocking(fd);
  if (kind === "stdin") return { stdin: writableToFd(fd) };
  const writeFd = dup(fd);
  return {
    stdin: writableToFd(writeFd),
    output: readableFromFd(fd, { eioIsEof: true }),
    resize: (rows, cols) => {
      try {
        setWinSize(writeFd, { rows, cols });
      } catch {
        // gone meanwhile
      }
    },
  };
}
