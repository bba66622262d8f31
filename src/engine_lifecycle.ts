/**
 * The lifecycle verbs beyond create/start/stop/rm: logs, pause/unpause (cgroup freezer), top,
 * stats, rename, prune, and the stdio of a detached container. The Engine delegates here so its
 * own file stays small; everything works on the container store's facts plus the supervisor.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { CgroupDriver, CgroupHandle } from "./cgroups/types.ts";
import {
  type ContainerLogs,
  type LogStream,
  parseRfc3339Nano,
  type RawAppender,
  readLogs,
} from "./container/logs.ts";
import { withLock } from "./container/lock.ts";
import { copyInto, resolveInRoot } from "./container/cp_paths.ts";
import { copyWithStoppedRootfs, holdStoppedRootfs } from "./runtime/rootfs_copy.ts";
import type { ContainerPathStat } from "./container/cp_archive.ts";
import { assertCanDo, deriveStatus } from "./container/state.ts";
import { type ContainerStore, nameConflictMessage } from "./container/store.ts";
import type { Supervisor } from "./container/supervisor.ts";
import { normalizeName } from "./container/ids.ts";
import type { StoredContainer } from "./container/store.ts";
import type { SupervisionRecord } from "./container/supervisor.ts";
import type {
  ContainerInspect,
  ContainerStats,
  ContainerStatus,
  LogEntry,
  LogsOptions,
  PruneOptions,
  PruneReport,
  TopResult,
} from "./engine_api.ts";
import { ConflictError, InvalidArgumentError, InvalidStateError } from "./errors.ts";
import type { Paths } from "./paths.ts";
import { atomicWriteJsonSync } from "./util/atomic_write.ts";

/** What the lifecycle verbs need from the Engine. */
export interface LifecycleContext {
  paths: Paths;
  store: ContainerStore;
  supervisor: Supervisor;
  cgroupDriver(): Promise<CgroupDriver | null>;
  /** Removes a container (the engine's `remove`). */
  remove(id: string, options?: { force?: boolean }): Promise<void>;
}

function status(ctx: LifecycleContext, id: string): ContainerStatus {
  return deriveStatus(ctx.store.get(id).state);
}

/** The cgroup handle of a container; null without a cgroup driver. */
export async function containerCgroup(
  ctx: LifecycleContext,
  id: string,
): Promise<CgroupHandle | null> {
  const driver = await ctx.cgroupDriver();
  if (!driver) return null;
  const name = (ctx.store.spec(id).linux.cgroupsPath ?? `/docker-ts/${id}`).replace(/^\/+/, "");
  return driver.open(name);
}

/**
 * Removes the cgroup of a container that is not running. Anything still in it is a leftover of
 * ours (an init whose engine died before its start gate, say): killed first, as `runc delete
 * --force` does, so the removal cannot fail with EBUSY and leave the container unstartable.
 */
export async function removeStoppedCgroup(handle: CgroupHandle): Promise<void> {
  let left: number[] = [];
  try {
    left = handle.pids();
  } catch {
    // no such cgroup: nothing to kill
  }
  if (left.length > 0) await handle.killAll("SIGKILL").catch(() => {});
  await handle.remove();
}

// ---------------------------------------------------------------------------------------------
// Detached stdio

/** The child-side stdio of a detached container (the engine's stdio plan shape). */
export interface DetachedStdio {
  childFds: [number, number, number];
  tty?: { slavePath: string };
  closeChildEnds(): void;
  close(options?: { streams?: boolean }): void;
}

/**
 * Stdio for a detached container without a terminal: stdout and stderr the raw log files opened
 * `O_APPEND` — the kernel writes them even if the engine dies — and stdin `/dev/null`, or with
 * `-i` the read end of a pipe whose write end the engine keeps for `attach` (`stdinPipe`; its
 * child end is closed here with the others).
 */
export function openDetachedStdio(
  logs: ContainerLogs,
  stdinPipe?: { childFd: number; closeChildEnd(): void },
): DetachedStdio {
  const [out, err] = logs.openForChild();
  let devnull = -1;
  if (!stdinPipe) {
    try {
      devnull = fs.openSync("/dev/null", "r");
    } catch (e) {
      fs.closeSync(out);
      fs.closeSync(err);
      throw e;
    }
  }
  let open = true;
  const closeAll = (): void => {
    if (!open) return;
    open = false;
    stdinPipe?.closeChildEnd();
    for (const fd of [devnull, out, err]) {
      if (fd < 0) continue;
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
  };
  return {
    childFds: [stdinPipe ? stdinPipe.childFd : devnull, out, err],
    closeChildEnds: closeAll,
    close: closeAll,
  };
}

/**
 * Pumps one output stream of an attached container to its client and into the container's raw
 * log, so `docker logs` shows attached runs too (Docker logs every container's output). Each
 * chunk is appended to the log before it is forwarded, so the log's order within a stream is the
 * client's. `ready` is the log's reset for this run (converting and emptying the previous run's
 * raw files): it runs while the container launches and must end before the first append.
 *
 * A failing client (detached, closed socket) stops the forwarding only: the container keeps
 * being drained into the log, as Docker does. A failing log write (disk full) stops the logging
 * only. `to` is never closed (it may be the process's own stdout). Resolves when `from` ends.
 */
export async function pumpWithLog(
  from: ReadableStream<Uint8Array>,
  to: WritableStream<Uint8Array> | null | undefined,
  options: { logs: ContainerLogs; stream: LogStream; ready: Promise<unknown> },
): Promise<void> {
  const reader = from.getReader();
  let writer = to?.getWriter();
  let appender: RawAppender | undefined;
  let pending: Promise<void> = Promise.resolve();
  const dropWriter = (): void => {
    try {
      writer?.releaseLock();
    } catch {
      // already released
    }
    writer = undefined;
  };
  try {
    await options.ready.catch(() => {});
    try {
      appender = options.logs.openAppender(options.stream);
    } catch {
      // no log for this run (directory removed, disk full): the client still gets the output
    }
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (appender) {
        try {
          appender.write(value);
        } catch {
          appender.close();
          appender = undefined;
        }
      }
      if (!writer) continue;
      // Like pipeTo: honour the client's backpressure, without waiting for each write to land.
      try {
        await writer.ready;
      } catch {
        dropWriter();
        continue;
      }
      pending = writer.write(value).catch(() => dropWriter());
    }
    await pending;
  } catch {
    // the source failed (pipe closed under us): what was read is logged and forwarded
  } finally {
    appender?.close();
    dropWriter();
    reader.releaseLock();
  }
}

/**
 * Adds the supervision facts to an inspect record: restart policy and count, the json log's
 * path, and an unknown exit code shown as -1 with the reason in `State.Error`.
 */
export function withSupervisionFacts(
  info: ContainerInspect,
  c: StoredContainer,
  sup: SupervisionRecord,
  logPath: string,
): ContainerInspect {
  info.HostConfig.RestartPolicy = { ...sup.restartPolicy };
  info.RestartCount = sup.restartCount;
  (info as unknown as Record<string, unknown>).LogPath = logPath;
  (info.HostConfig as unknown as Record<string, unknown>).LogConfig = {
    Type: "json-file",
    Config: {
      ...(sup.log.maxSize !== undefined ? { "max-size": String(sup.log.maxSize) } : {}),
      ...(sup.log.maxFile > 1 ? { "max-file": String(sup.log.maxFile) } : {}),
    },
  };
  if (info.State.Status === "exited" && c.state.exitCode === null) info.State.ExitCode = -1;
  return info;
}

// ---------------------------------------------------------------------------------------------
// Logs

function timeArg(v: string | number | undefined, name: string): bigint | undefined {
  if (v === undefined || v === "" || v === 0) return undefined;
  if (typeof v === "number") return BigInt(Math.round(v * 1e9));
  if (/^\d+(\.\d+)?$/.test(v)) return BigInt(Math.round(Number(v) * 1e9));
  const rel = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(v);
  if (rel) {
    const unit = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 }[rel[2]]!;
    return BigInt(Math.round(Date.now() - Number(rel[1]) * unit)) * 1_000_000n;
  }
  const ns = parseRfc3339Nano(v);
  if (ns < 0n || Number.isNaN(Date.parse(v))) {
    throw new InvalidArgumentError(`Invalid value for "${name}": "${v}"`);
  }
  return ns;
}

/** Reads a container's logs (see {@link LogsOptions}). */
export function containerLogs(
  ctx: LifecycleContext,
  id: string,
  options: LogsOptions = {},
): AsyncIterable<LogEntry> {
  const logs = ctx.supervisor.logs(id);
  const sinceNs = timeArg(options.since, "since");
  const untilNs = timeArg(options.until, "until");
  return readLogs(logs, {
    stdout: options.stdout,
    stderr: options.stderr,
    tail: options.tail,
    sinceNs,
    untilNs,
    follow: options.follow,
    running: () => {
      try {
        const st = status(ctx, id);
        return st === "running" || st === "paused";
      } catch {
        return false;
      }
    },
    signal: options.signal,
  });
}

// ---------------------------------------------------------------------------------------------
// pause / unpause

/** Freezes a running container's cgroup. */
export async function pauseContainer(ctx: LifecycleContext, id: string): Promise<void> {
  await ctx.store.locked(id, async () => {
    const st = status(ctx, id);
    if (st === "paused") throw new InvalidStateError(`Container ${id} is already paused`);
    assertCanDo("pause", st, id);
    const cg = await containerCgroup(ctx, id);
    if (!cg) {
      throw new InvalidArgumentError(`Cannot pause container ${id}: cgroups are not available`);
    }
    await cg.freeze();
    const c = ctx.store.get(id);
    ctx.store.writeState(id, { ...c.state, paused: true });
  });
  ctx.supervisor.emit("pause", id);
}

/** Thaws a paused container's cgroup. */
export async function unpauseContainer(ctx: LifecycleContext, id: string): Promise<void> {
  await ctx.store.locked(id, async () => {
    assertCanDo("unpause", status(ctx, id), id);
    const cg = await containerCgroup(ctx, id);
    if (cg) await cg.thaw();
    const c = ctx.store.get(id);
    ctx.store.writeState(id, { ...c.state, paused: false });
  });
  ctx.supervisor.emit("unpause", id);
}

// ---------------------------------------------------------------------------------------------
// top

/** Pids of a container: its cgroup's, else its first process alone. */
async function containerPids(ctx: LifecycleContext, id: string): Promise<number[]> {
  const c = ctx.store.get(id);
  try {
    const cg = await containerCgroup(ctx, id);
    const pids = cg?.pids() ?? [];
    if (pids.length) return pids;
  } catch {
    // no cgroup: fall back to the first process
  }
  return c.state.pid ? [c.state.pid] : [];
}

/** `docker top`: the host's `ps` output (default `-ef`) restricted to the container's pids. */
export async function topContainer(
  ctx: LifecycleContext,
  id: string,
  psArgs = "-ef",
): Promise<TopResult> {
  const st = status(ctx, id);
  if (st !== "running" && st !== "paused") {
    throw new ConflictError(`Container ${id} is not running`);
  }
  const pids = new Set(await containerPids(ctx, id));
  const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : [];
  const out = await new Deno.Command("ps", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new InvalidArgumentError(
      `Cannot run ps ${psArgs}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim());
  const header = lines.shift() ?? "";
  const titles = header.trim().split(/\s+/);
  const pidCol = titles.indexOf("PID");
  if (pidCol < 0) throw new InvalidArgumentError(`Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(Number(fields[pidCol]))) continue;
    // The last column (CMD/COMMAND) keeps its spaces.
    const row = fields.slice(0, titles.length - 1);
    row.push(fields.slice(titles.length - 1).join(" "));
    processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}

// ---------------------------------------------------------------------------------------------
// stats

function cpuCount(): number {
  try {
    return navigator.hardwareConcurrency || 1;
  } catch {
    return 1;
  }
}

function systemCpuNs(): number {
  // First line of /proc/stat in USER_HZ (100/s) ticks → ns, as Docker's system_cpu_usage.
  const first = Deno.readTextFileSync("/proc/stat").split("\n")[0];
  const ticks = first.trim().split(/\s+/).slice(1, 8).reduce((a, b) => a + Number(b), 0);
  return ticks * 1e7;
}

/**
 * `GET /containers/{id}/stats?stream=false`: Docker's stats record, with `precpu_stats` sampled
 * `sampleMs` before `cpu_stats` so the CLI can compute a CPU percentage.
 */
export async function statsContainer(
  ctx: LifecycleContext,
  id: string,
  sampleMs = 200,
): Promise<ContainerStats> {
  const c = ctx.store.get(id);
  const st = deriveStatus(c.state);
  const running = st === "running" || st === "paused";
  const cg = running ? await containerCgroup(ctx, id).catch(() => null) : null;
  const sample = (): {
    cpu: Record<string, unknown>;
    mem: Record<string, unknown>;
    pids: number;
  } => {
    if (!cg) return { cpu: { cpu_usage: { total_usage: 0 } }, mem: {}, pids: 0 };
    const s = cg.stats();
    return {
      cpu: {
        cpu_usage: {
          total_usage: s.cpu.usageNs,
          usage_in_kernelmode: s.cpu.systemNs,
          usage_in_usermode: s.cpu.userNs,
          ...(s.cpu.perCpuNs ? { percpu_usage: s.cpu.perCpuNs } : {}),
        },
        system_cpu_usage: systemCpuNs(),
        online_cpus: cpuCount(),
        throttling_data: {
          periods: s.cpu.throttling.periods,
          throttled_periods: s.cpu.throttling.throttledPeriods,
          throttled_time: s.cpu.throttling.throttledTimeNs,
        },
      },
      mem: {
        usage: s.memory.usage,
        ...(s.memory.maxUsage !== undefined ? { max_usage: s.memory.maxUsage } : {}),
        limit: s.memory.limit ?? Deno.systemMemoryInfo().total,
        failcnt: s.memory.failcnt,
        stats: s.memory.stats,
      },
      pids: s.pids.current,
    };
  };
  const pre = sample();
  const preRead = new Date().toISOString();
  if (cg) await new Promise((r) => setTimeout(r, sampleMs));
  const now = sample();
  return {
    id,
    name: `/${c.record.name}`,
    read: cg ? new Date().toISOString() : "0001-01-01T00:00:00Z",
    preread: cg ? preRead : "0001-01-01T00:00:00Z",
    pids_stats: { current: now.pids },
    cpu_stats: now.cpu,
    precpu_stats: pre.cpu,
    memory_stats: now.mem,
    blkio_stats: {},
    networks: {},
  };
}

// ---------------------------------------------------------------------------------------------
// rename

/**
 * Renames a container. Runs under the store lock the create path takes (same lock file), so a
 * concurrent create cannot take the name meanwhile.
 */
export async function renameContainer(
  ctx: LifecycleContext,
  id: string,
  newName: string,
): Promise<void> {
  const name = normalizeName(newName);
  const lock = path.join(ctx.paths.locksDir, "containers.lock");
  await withLock(lock, () => {
    const current = ctx.store.get(id).record;
    if (current.name === name) {
      throw new ConflictError(`Renaming a container with the same name as its current name`);
    }
    for (const other of ctx.store.ids()) {
      if (other === id) continue;
      try {
        if (ctx.store.get(other).record.name === name) {
          throw new ConflictError(nameConflictMessage(name, other));
        }
      } catch (err) {
        if (err instanceof ConflictError) throw err;
      }
    }
    // container.json is the create-time record; the name is its one mutable field.
    atomicWriteJsonSync(path.join(ctx.store.dir(id), "container.json"), { ...current, name });
  });
  ctx.supervisor.emit("rename", id, { name });
}

// ---------------------------------------------------------------------------------------------
// prune

/** `docker container prune`: removes every stopped container matching the filters. */
export async function pruneContainers(
  ctx: LifecycleContext,
  options: PruneOptions = {},
): Promise<PruneReport> {
  const deleted: string[] = [];
  let space = 0;
  const untilMs = options.until === undefined
    ? Infinity
    : typeof options.until === "number"
    ? options.until * 1000
    : /^\d+(\.\d+)?$/.test(options.until)
    ? Number(options.until) * 1000
    : Date.parse(options.until);
  for (const id of ctx.store.ids()) {
    let c;
    try {
      c = ctx.store.get(id);
    } catch {
      continue;
    }
    const st = deriveStatus(c.state);
    if (st !== "exited" && st !== "created" && st !== "dead") continue;
    if (Date.parse(c.record.created) > untilMs) continue;
    if (options.labels?.length && !options.labels.every((l) => labelMatches(c.record.labels, l))) {
      continue;
    }
    const size = dirSize(c.record.paths.upper);
    try {
      await ctx.remove(id);
      deleted.push(id);
      space += size;
    } catch {
      // started or removed meanwhile
    }
  }
  return { ContainersDeleted: deleted, SpaceReclaimed: space };
}

function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const neg = filter.startsWith("!");
  const f = neg ? filter.slice(1) : filter;
  const eq = f.indexOf("=");
  const hit = eq < 0 ? f in labels : labels[f.slice(0, eq)] === f.slice(eq + 1);
  return neg ? !hit : hit;
}

/** Bytes used by regular files under `dir` (not following symlinks). */
export function dirSize(dir: string): number {
  let total = 0;
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        try {
          total += fs.lstatSync(p).size;
        } catch {
          // gone
        }
      }
    }
  };
  walk(dir);
  return total;
}

// ---------------------------------------------------------------------------------------------
// cp

/** A running container's root, or null when it has no process (created or exited). */
function runningRoot(ctx: LifecycleContext, id: string): string | null {
  const c = ctx.store.get(id);
  const st = deriveStatus(c.state);
  return st === "running" || st === "paused" ? `/proc/${c.state.pid}/root` : null;
}

/** The copy of a stopped container: its rootfs mounted privately on a single-use Worker. */
function stoppedCopy(
  ctx: LifecycleContext,
  id: string,
  direction: "from" | "to",
  src: string,
  dest: string,
): Promise<void> {
  const { record } = ctx.store.get(id);
  return copyWithStoppedRootfs({
    rootfs: record.rootfs,
    // Unused while the container is stopped; the mount on it exists only in the Worker's
    // namespace.
    mountpoint: record.paths.merged,
    direction,
    src,
    dest,
  });
}

/**
 * `docker cp CONTAINER:SRC DEST`: copies out of a container, symlinks confined to its root. A
 * running container is reached through `/proc/<pid>/root`, a stopped one through its rootfs.
 */
export async function copyFromContainer(
  ctx: LifecycleContext,
  id: string,
  src: string,
  dest: string,
): Promise<void> {
  const root = runningRoot(ctx, id);
  if (root === null) return await stoppedCopy(ctx, id, "from", src, dest);
  // Like docker: a trailing symlink is copied as a link unless the path ends in "/" or "/.".
  const from = resolveInRoot(root, src, { followLast: /\/\.?$/.test(src) });
  copyInto(from, dest, { src, dest });
}

/** `docker cp SRC CONTAINER:DEST`: copies into a container (running or not), symlinks confined. */
export async function copyToContainer(
  ctx: LifecycleContext,
  id: string,
  src: string,
  dest: string,
): Promise<void> {
  if (ctx.store.get(id).record.options.readOnly) {
    throw new ConflictError(
      `Cannot copy to container ${id}: its root filesystem is read-only`,
    );
  }
  const root = runningRoot(ctx, id);
  if (root === null) return await stoppedCopy(ctx, id, "to", src, dest);
  const to = resolveInRoot(root, dest);
  copyInto(src, to, { src, dest });
}

/** A container's root as a host path, valid until `release` (a stopped one is mounted meanwhile). */
async function leaseRoot(
  ctx: LifecycleContext,
  id: string,
): Promise<{ root: string; release(): Promise<void> }> {
  const root = runningRoot(ctx, id);
  if (root !== null) return { root, release: () => Promise.resolve() };
  const { record } = ctx.store.get(id);
  // merged is unused while the container is stopped; the mount exists in the Worker's namespace.
  return await holdStoppedRootfs({ rootfs: record.rootfs, mountpoint: record.paths.merged });
}

/** `HEAD /containers/{id}/archive`: the stat of a path in a container (running or not). */
export async function statContainerPath(
  ctx: LifecycleContext,
  id: string,
  ref: string,
  p: string,
): Promise<ContainerPathStat> {
  const { statInRoot } = await import("./container/cp_archive.ts");
  const lease = await leaseRoot(ctx, id);
  try {
    return statInRoot(lease.root, p, ref);
  } finally {
    await lease.release();
  }
}

/**
 * `docker cp CONTAINER:SRC -`: the stat of SRC and a tar stream of it. A stopped container's
 * rootfs stays mounted (privately) until the stream ends or is cancelled. Errors about SRC are
 * thrown before the stream is returned.
 */
export async function archiveFromContainer(
  ctx: LifecycleContext,
  id: string,
  ref: string,
  p: string,
): Promise<{ stat: ContainerPathStat; tar: ReadableStream<Uint8Array> }> {
  const [{ archiveFromRoot }, { tarStream }] = await Promise.all([
    import("./container/cp_archive.ts"),
    import("./image/tar_writer.ts"),
  ]);
  const lease = await leaseRoot(ctx, id);
  let out: ReturnType<typeof archiveFromRoot>;
  try {
    out = archiveFromRoot(lease.root, p, ref);
  } catch (err) {
    await lease.release();
    throw err;
  }
  const reader = tarStream(out.entries).getReader();
  const tar = new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      try {
        const { value, done } = await reader.read();
        if (!done) return controller.enqueue(value);
        await lease.release();
        controller.close();
      } catch (err) {
        await lease.release();
        controller.error(err);
      }
    },
    async cancel(reason): Promise<void> {
      await reader.cancel(reason).catch(() => {});
      await lease.release();
    },
  }, { highWaterMark: 0 });
  return { stat: out.stat, tar };
}

/**
 * `docker cp - CONTAINER:DEST`: extracts a tar stream into the directory DEST of a container
 * (running or not), confined to its root, owners kept from the archive. The archive is staged
 * under the engine's tmp dir first: a bad archive changes nothing in the container.
 */
export async function archiveToContainer(
  ctx: LifecycleContext,
  id: string,
  ref: string,
  p: string,
  tar: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: { copyUIDGID?: boolean; noOverwriteDirNonDir?: boolean } = {},
): Promise<void> {
  const { record } = ctx.store.get(id);
  if (record.options.readOnly) {
    throw new ConflictError(`Cannot copy to container ${ref}: its root filesystem is read-only`);
  }
  const { extractIntoRoot } = await import("./container/cp_archive.ts");
  // Docker's copyUIDGID: with a configured user, everything extracted is owned by that user.
  const user = ctx.store.spec(id).process.user;
  const chown = options.copyUIDGID && (record.options.user || user.uid !== 0 || user.gid !== 0)
    ? { uid: user.uid, gid: user.gid }
    : undefined;
  const lease = await leaseRoot(ctx, id);
  try {
    await extractIntoRoot(lease.root, p, ref, tar, path.join(ctx.paths.tmpDir, "cp"), {
      chown,
      noOverwriteDirNonDir: options.noOverwriteDirNonDir,
    });
  } finally {
    await lease.release();
  }
}
