/**
 * Reaps the children the engine spawned with FFI (Deno reaps only its own Deno.Command
 * children).
 *
 * One SIGCHLD listener serves every watched pid: signals coalesce (ten exits may raise one
 * SIGCHLD), so each signal polls `waitpid(pid, WNOHANG)` for every watched pid. Never
 * `waitpid(-1)`: it would steal Deno.Command's children. Each `watch` also polls once at once,
 * because the child may have exited before the listener existed.
 *
 * Deno's signal listeners do not keep the process alive, so while anything is watched a ref'd
 * interval does (and doubles as a safety poll); both are removed when the watch set empties.
 *
 * @module
 */
import { signalName, waitpid, type WaitResult } from "../../ffi/wait.ts";
import { ptraceCont } from "../../ffi/ptrace.ts";
import { InternalError } from "../errors.ts";

/** How a child ended, in Docker's terms. */
export interface ExitStatus {
  /** The exit code; 128+N when killed by signal N (Docker's convention). */
  exitCode: number;
  /** The signal that killed it (`SIGKILL`), when it was killed by one. */
  signal?: string;
}

/** Docker's exit code for a wait result (128+N for signal N). */
export function exitStatusOf(result: WaitResult): ExitStatus {
  if (result.kind === "exited") return { exitCode: result.code };
  if (result.kind === "signaled") {
    return { exitCode: 128 + result.signal, signal: signalName(result.signal) };
  }
  throw new InternalError(`Cannot derive an exit status: the process is ${result.kind}`);
}

interface Watch {
  promise: Promise<ExitStatus>;
  resolve(status: ExitStatus): void;
  reject(err: unknown): void;
  /** Seized with ptrace by this thread: its stops are ours to resume. */
  traced: boolean;
}

/** Options for {@link Reaper}. */
export interface ReaperOptions {
  /** Safety poll interval in ms while something is watched (default 1000). */
  pollIntervalMs?: number;
}

/** Watches FFI-spawned children and resolves with their exit status. */
export class Reaper {
  #watched = new Map<number, Watch>();
  #interval: ReturnType<typeof setInterval> | undefined;
  #listening = false;
  readonly #pollIntervalMs: number;
  readonly #onSignal = (): void => this.poll();

  /** A reaper with its own watch set (most code uses {@link reaper}). */
  constructor(options: ReaperOptions = {}) {
    this.#pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  /**
   * Resolves when `pid` (a child of this process) exits. Watching the same pid twice returns
   * the same promise. Rejects with InternalError when `pid` is not our child.
   */
  watch(pid: number, options: { traced?: boolean } = {}): Promise<ExitStatus> {
    const existing = this.#watched.get(pid);
    if (existing) return existing.promise;
    let resolve!: (s: ExitStatus) => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<ExitStatus>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#watched.set(pid, { promise, resolve, reject, traced: options.traced === true });
    // Listener first, then the poll: an exit between the two is then seen by one of them.
    this.#start();
    this.#check(pid);
    return promise;
  }

  /** Number of pids being watched. */
  get size(): number {
    return this.#watched.size;
  }

  /** Polls every watched pid once (what a SIGCHLD triggers). */
  poll(): void {
    for (const pid of [...this.#watched.keys()]) this.#check(pid);
  }

  #check(pid: number): void {
    const watch = this.#watched.get(pid);
    if (!watch) return;
    let result: WaitResult;
    try {
      result = waitpid(pid);
    } catch (err) {
      this.#watched.delete(pid);
      this.#stopIfIdle();
      watch.reject(
        new InternalError(`Cannot wait for process "${pid}": it is not a child of the engine`, {
          cause: err,
        }),
      );
      return;
    }
    if (result.kind === "running") return;
    if (result.kind === "stopped") {
      // A seized process stops at every signal it gets: resume it with that signal (a
      // group-stop, PTRACE_EVENT_STOP, resumes with none). Untraced ones never report stops.
      if (watch.traced) {
        try {
          ptraceCont(pid, result.event === 0 ? result.signal : 0);
        } catch {
          // gone meanwhile: its exit comes next
        }
      }
      return;
    }
    this.#watched.delete(pid);
    this.#stopIfIdle();
    watch.resolve(exitStatusOf(result));
  }

  #start(): void {
    if (this.#listening) return;
    Deno.addSignalListener("SIGCHLD", this.#onSignal);
    this.#interval = setInterval(() => this.poll(), this.#pollIntervalMs);
    this.#listening = true;
  }

  #stopIfIdle(): void {
    if (!this.#listening || this.#watched.size > 0) return;
    Deno.removeSignalListener("SIGCHLD", this.#onSignal);
    clearInterval(this.#interval);
    this.#interval = undefined;
    this.#listening = false;
  }
}

let shared: Reaper | undefined;

/** The process-wide reaper. */
export function reaper(): Reaper {
  shared ??= new Reaper();
  return shared;
}
