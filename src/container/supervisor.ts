/**
 * Supervision of detached containers by one process (the daemon, or an in-process engine while
 * it lives): log conversion, exit detection, restart policies, and recovery after a crash.
 *
 * Memory per container is a few small objects: no process, no Worker, no stream per container.
 * The container's output goes to raw files the kernel appends to (see `logs.ts`); one timer
 * converts what is new for every watched container. Exits of our own children come from the
 * shared reaper (through the engine's exit promise); containers adopted after a daemon restart
 * are not our children any more, so the same timer checks their pid (alive and same start time)
 * and records an exit with an unknown code when it is gone — never an invented one.
 *
 * Supervision facts that outlive the process live in `<container dir>/supervision.json`:
 * the restart policy, the log options, "stopped by user" and the restart count.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Paths } from "../paths.ts";
import { atomicWriteJsonSync } from "../util/atomic_write.ts";
import { ContainerLogs, type LogConfig, LogConverterThread } from "./logs.ts";
import { decideRestart, NO_RESTART, type RestartPolicy } from "./restart_policy.ts";
import { type ContainerState, deriveStatus, processAlive } from "./state.ts";
import type { ContainerStore } from "./store.ts";

const FILE = "supervision.json";

/** Supervision facts of one container (`supervision.json`). */
export interface SupervisionRecord {
  restartPolicy: RestartPolicy;
  log: LogConfig;
  /** Set by `stop`/`kill`, cleared by a user `start`. */
  stoppedByUser: boolean;
  /** Restarts by the policy since the last user start. */
  restartCount: number;
  /** Last backoff delay in ms. */
  lastDelayMs: number;
}

/** Defaults for a container created without supervision options. */
export function defaultSupervision(): SupervisionRecord {
  return {
    restartPolicy: NO_RESTART,
    log: { maxFile: 1 },
    stoppedByUser: false,
    restartCount: 0,
    lastDelayMs: 0,
  };
}

/** Reads a container's supervision facts (defaults when the file is absent). */
export function readSupervision(dir: string): SupervisionRecord {
  try {
    return {
      ...defaultSupervision(),
      ...JSON.parse(fs.readFileSync(path.join(dir, FILE), "utf8")) as Partial<SupervisionRecord>,
    };
  } catch {
    return defaultSupervision();
  }
}

/** Writes a container's supervision facts atomically. */
export function writeSupervision(dir: string, record: SupervisionRecord): void {
  atomicWriteJsonSync(path.join(dir, FILE), record);
}

/**
 * The best lower bound of when a container that exited unobserved did exit: the later of its
 * start and its last output (the raw logs' mtime; they are emptied at each start, so they never
 * predate it). Docker would show the zero time for "unknown", but then `ps` and inspect say
 * nothing useful; a lower bound keeps "Exited (…) N ago" truthful as "at least N ago" — the
 * exit code stays unknown and `State.Error` says why.
 */
export function lastSignOfLife(logs: ContainerLogs, startedAt: string | null): string {
  let best = startedAt ? Date.parse(startedAt) : 0;
  for (const stream of ["stdout", "stderr"] as const) {
    try {
      best = Math.max(best, fs.statSync(logs.rawPath(stream)).mtimeMs);
    } catch {
      // no output file: the start is all we know
    }
  }
  return best > 0 ? new Date(best).toISOString() : "0001-01-01T00:00:00Z";
}

/** The logs of a container by directory and id. */
export function logsOf(paths: Paths, id: string): ContainerLogs {
  const dir = paths.container(id);
  return new ContainerLogs({ dir, id, config: readSupervision(dir).log, locksDir: paths.locksDir });
}

/** A container lifecycle event (Docker's `/events` shape is built from it by the API). */
export interface ContainerEvent {
  Type: "container";
  Action: string;
  id: string;
  attributes: Record<string, string>;
  /** Nanoseconds since the epoch. */
  timeNano: number;
}

/** What the supervisor needs from the engine. */
export interface SupervisorHost {
  paths: Paths;
  store: ContainerStore;
  /** Starts a container detached (no attached streams), as a restart policy does. */
  startDetached(id: string): Promise<void>;
  /** Removes the container's cgroup, if any. */
  removeCgroup(id: string): Promise<void>;
  /** Removes an auto-remove (`--rm`) container after its exit. */
  autoRemove(id: string): Promise<void>;
}

interface Watched {
  logs: ContainerLogs;
  /** Not our child: exit seen by polling its pid. */
  adopted: boolean;
  /** Adopted, and its exit is reported to us (see {@link Supervisor.traceAdopted}). */
  traced?: boolean;
  /** When a traced adopted container was first seen gone (its report may still be on its way). */
  goneSince?: number;
  startedMs: number;
}

/** How long a traced adopted container may look gone before its exit counts as unreported. */
const TRACED_EXIT_GRACE_MS = 2000;

/**
 * Backlog from which a pass converts in the converter thread: below it, a Worker round trip
 * costs more than the conversion (~10 ms per MiB on the main thread).
 */
const OFF_THREAD_BYTES = 1024 * 1024;

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Log conversion and adopted-exit poll interval (default 250 ms). */
  intervalMs?: number;
}

/** Supervises detached containers in this process. */
export class Supervisor {
  readonly #host: SupervisorHost;
  readonly #watched = new Map<string, Watched>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #listeners = new Set<(e: ContainerEvent) => void>();
  readonly #intervalMs: number;
  readonly #converter = new LogConverterThread();
  #interval: ReturnType<typeof setInterval> | undefined;
  #ticking = false;
  #closed = false;

  constructor(host: SupervisorHost, options: SupervisorOptions = {}) {
    this.#host = host;
    this.#intervalMs = options.intervalMs ?? 250;
  }

  /** Number of containers watched. */
  get size(): number {
    return this.#watched.size;
  }

  /** Subscribes to container events; returns the unsubscribe function. */
  subscribe(listener: (e: ContainerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Emits an event to the subscribers. */
  emit(action: string, id: string, attributes: Record<string, string> = {}): void {
    const e: ContainerEvent = {
      Type: "container",
      Action: action,
      id,
      attributes,
      timeNano: Math.round((performance.timeOrigin + performance.now()) * 1e6),
    };
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  /** The logs of a container. */
  logs(id: string): ContainerLogs {
    return this.#watched.get(id)?.logs ?? logsOf(this.#host.paths, id);
  }

  /**
   * Watches a container this process started (its child): converts its logs while it runs and
   * applies the restart policy when `done` resolves with its exit code.
   */
  track(id: string, done: Promise<number>): void {
    this.#watched.set(id, {
      logs: logsOf(this.#host.paths, id),
      adopted: false,
      startedMs: Date.now(),
    });
    this.#ensureTimer();
    done.then(
      (code) => this.#afterExit(id, code),
      () => this.#afterExit(id, null),
    );
  }

  /** Watches a running container that is not our child (found at recovery). */
  adopt(id: string, startedAt: string | null): void {
    this.#watched.set(id, {
      logs: logsOf(this.#host.paths, id),
      adopted: true,
      startedMs: startedAt ? Date.parse(startedAt) : Date.now(),
    });
    this.#ensureTimer();
  }

  /**
   * Whether `id` is a running container adopted at recovery (not this process's child) whose
   * exit nothing reports to us yet (see {@link traceAdopted}).
   */
  needsExitTrace(id: string): boolean {
    const w = this.#watched.get(id);
    return w?.adopted === true && !w.traced;
  }

  /**
   * Follows an adopted container whose exit will be reported to us (`exit` resolves with its
   * code; the engine seized it with ptrace before signalling it): its exit is recorded with that
   * code instead of "unknown", then handled like any exit (restart policy, auto-remove, `die`).
   * A rejected `exit` falls back to polling.
   */
  traceAdopted(id: string, exit: Promise<number>): void {
    const w = this.#watched.get(id);
    if (!w?.adopted || w.traced) return;
    w.traced = true;
    exit.then(async (code) => {
      if (this.#watched.get(id) !== w) return; // forgotten (removed) meanwhile
      try {
        await this.#host.store.updateState(
          id,
          (s) =>
            s.finishedAt !== null && s.pid === null ? s : {
              ...s,
              pid: null,
              pidStartTime: null,
              finishedAt: new Date().toISOString(),
              exitCode: code,
              paused: false,
            },
        );
      } catch {
        return; // removed meanwhile
      }
      await this.#host.removeCgroup(id).catch(() => {});
      fs.rmSync(this.#host.paths.runContainer(id), { recursive: true, force: true });
      await this.#afterExit(id, code); // takes the watch: final logs, restart policy, `die`
    }, () => {
      w.traced = false; // not reported after all: the poll records it
    });
  }

  /** Stops watching (container removed). */
  forget(id: string): void {
    this.#watched.delete(id);
    this.#stopTimerIfIdle();
  }

  /**
   * Records exit code 137 for a container this process SIGKILLed but could not reap (not its
   * child): SIGKILL cannot be caught, so the code is known. Does nothing while it still runs or
   * when an exit is already recorded.
   */
  async noteKilled(id: string): Promise<void> {
    try {
      await this.#host.store.updateState(id, (s) =>
        s.finishedAt !== null || processAlive(s) ? s : {
          ...s,
          pid: null,
          pidStartTime: null,
          finishedAt: new Date().toISOString(),
          exitCode: 137,
          paused: false,
        });
    } catch {
      // removed meanwhile
    }
  }

  /** Records a user stop/kill: the restart policy stands down. */
  markStoppedByUser(id: string): void {
    this.#update(id, (r) => ({ ...r, stoppedByUser: true }));
  }

  /** Records a user start: clears "stopped by user" and the restart count. */
  markUserStart(id: string): void {
    this.#update(
      id,
      (r) =>
        r.stoppedByUser || r.restartCount || r.lastDelayMs
          ? { ...r, stoppedByUser: false, restartCount: 0, lastDelayMs: 0 }
          : r,
    );
  }

  #update(id: string, fn: (r: SupervisionRecord) => SupervisionRecord): void {
    const dir = this.#host.paths.container(id);
    if (!fs.existsSync(dir)) return;
    const before = readSupervision(dir);
    const after = fn(before);
    if (after !== before) writeSupervision(dir, after);
  }

  /** Converts pending logs of every watched container now (also what the timer does). */
  async flush(): Promise<void> {
    let offloaded = false;
    for (const [id, w] of [...this.#watched]) {
      try {
        const pending = w.logs.pendingBytes();
        if (pending >= OFF_THREAD_BYTES) {
          offloaded = true;
          await this.#converter.convert(w.logs);
        } else if (pending > 0) await w.logs.convert();
      } catch {
        // removed meanwhile, or the converter thread failed: the next pass retries
      }
      if (w.adopted && this.#watched.get(id) === w) await this.#checkAdopted(id);
    }
    // A quiet pass: the Worker would only keep the process alive (an in-process CLI's).
    if (!offloaded) this.#converter.close();
  }

  async #checkAdopted(id: string): Promise<void> {
    let state: ContainerState;
    try {
      state = this.#host.store.get(id).state;
    } catch {
      this.forget(id);
      return;
    }
    if (processAlive(state)) return;
    const w = this.#watched.get(id);
    if (w?.traced) {
      // Its exit is being reported (process events, ptrace): give that a moment to arrive;
      // should it never come, the exit is recorded as unknown like any unobserved one.
      w.goneSince ??= Date.now();
      if (Date.now() - w.goneSince < TRACED_EXIT_GRACE_MS) return;
    }
    this.#watched.delete(id);
    await this.#recordUnknownExit(id);
    await this.#afterExit(id, null);
  }

  /**
   * Records an exit nobody could observe, exit code unknown (null). `finishedAt` defaults to now
   * (right for a polled adopted container: it was seen alive one interval ago).
   */
  async #recordUnknownExit(id: string, finishedAt?: string): Promise<void> {
    try {
      await this.#host.store.updateState(id, (s) =>
        s.finishedAt !== null && s.pid === null ? s : {
          ...s,
          pid: null,
          pidStartTime: null,
          finishedAt: finishedAt ?? new Date().toISOString(),
          exitCode: null,
          paused: false,
          error: "exit code unknown: the container exited while no supervisor was watching it",
        });
    } catch {
      return; // removed meanwhile
    }
    await this.#host.removeCgroup(id).catch(() => {});
    fs.rmSync(this.#host.paths.runContainer(id), { recursive: true, force: true });
  }

  async #afterExit(id: string, code: number | null): Promise<void> {
    const w = this.#watched.get(id);
    const startedMs = w?.startedMs ?? Date.now();
    this.#watched.delete(id);
    this.#stopTimerIfIdle();
    const dir = this.#host.paths.container(id);
    if (!fs.existsSync(dir)) return;
    let autoRemove = false;
    try {
      autoRemove = this.#host.store.get(id).record.options.rm;
    } catch {
      return; // removed meanwhile
    }
    // An auto-removed container's logs go with it: converting them first only delays removal.
    if (!autoRemove) {
      try {
        await (w?.logs ?? logsOf(this.#host.paths, id)).convert({ final: true });
      } catch {
        // removed meanwhile
      }
    }
    this.emit("die", id, code === null ? {} : { exitCode: String(code) });
    if (this.#closed) return;
    if (autoRemove) {
      await this.#host.autoRemove(id).catch(() => {});
      return;
    }
    this.#maybeRestart(id, code, Date.now() - startedMs, false);
  }

  #maybeRestart(id: string, code: number | null, runMs: number, daemonStart: boolean): void {
    const dir = this.#host.paths.container(id);
    const sup = readSupervision(dir);
    const decision = decideRestart({
      policy: sup.restartPolicy,
      exitCode: code,
      stoppedByUser: sup.stoppedByUser,
      restartCount: sup.restartCount,
      runMs,
      lastDelayMs: sup.lastDelayMs,
      daemonStart,
    });
    if (!decision) return;
    writeSupervision(dir, {
      ...sup,
      // A daemon-start restart is not a policy restart: Docker keeps the count.
      restartCount: daemonStart ? sup.restartCount : sup.restartCount + 1,
      lastDelayMs: decision.delayMs,
      stoppedByUser: daemonStart ? false : sup.stoppedByUser,
    });
    const timer = setTimeout(async () => {
      this.#timers.delete(timer);
      if (this.#closed) return;
      try {
        const c = this.#host.store.get(id);
        if (deriveStatus(c.state) !== "exited") return;
        if (readSupervision(dir).stoppedByUser) return;
        await this.#host.startDetached(id);
        this.emit("restart", id);
      } catch {
        // removed, or the start failed (recorded in state.json by the engine)
      }
    }, decision.delayMs);
    this.#timers.add(timer);
  }

  /**
   * Recovery at daemon start: adopts running containers, records the ones that died while no
   * one watched as exited with an unknown code, converts their pending logs, restarts what the
   * policies say, and removes stale runtime files and half-created container directories.
   * Resolves to the ids adopted.
   */
  async recover(): Promise<{ adopted: string[]; exited: string[] }> {
    const adopted: string[] = [];
    const exited: string[] = [];
    const { store, paths } = this.#host;
    // Half-published creates (`.tmp-<id>`) from a crash mid-create.
    try {
      for (const name of fs.readdirSync(paths.containersDir)) {
        if (name.startsWith(".tmp-")) {
          fs.rmSync(path.join(paths.containersDir, name), { recursive: true, force: true });
        }
      }
    } catch {
      // no containers yet
    }
    const known = new Set(store.ids());
    for (const id of known) {
      let c;
      try {
        c = store.get(id);
      } catch {
        continue;
      }
      if (c.state.pid !== null && c.state.finishedAt === null && processAlive(c.state)) {
        this.adopt(id, c.state.startedAt);
        adopted.push(id);
        continue;
      }
      if (c.state.pid !== null && c.state.finishedAt === null) {
        // It died while no daemon ran: the recovery time would claim a fresh exit.
        await this.#recordUnknownExit(id, lastSignOfLife(logsOf(paths, id), c.state.startedAt));
        exited.push(id);
        try {
          await logsOf(paths, id).convert({ final: true });
        } catch {
          // unreadable logs must not stop recovery
        }
      } else {
        // Not running: whatever a crash left of its runtime state goes (cgroups of ids this
        // store does not know are left alone: another engine may own them).
        fs.rmSync(paths.runContainer(id), { recursive: true, force: true });
        if (c.state.startedAt !== null) await this.#host.removeCgroup(id).catch(() => {});
      }
      if (deriveStatus(store.get(id).state) !== "exited") continue;
      if (c.record.options.rm) {
        // As dockerd restores: an auto-remove container found stopped is removed.
        await this.#host.autoRemove(id).catch(() => {});
        continue;
      }
      this.#maybeRestart(id, store.get(id).state.exitCode, 0, true);
    }
    // Runtime directories of containers that no longer exist.
    try {
      for (const name of fs.readdirSync(path.join(paths.runroot, "containers"))) {
        if (!known.has(name)) {
          fs.rmSync(path.join(paths.runroot, "containers", name), { recursive: true, force: true });
        }
      }
    } catch {
      // nothing there
    }
    return { adopted, exited };
  }

  #ensureTimer(): void {
    if (this.#interval !== undefined || this.#closed) return;
    this.#interval = setInterval(async () => {
      if (this.#ticking) return;
      this.#ticking = true;
      try {
        await this.flush();
      } finally {
        this.#ticking = false;
      }
    }, this.#intervalMs);
    // The timer alone must not keep a process alive (an in-process CLI exits after `run -d`;
    // the daemon is kept alive by its server).
    Deno.unrefTimer(this.#interval);
  }

  #stopTimerIfIdle(): void {
    if (this.#watched.size > 0 || this.#interval === undefined) return;
    this.#converter.close();
    clearInterval(this.#interval);
    this.#interval = undefined;
  }

  /** Stops timers (pending restarts are dropped); containers keep running. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#interval !== undefined) clearInterval(this.#interval);
    this.#interval = undefined;
    this.#converter.close();
    this.#watched.clear();
  }
}
