/**
 * The one interface both cgroup drivers implement, plus the host-access seam they share.
 *
 * A driver owns a cgroup *root* (normally `/sys/fs/cgroup`); every path it touches lives under
 * that root, so tests point it at a temp directory. Quick operations (create, write limits, read
 * stats) are synchronous: they are a handful of small file writes and must also be callable from
 * a Worker that may only make sync calls. Operations that wait for the kernel to settle (freeze,
 * kill, remove) are asynchronous.
 *
 * @module
 */
import type { OciResources } from "../runtime/oci_spec.ts";

/** Which cgroup version a driver speaks. */
export type CgroupVersion = 1 | 2;

/** Memory numbers in bytes; `limit` is null when unlimited. */
export interface CgroupMemoryStats {
  /** Current usage, page cache included (v1 `memory.usage_in_bytes`, v2 `memory.current`). */
  usage: number;
  /** Highest usage seen, when the kernel reports it (v1 `max_usage_in_bytes`, v2 `memory.peak`). */
  maxUsage?: number;
  /** The hard limit, or null when unlimited. */
  limit: number | null;
  /** Times the limit was hit (v1 `memory.failcnt`, v2 `memory.events` `max`). */
  failcnt: number;
  /** Raw `memory.stat` counters (Docker computes usage minus cache from these). */
  stats: Record<string, number>;
}

/** CPU time in nanoseconds. */
export interface CgroupCpuStats {
  /** Total CPU time of all tasks. */
  usageNs: number;
  /** Time in user mode. */
  userNs: number;
  /** Time in kernel mode. */
  systemNs: number;
  /** Per-CPU totals when the kernel reports them (v1 only). */
  perCpuNs?: number[];
  /** CFS throttling counters. */
  throttling: { periods: number; throttledPeriods: number; throttledTimeNs: number };
}

/** What `docker stats` needs from a container's cgroup. */
export interface CgroupStats {
  /** Memory usage and limit. */
  memory: CgroupMemoryStats;
  /** CPU usage. */
  cpu: CgroupCpuStats;
  /** Number of tasks and the limit (null when unlimited). */
  pids: { current: number; limit: number | null };
}

/** One container's cgroup (in every v1 hierarchy, or the one v2 directory). */
export interface CgroupHandle {
  /** The cgroup version of the driver that made this handle. */
  readonly version: CgroupVersion;
  /** The name given to `create`/`open`, e.g. `docker-ts/<id>`. */
  readonly name: string;
  /**
   * Absolute directories of this cgroup. v1: keyed by hierarchy directory name (`memory`,
   * `cpu,cpuacct`, …); v2: a single entry keyed `""`. The runtime bind-mounts these read-only
   * at the container's `/sys/fs/cgroup`.
   */
  readonly paths: Readonly<Record<string, string>>;
  /** Warnings from the last `create`/`apply` (limits the host cannot enforce, as Docker warns). */
  readonly warnings: readonly string[];
  /** Moves a process (all its threads) into this cgroup. */
  addProcess(pid: number): void;
  /**
   * Moves one thread into this cgroup (v1 `tasks`), so a process it later spawns starts inside
   * it. v2 cannot move single threads of a domain cgroup and throws NotImplementedError.
   */
  addThread(tid: number): void;
  /** Applies resource limits; returns the warnings (also kept in `warnings`). */
  apply(resources: OciResources): string[];
  /** Reads usage counters. Missing controllers read as zero / unlimited. */
  stats(): CgroupStats;
  /** True once the kernel OOM killer has killed a task of this cgroup. */
  oomKilled(): boolean;
  /** Pids of the processes in this cgroup. */
  pids(): number[];
  /** Freezes every task and waits until the kernel reports the cgroup frozen. */
  freeze(): Promise<void>;
  /** Thaws the cgroup and waits until it is running again. */
  thaw(): Promise<void>;
  /**
   * Sends `signal` (default SIGKILL) to every process. For SIGKILL it also waits (briefly)
   * until the cgroup is empty.
   */
  killAll(signal?: Deno.Signal): Promise<void>;
  /**
   * Removes the cgroup (and any sub-cgroups) once its processes are gone. Retries EBUSY briefly;
   * removing a cgroup that no longer exists succeeds.
   */
  remove(): Promise<void>;
}

/** Creates and finds container cgroups under one root. */
export interface CgroupDriver {
  /** 1 or 2. */
  readonly version: CgroupVersion;
  /** The cgroup root (`/sys/fs/cgroup` on a real host). */
  readonly root: string;
  /** The parent every container cgroup lives under (default `docker-ts`). */
  readonly parent: string;
  /**
   * Creates `name` (e.g. `docker-ts/<id>`, created with its parents) and applies `resources`.
   * Throws ConflictError when it already exists; nothing is left behind when it fails.
   */
  create(name: string, resources?: OciResources): CgroupHandle;
  /** Opens an existing cgroup (after a daemon restart). Throws NotFoundError when missing. */
  open(name: string): CgroupHandle;
  /** Whether {@link adopt} can work: cgroup v1 renames directories, cgroup2 refuses (EPERM). */
  readonly canAdopt: boolean;
  /**
   * Renames the existing cgroup `from` to `name` (same parent) in every hierarchy and applies
   * `resources`: the processes inside come along without a migration. A pre-spawned init joins
   * its cgroup off the start path this way, since a write to `cgroup.procs` can wait for an RCU
   * grace period (several ms). Throws NotFoundError when `from` is missing (in any hierarchy)
   * and ConflictError when `name` exists; on failure nothing stays renamed. cgroup2 has no
   * rename: NotImplementedError there ({@link canAdopt} is false).
   */
  adopt(from: string, name: string, resources?: OciResources): CgroupHandle;
  /** Names (`<parent>/<child>`) of the cgroups under `parent`, for cleanup of stale ones. */
  list(): string[];
}

/**
 * Host access used by the drivers: plain file operations plus `kill`. The default implementation
 * talks to the kernel; tests pass a fake that emulates cgroupfs over a temp directory and records
 * every call. Failures throw {@link CgroupSysError}.
 */
export interface CgroupSys {
  /** Reads a whole file as text. */
  readFile(path: string): string;
  /** Writes a file that must already exist (cgroupfs files cannot be created). */
  writeFile(path: string, data: string): void;
  /** True when `path` exists (following symlinks). */
  exists(path: string): boolean;
  /** Creates a directory; returns false when it already existed. */
  mkdir(path: string): boolean;
  /** Removes an (otherwise empty) cgroup directory. */
  rmdir(path: string): void;
  /** Renames a cgroup directory within its parent (rename(2)). */
  rename(from: string, to: string): void;
  /** Names of the sub-directories of `path` (symlinks to directories included). */
  listDirs(path: string): string[];
  /** Canonical path with symlinks resolved. */
  realpath(path: string): string;
  /** Sends a signal; a process that is already gone is not an error. */
  kill(pid: number, signal: Deno.Signal): void;
}

/** A failed host operation, with the errno name so drivers can react to it. */
export class CgroupSysError extends Error {
  /** errno name, e.g. `ENOENT`, `EBUSY`, `EINVAL`. */
  readonly code: string;
  /** The operation, e.g. `write`, `rmdir`. */
  readonly op: string;
  /** The path acted on. */
  readonly path: string;
  constructor(op: string, path: string, code: string, detail: string, options?: ErrorOptions) {
    super(`${op} "${path}": ${code} (${detail})`, options);
    this.name = "CgroupSysError";
    this.code = code;
    this.op = op;
    this.path = path;
  }
}
