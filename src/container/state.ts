/**
 * Container state facts (`state.json`), status derived from them on every read, and the one
 * table of which operation each status allows.
 *
 * @module
 */
import { InvalidStateError } from "../errors.ts";
import type { ContainerStatus } from "../engine_api.ts";

/** Facts recorded about a container's process; status is never stored. */
export interface ContainerState {
  /** Host pid of the container's first process while it may be running; null otherwise. */
  pid: number | null;
  /** Field 22 of `/proc/<pid>/stat` at start: guards against pid reuse. */
  pidStartTime: string | null;
  /** RFC 3339, null before the first start. */
  startedAt: string | null;
  /** RFC 3339, null while running or never started. */
  finishedAt: string | null;
  /** Null when unknown (never ran, or the supervisor died before recording it). */
  exitCode: number | null;
  oomKilled: boolean;
  /** Engine-side error of the last start, "" when none. */
  error: string;
  /** Set while frozen (pause); cleared by unpause. */
  paused: boolean;
  /** Set when removal began and failed half-way. */
  dead: boolean;
  /**
   * A detached `-i`/`-t` container holds its own copy of the engine's end of its stdin pipe or
   * of its pty master at {@link KEPT_FD}, so a daemon's crash neither closes its input nor hangs
   * up its terminal; a restarted daemon takes it back from there (src/runtime/kept_fd.ts).
   */
  kept?: "stdin" | "pty";
}

/** The fd number at which a detached interactive container keeps the engine's stdio end. */
export const KEPT_FD = 1023;

/** The state of a container that was created and never started. */
export function initialState(): ContainerState {
  return {
    pid: null,
    pidStartTime: null,
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    oomKilled: false,
    error: "",
    paused: false,
    dead: false,
  };
}

/** What the kernel says about a pid. */
export interface ProcInfo {
  /** Field 22 of /proc/<pid>/stat. */
  startTime: string;
  /** Field 3 (R, S, Z, …). */
  state: string;
}

/** Reads `/proc/<pid>/stat`; null when there is no such process. */
export function readProcStat(pid: number, procRoot = "/proc"): ProcInfo | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${procRoot}/${pid}/stat`);
  } catch {
    return null;
  }
  // comm may contain spaces and parentheses: fields resume after the last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); field 22 is rest[19].
  return { state: rest[0], startTime: rest[19] };
}

/** True when the recorded process is alive and is the same process (start time matches). */
export function processAlive(
  state: Pick<ContainerState, "pid" | "pidStartTime">,
  readStat: (pid: number) => ProcInfo | null = readProcStat,
): boolean {
  if (state.pid === null || state.pid <= 0) return false;
  const info = readStat(state.pid);
  if (!info) return false;
  if (state.pidStartTime !== null && info.startTime !== state.pidStartTime) return false;
  return info.state !== "Z" && info.state !== "X";
}

/** Derives the status from the facts. */
export function deriveStatus(
  state: ContainerState,
  readStat: (pid: number) => ProcInfo | null = readProcStat,
): ContainerStatus {
  if (state.dead) return "dead";
  if (state.pid !== null && state.finishedAt === null && processAlive(state, readStat)) {
    return state.paused ? "paused" : "running";
  }
  if (state.startedAt === null && state.finishedAt === null) return "created";
  return "exited";
}

/** Operations guarded by status. */
export type Operation =
  | "start"
  | "kill"
  | "stop"
  | "remove"
  | "pause"
  | "unpause"
  | "exec"
  | "resize";

/** Which statuses allow each operation. */
export const TRANSITIONS: Readonly<Record<Operation, readonly ContainerStatus[]>> = {
  start: ["created", "exited"],
  kill: ["running", "paused"],
  stop: ["running", "paused"],
  remove: ["created", "exited", "dead"],
  pause: ["running"],
  unpause: ["paused"],
  exec: ["running"],
  resize: ["running"],
};

/** True when `op` is allowed in `status`. */
export function canDo(op: Operation, status: ContainerStatus): boolean {
  return TRANSITIONS[op].includes(status);
}

/** Throws Docker's message when `op` is not allowed in `status`. */
export function assertCanDo(op: Operation, status: ContainerStatus, id: string): void {
  if (canDo(op, status)) return;
  switch (op) {
    case "remove":
      throw new InvalidStateError(
        `You cannot remove a ${status} container ${id}. Stop the container before attempting removal or force remove`,
      );
    case "kill":
    case "stop":
      throw new InvalidStateError(`Cannot ${op} container: ${id}: Container ${id} is not running`);
    case "exec":
      throw new InvalidStateError(`Container ${id} is not running`);
    case "pause":
      throw new InvalidStateError(`Container ${id} is not running`);
    case "unpause":
      throw new InvalidStateError(`Container ${id} is not paused`);
    default:
      throw new InvalidStateError(`Cannot ${op} container ${id}: container is ${status}`);
  }
}
