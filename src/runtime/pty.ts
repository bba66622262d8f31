/**
 * A pseudo-terminal pair for a container started with `-t`. The master stays with the engine
 * (nonblocking, O_CLOEXEC, driven by the I/O loop); the slave's path goes to the launcher, which
 * opens it as the child's controlling terminal (POSIX_SPAWN_SETSID + open without O_NOCTTY).
 *
 * The engine also holds a slave fd until the child is spawned: without any slave open, the
 * master reports hang-up and reads fail with EIO, which would look like an early end of output.
 *
 * The pair comes from the container's own devpts instance, so the slave exists as `/dev/pts/N`
 * inside the container (a host pty's slave does not): for `run -t`, from a devpts made before
 * the container exists and mounted nowhere (`devptsFd`), which its init then attaches at
 * /dev/pts; for `exec -t`, from the running container's (`root`).
 *
 * @module
 */
import { close, O_CLOEXEC, O_NOCTTY, O_RDWR, open, setNonblocking } from "../../ffi/io.ts";
import { O_DIRECTORY, O_PATH } from "../../ffi/process.ts";
import {
  getWinSize,
  openPtyMaster,
  openPtyMasterIn,
  openPtyPeer,
  ptsname,
  ptyNumber,
  setWinSize,
  type WinSize,
} from "../../ffi/pty.ts";
import { InvalidArgumentError, InvalidStateError } from "../errors.ts";
import { type IoLoop, ioLoop, SharedFd } from "./io_loop.ts";

export type { WinSize } from "../../ffi/pty.ts";

function checkSize(size: WinSize): void {
  for (const [k, v] of Object.entries(size)) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) {
      throw new InvalidArgumentError(`Invalid terminal size: ${k} "${v}" is not 0..65535`);
    }
  }
}

/** Where {@link Pty.open} takes the pty from. */
export interface PtyOpenOptions {
  /**
   * A root directory whose devpts instance provides the pty, e.g. `/proc/<pid>/root` of a
   * running container (default: the host's `/dev/ptmx`). `slavePath` is then the path inside
   * that root.
   */
  root?: string;
  /**
   * The root fd of a devpts instance mounted nowhere yet (see `devptsInstance` in stdio.ts),
   * which the container's init attaches at its /dev/pts: the slave is then `/dev/pts/N` of the
   * container's own devpts, as with runc.
   */
  devptsFd?: number;
}

function openMasterIn(root: string): number {
  const rootFd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    return openPtyMasterIn(rootFd);
  } finally {
    close(rootFd);
  }
}

/** A pty pair owned by the engine. */
export class Pty {
  /** The master fd, shared by the container's output and input streams. */
  readonly master: SharedFd;
  /** The slave device, e.g. `/dev/pts/4` (inside `root` when opened from one). */
  readonly slavePath: string;
  #slaveFd: number;
  readonly #loop: IoLoop;

  private constructor(master: SharedFd, slaveFd: number, slavePath: string, loop: IoLoop) {
    this.master = master;
    this.#slaveFd = slaveFd;
    this.slavePath = slavePath;
    this.#loop = loop;
  }

  /** Opens a pty pair with the given window size. */
  static open(
    size: WinSize = { rows: 24, cols: 80 },
    loop: IoLoop = ioLoop(),
    options: PtyOpenOptions = {},
  ): Pty {
    checkSize(size);
    const masterFd = options.devptsFd !== undefined
      ? openPtyMasterIn(options.devptsFd, "ptmx")
      : options.root === undefined
      ? openPtyMaster()
      : openMasterIn(options.root);
    let slaveFd = -1;
    try {
      let path: string;
      if (options.root === undefined && options.devptsFd === undefined) {
        path = ptsname(masterFd);
        slaveFd = open(path, O_RDWR | O_NOCTTY);
      } else {
        // By fd: the in-container path means nothing in the engine's mount namespace.
        path = `/dev/pts/${ptyNumber(masterFd)}`;
        slaveFd = openPtyPeer(masterFd);
      }
      setWinSize(masterFd, size);
      setNonblocking(masterFd);
      return new Pty(new SharedFd(masterFd, loop), slaveFd, path, loop);
    } catch (err) {
      if (slaveFd >= 0) loop.closeFd(slaveFd);
      loop.closeFd(masterFd);
      throw err;
    }
  }

  /** The engine's slave fd (O_CLOEXEC), for launchers that dup2 it; -1 once closed. */
  get slaveFd(): number {
    return this.#slaveFd;
  }

  /** Closes the engine's slave fd (after the child has been spawned). Idempotent. */
  closeSlave(): void {
    if (this.#slaveFd < 0) return;
    this.#loop.closeFd(this.#slaveFd);
    this.#slaveFd = -1;
  }

  /** Sets the window size; the kernel sends SIGWINCH to the terminal's foreground group. */
  resize(rows: number, cols: number): void {
    checkSize({ rows, cols });
    if (!this.master.open) throw new InvalidStateError("Cannot resize the terminal: it is closed");
    setWinSize(this.master.fd, { rows, cols });
  }

  /** The current window size. */
  size(): WinSize {
    if (!this.master.open) {
      throw new InvalidStateError("Cannot read the terminal size: it is closed");
    }
    return getWinSize(this.master.fd);
  }

  /** Releases the engine's own hold on the master and closes the slave. */
  close(): void {
    this.closeSlave();
    this.master.release();
  }
}
