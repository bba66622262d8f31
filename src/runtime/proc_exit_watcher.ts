/**
 * Exit codes of processes that are not our children, from the kernel's process events
 * (ffi/proc_events.ts).
 *
 * After a daemon restart, the containers it adopts are init's children: their exit status goes
 * to init. Subscribed to process events, the daemon still hears each one's exit, with its wait
 * status, without touching the container (no ptrace stops, nothing in its way). The socket is
 * open only while something is watched. Events can be lost (the kernel drops them when the
 * socket's queue overflows): then the watches of processes found gone are rejected, and the
 * caller treats those exits as unknown, as before.
 *
 * @module
 */
import { closeProcEvents, openProcEvents, readProcExits } from "../../ffi/proc_events.ts";
import { decodeWaitStatus } from "../../ffi/wait.ts";
import { InternalError } from "../errors.ts";
import { type ExitStatus, exitStatusOf } from "./reaper.ts";
import { ioLoop } from "./io_loop.ts";

interface Watch {
  resolve(s: ExitStatus): void;
  reject(err: unknown): void;
  /** Whether the process is still there (checked after the socket opened, and on overflow). */
  alive: () => boolean;
}

/** Watches processes by pid through the process events connector. */
export class ProcExitWatcher {
  #fd = -1;
  #unavailable = false;
  readonly #watched = new Map<number, Watch>();
  readonly #buf = new Uint8Array(64 * 1024);

  /**
   * Resolves with `pid`'s exit status when it exits; undefined when process events are not
   * available here, or when `alive()` says it is already gone (its exit came before the
   * subscription). `alive` must tell this very process from a later one with the same pid.
   */
  watch(pid: number, alive: () => boolean): Promise<ExitStatus> | undefined {
    const existing = this.#watched.get(pid);
    if (existing) return undefined;
    if (!this.#open()) return undefined;
    // Subscribed first, then checked: an exit after the check is in the socket.
    if (!alive()) {
      this.#closeIfIdle();
      return undefined;
    }
    return new Promise<ExitStatus>((resolve, reject) => {
      this.#watched.set(pid, { resolve, reject, alive });
      if (this.#watched.size === 1) void this.#loop();
    });
  }

  /** Stops watching `pid` (its promise never settles). */
  unwatch(pid: number): void {
    this.#watched.delete(pid);
    this.#closeIfIdle();
  }

  /** Number of pids being watched. */
  get size(): number {
    return this.#watched.size;
  }

  #open(): boolean {
    if (this.#fd >= 0) return true;
    if (this.#unavailable) return false;
    try {
      this.#fd = openProcEvents();
      return true;
    } catch {
      this.#unavailable = true; // no connector in this kernel, or not privileged
      return false;
    }
  }

  async #loop(): Promise<void> {
    const fd = this.#fd;
    while (this.#watched.size > 0 && this.#fd === fd) {
      try {
        await ioLoop().waitReadable(fd);
      } catch {
        return; // forgotten: the socket was closed
      }
      let batch;
      try {
        batch = readProcExits(fd, this.#buf);
      } catch (err) {
        this.#failAll(err);
        return;
      }
      for (const e of batch.exits) {
        if (e.pid !== e.tgid) continue; // a thread, not the process
        const w = this.#watched.get(e.tgid);
        if (!w) continue;
        this.#watched.delete(e.tgid);
        const result = decodeWaitStatus(e.status);
        if (result.kind === "exited" || result.kind === "signaled") w.resolve(exitStatusOf(result));
        else w.reject(new InternalError(`Unexpected exit status ${e.status} of ${e.tgid}`));
      }
      if (batch.overflowed) {
        // Some events were lost: whoever is gone now may have been among them.
        for (const [pid, w] of [...this.#watched]) {
          if (w.alive()) continue;
          this.#watched.delete(pid);
          w.reject(new InternalError(`The exit of process ${pid} was not reported`));
        }
      }
    }
    this.#closeIfIdle();
  }

  #failAll(err: unknown): void {
    for (const w of this.#watched.values()) w.reject(err);
    this.#watched.clear();
    this.#closeIfIdle();
  }

  #closeIfIdle(): void {
    if (this.#watched.size > 0 || this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    ioLoop().forget(fd);
    closeProcEvents(fd);
  }
}

let shared: ProcExitWatcher | undefined;

/** The process-wide watcher. */
export function procExitWatcher(): ProcExitWatcher {
  shared ??= new ProcExitWatcher();
  return shared;
}
