/**
 * Helpers shared by the v1 and v2 drivers (private to src/cgroups).
 *
 * @module
 */
import {
  ConflictError,
  DockerTsError,
  InternalError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
} from "../errors.ts";
import { type CgroupSys, CgroupSysError } from "./types.ts";

/** Values at or above this read back from cgroupfs mean "unlimited" (v1 prints ~2^63 − page). */
const UNLIMITED_FLOOR = 2 ** 60;

/** Checks a cgroup name: relative, `/`-separated, no `.`/`..`, safe characters. */
export function validateName(name: string): string[] {
  const parts = name.split("/");
  if (
    name.length === 0 || name.length > 4096 ||
    parts.some((p) => p === "" || p === "." || p === ".." || !/^[A-Za-z0-9_.:@-]+$/.test(p))
  ) {
    throw new InvalidArgumentError(
      `Invalid cgroup name "${name}": use relative path segments of letters, digits and "_.:@-"`,
    );
  }
  return parts;
}

/** Converts a host failure into a docker-ts error category with a one-line message. */
export function wrapSysError(action: string, err: unknown): DockerTsError {
  if (err instanceof DockerTsError) return err;
  const message = `${action}: ${err instanceof Error ? err.message : String(err)}`;
  const code = err instanceof CgroupSysError ? err.code : "";
  switch (code) {
    case "ENOENT":
      return new NotFoundError(message, { cause: err });
    case "EINVAL":
    case "ERANGE":
      return new InvalidArgumentError(message, { cause: err });
    case "EBUSY":
      return new InvalidStateError(message, { cause: err });
    case "EEXIST":
      return new ConflictError(message, { cause: err });
    default:
      return new InternalError(message, { cause: err });
  }
}

/** Writes a control file, turning failures into one clear error naming file and value. */
export function writeControl(sys: CgroupSys, file: string, value: string): void {
  try {
    sys.writeFile(file, value);
  } catch (err) {
    throw wrapSysError(`Cannot write "${value}" to "${file}"`, err);
  }
}

/** Reads a control file, or undefined when it does not exist (controller absent). */
export function readOptional(sys: CgroupSys, file: string): string | undefined {
  try {
    return sys.readFile(file);
  } catch (err) {
    if (err instanceof CgroupSysError && err.code === "ENOENT") return undefined;
    throw wrapSysError(`Cannot read "${file}"`, err);
  }
}

/** Parses an integer file; `max` and v1's near-2^63 values become null (unlimited). */
export function parseLimit(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === "max" || t === "-1") return null;
  const n = Number(t);
  if (!Number.isFinite(n)) return undefined;
  return n >= UNLIMITED_FLOOR ? null : n;
}

/** Parses an integer counter file; missing or malformed reads as 0. */
export function parseCount(text: string | undefined): number {
  if (text === undefined) return 0;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : 0;
}

/** Parses `key value` lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (text === undefined) return out;
  for (const line of text.split("\n")) {
    const [key, value] = line.trim().split(/\s+/);
    if (!key || value === undefined) continue;
    const n = Number(value);
    if (Number.isFinite(n)) out[key] = n;
  }
  return out;
}

/** Parses a `cgroup.procs` file into pids. */
export function parsePids(text: string | undefined): number[] {
  if (text === undefined) return [];
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").map(Number)
    .filter((n) => Number.isSafeInteger(n) && n > 0);
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `done` with growing pauses (1 ms doubling to 20 ms) until it returns true or `timeoutMs`
 * passes; returns the last answer.
 */
export async function pollUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let pause = 1;
  while (true) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(pause);
    pause = Math.min(pause * 2, 20);
  }
}

/** How long remove() retries EBUSY while the last tasks exit. */
const REMOVE_TIMEOUT_MS = 2000;

/**
 * Removes a cgroup directory depth-first (a container may have made sub-cgroups), retrying EBUSY
 * while exiting tasks leave. A directory that is already gone counts as removed.
 */
export async function removeTree(sys: CgroupSys, dir: string): Promise<void> {
  let subdirs: string[];
  try {
    subdirs = sys.listDirs(dir);
  } catch (err) {
    if (err instanceof CgroupSysError && err.code === "ENOENT") return;
    throw wrapSysError(`Cannot remove cgroup "${dir}"`, err);
  }
  for (const sub of subdirs) await removeTree(sys, `${dir}/${sub}`);
  let lastErr: unknown;
  const removed = await pollUntil(() => {
    try {
      sys.rmdir(dir);
      return true;
    } catch (err) {
      if (err instanceof CgroupSysError && err.code === "ENOENT") return true;
      if (err instanceof CgroupSysError && err.code === "EBUSY") {
        lastErr = err;
        return false;
      }
      throw wrapSysError(`Cannot remove cgroup "${dir}"`, err);
    }
  }, REMOVE_TIMEOUT_MS);
  if (!removed) {
    throw new InvalidStateError(
      `Cannot remove cgroup "${dir}": it still has processes after ${REMOVE_TIMEOUT_MS} ms`,
      { cause: lastErr },
    );
  }
}

/**
 * After a cgroup is removed, removes its now-empty ancestors, `levels` deep (never the hierarchy
 * root), so the last container leaves no `docker-ts` parent behind. An ancestor that a sibling
 * still uses (or that a concurrent create just repopulated) fails with EBUSY and stays.
 */
export function removeEmptyAncestors(sys: CgroupSys, dir: string, levels: number): void {
  let d = dir;
  for (let i = 0; i < levels; i++) {
    d = d.slice(0, d.lastIndexOf("/"));
    try {
      sys.rmdir(d);
    } catch {
      return;
    }
  }
}

/**
 * Runs a create, again when a parent it walked through vanished meanwhile (another process's
 * {@link removeEmptyAncestors} removed it between two mkdirs): ENOENT from mkdir.
 */
export function retryVanishedParent<T>(create: () => T): T {
  for (let attempt = 0;; attempt++) {
    try {
      return create();
    } catch (err) {
      const enoent = err instanceof Error && err.cause instanceof CgroupSysError &&
        err.cause.code === "ENOENT";
      if (!enoent || attempt >= 3) throw err;
    }
  }
}
