/**
 * cgroup v1 driver: one directory per hierarchy (`<root>/memory/<name>`, `<root>/cpu/<name>`, …).
 * Also the driver for hybrid hosts (v1 controllers plus a mostly empty cgroup2 mount), which
 * crun refuses and docker-ts must not.
 *
 * @module
 */
import { ConflictError, InternalError, NotFoundError, NotImplementedError } from "../errors.ts";
import type { OciResources } from "../runtime/oci_spec.ts";
import {
  parseCount,
  parseKeyValues,
  parseLimit,
  parsePids,
  pollUntil,
  readOptional,
  removeEmptyAncestors,
  removeTree,
  retryVanishedParent,
  validateName,
  wrapSysError,
  writeControl,
} from "./_common.ts";
import { planResources, type ResourcePlan } from "./resources.ts";
import { RealCgroupSys } from "./sys.ts";
import {
  type CgroupDriver,
  type CgroupHandle,
  type CgroupStats,
  type CgroupSys,
  CgroupSysError,
} from "./types.ts";

/** Controllers a container joins when the host mounts them (Docker joins every hierarchy). */
const KNOWN_CONTROLLERS = new Set([
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "pids",
  "freezer",
  "blkio",
  "devices",
  "net_cls",
  "net_prio",
  "hugetlb",
  "perf_event",
  "rdma",
  "misc",
]);

const FREEZE_TIMEOUT_MS = 2000;
const KILL_WAIT_MS = 2000;

/** One mounted v1 hierarchy. */
interface Hierarchy {
  /** Directory name under the root (`memory`, `cpu,cpuacct`). */
  key: string;
  /** Absolute mount directory. */
  mount: string;
  /** Controllers attached to it. */
  controllers: Set<string>;
}

/** Options for {@link V1Driver}. */
export interface V1DriverOptions {
  /** cgroup root holding one directory per hierarchy. Default `/sys/fs/cgroup`. */
  root?: string;
  /** Parent of container cgroups, used by `list()`. Default `docker-ts`. */
  parent?: string;
  /** Host access; default the kernel. */
  sys?: CgroupSys;
}

/** Finds the v1 hierarchies under `root`, one entry per mount even when symlinked twice. */
function discover(sys: CgroupSys, root: string): Hierarchy[] {
  const byMount = new Map<string, Hierarchy>();
  for (const name of sys.listDirs(root)) {
    const controllers = name.split(",").filter((c) => KNOWN_CONTROLLERS.has(c));
    if (controllers.length === 0) continue;
    const mount = sys.realpath(`${root}/${name}`);
    const known = byMount.get(mount);
    if (known) {
      for (const c of controllers) known.controllers.add(c);
      continue;
    }
    const key = mount.slice(mount.lastIndexOf("/") + 1);
    byMount.set(mount, { key, mount, controllers: new Set(controllers) });
  }
  return [...byMount.values()].sort((a, b) => a.key.localeCompare(b.key));
}

/** cgroup v1 driver (also hybrid hosts). */
export class V1Driver implements CgroupDriver {
  /** Always 1. */
  readonly version = 1 as const;
  /** The cgroup root. */
  readonly root: string;
  /** Parent of container cgroups. */
  readonly parent: string;
  readonly #sys: CgroupSys;
  #hierarchies: Hierarchy[] | undefined;

  constructor(options: V1DriverOptions = {}) {
    this.root = options.root ?? "/sys/fs/cgroup";
    this.parent = options.parent ?? "docker-ts";
    validateName(this.parent);
    this.#sys = options.sys ?? new RealCgroupSys();
  }

  /** The hierarchies, discovered once. */
  get hierarchies(): readonly Hierarchy[] {
    if (!this.#hierarchies) {
      try {
        this.#hierarchies = discover(this.#sys, this.root);
      } catch (err) {
        throw wrapSysError(`Cannot list cgroup v1 hierarchies under "${this.root}"`, err);
      }
    }
    return this.#hierarchies;
  }

  /** Creates the cgroup in every hierarchy and applies `resources`; rolls back on failure. */
  create(name: string, resources: OciResources = {}): CgroupHandle {
    return retryVanishedParent(() => this.#createOnce(name, resources));
  }

  #createOnce(name: string, resources: OciResources): CgroupHandle {
    const parts = validateName(name);
    const plan = planResources(resources);
    const hierarchies = this.hierarchies;
    if (hierarchies.length === 0) {
      throw new NotImplementedError(
        `Cannot create cgroup "${name}": no cgroup v1 controllers under "${this.root}"`,
      );
    }
    for (const h of hierarchies) {
      if (this.#sys.exists(`${h.mount}/${name}`)) {
        throw new ConflictError(
          `Cannot create cgroup "${name}": it already exists in "${h.mount}"`,
        );
      }
    }
    const created: string[] = [];
    try {
      for (const h of hierarchies) {
        let dir = h.mount;
        for (const part of parts) {
          const parentDir = dir;
          dir = `${dir}/${part}`;
          let made: boolean;
          try {
            made = this.#sys.mkdir(dir);
          } catch (err) {
            throw wrapSysError(`Cannot create cgroup "${dir}"`, err);
          }
          if (made && dir === `${h.mount}/${name}`) created.push(dir);
          // A new cpuset starts with no CPUs and no memory nodes, and no task can join it until
          // both are set; copy them down level by level (unless the kernel already cloned them).
          if (h.controllers.has("cpuset")) this.#inheritCpuset(parentDir, dir);
        }
      }
      const handle = new V1Handle(this.#sys, name, this.#dirsOf(name, hierarchies));
      handle.applyPlan(plan, true);
      return handle;
    } catch (err) {
      for (const dir of created.reverse()) {
        try {
          this.#sys.rmdir(dir);
        } catch { /* best effort: nothing joined it yet, so only a racing rmdir can fail */ }
      }
      throw err;
    }
  }

  /** {@inheritDoc CgroupDriver.canAdopt} */
  readonly canAdopt = true;

  /** {@inheritDoc CgroupDriver.adopt} */
  adopt(from: string, name: string, resources: OciResources = {}): CgroupHandle {
    validateName(from);
    validateName(name);
    const plan = planResources(resources);
    const present = this.hierarchies.filter((h) => this.#sys.exists(`${h.mount}/${from}`));
    // Missing from a hierarchy, the container would go unlimited there: refuse instead.
    if (present.length === 0 || present.length !== this.hierarchies.length) {
      throw new NotFoundError(`Cannot adopt cgroup "${from}": not found in every hierarchy`);
    }
    for (const h of this.hierarchies) {
      if (this.#sys.exists(`${h.mount}/${name}`)) {
        throw new ConflictError(`Cannot adopt cgroup "${from}": "${name}" already exists`);
      }
    }
    const renamed: Hierarchy[] = [];
    const undo = (): void => {
      for (const h of renamed.reverse()) {
        try {
          this.#sys.rename(`${h.mount}/${name}`, `${h.mount}/${from}`);
        } catch { /* best effort */ }
      }
    };
    try {
      for (const h of present) {
        try {
          this.#sys.rename(`${h.mount}/${from}`, `${h.mount}/${name}`);
        } catch (err) {
          throw wrapSysError(`Cannot rename cgroup "${h.mount}/${from}"`, err);
        }
        renamed.push(h);
      }
      const handle = new V1Handle(this.#sys, name, this.#dirsOf(name, present));
      handle.applyPlan(plan, true);
      return handle;
    } catch (err) {
      undo();
      throw err;
    }
  }

  /** Opens an existing cgroup in the hierarchies where it exists. */
  open(name: string): CgroupHandle {
    validateName(name);
    const present = this.hierarchies.filter((h) => this.#sys.exists(`${h.mount}/${name}`));
    if (present.length === 0) throw new NotFoundError(`Cannot open cgroup "${name}": not found`);
    return new V1Handle(this.#sys, name, this.#dirsOf(name, present));
  }

  /** `<parent>/<child>` for every child of the parent in any hierarchy. */
  list(): string[] {
    const names = new Set<string>();
    for (const h of this.hierarchies) {
      const dir = `${h.mount}/${this.parent}`;
      if (!this.#sys.exists(dir)) continue;
      try {
        for (const child of this.#sys.listDirs(dir)) names.add(`${this.parent}/${child}`);
      } catch (err) {
        throw wrapSysError(`Cannot list cgroups in "${dir}"`, err);
      }
    }
    return [...names].sort();
  }

  #dirsOf(name: string, hierarchies: readonly Hierarchy[]): Map<string, HierarchyDir> {
    return new Map(
      hierarchies.map((h) => [h.key, { dir: `${h.mount}/${name}`, controllers: h.controllers }]),
    );
  }

  #inheritCpuset(parentDir: string, dir: string): void {
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      const own = readOptional(this.#sys, `${dir}/${file}`);
      if (own === undefined || own.trim() !== "") continue;
      const inherited = readOptional(this.#sys, `${parentDir}/${file}`)?.trim() ?? "";
      if (inherited !== "") writeControl(this.#sys, `${dir}/${file}`, inherited);
    }
  }
}

/** The container's directory in one hierarchy. */
interface HierarchyDir {
  dir: string;
  controllers: Set<string>;
}

/** Docker's warnings when a limit cannot be enforced. */
const WARN = {
  memory:
    "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.",
  swap:
    "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.",
  reservation:
    "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.",
  oom: "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
  shares: "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.",
  quota:
    "Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. CPU quota discarded.",
  period:
    "Your kernel does not support CPU CFS period or the cgroup is not mounted. Period discarded.",
  cpuset: "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.",
  pids:
    "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.",
  devices: "Your kernel does not support the devices cgroup. Device rules discarded.",
} as const;

/** A container's cgroup on v1. */
class V1Handle implements CgroupHandle {
  readonly version = 1 as const;
  readonly name: string;
  readonly paths: Readonly<Record<string, string>>;
  #warnings: string[] = [];
  readonly #sys: CgroupSys;
  readonly #dirs: Map<string, HierarchyDir>;

  constructor(sys: CgroupSys, name: string, dirs: Map<string, HierarchyDir>) {
    this.#sys = sys;
    this.name = name;
    this.#dirs = dirs;
    this.paths = Object.freeze(Object.fromEntries([...dirs].map(([k, v]) => [k, v.dir])));
  }

  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /** Directory of the hierarchy carrying `controller`, if mounted. */
  #dir(controller: string): string | undefined {
    for (const h of this.#dirs.values()) if (h.controllers.has(controller)) return h.dir;
    return undefined;
  }

  /** `<dir of controller>/<file>` when that file exists, else undefined. */
  #file(controller: string, file: string): string | undefined {
    const dir = this.#dir(controller);
    if (dir === undefined) return undefined;
    const path = `${dir}/${file}`;
    return this.#sys.exists(path) ? path : undefined;
  }

  #read(controller: string, file: string): string | undefined {
    const dir = this.#dir(controller);
    return dir === undefined ? undefined : readOptional(this.#sys, `${dir}/${file}`);
  }

  addProcess(pid: number): void {
    this.#join("cgroup.procs", pid, "process");
  }

  addThread(tid: number): void {
    this.#join("tasks", tid, "thread");
  }

  #join(file: string, id: number, what: string): void {
    if (!Number.isSafeInteger(id) || id <= 0) {
      throw new InternalError(
        `Cannot add ${what} "${id}" to cgroup "${this.name}": not a valid id`,
      );
    }
    for (const { dir } of this.#dirs.values()) {
      try {
        this.#sys.writeFile(`${dir}/${file}`, String(id));
      } catch (err) {
        if (err instanceof CgroupSysError && err.code === "ESRCH") {
          throw new NotFoundError(
            `Cannot add ${what} ${id} to cgroup "${this.name}": no such ${what}`,
            { cause: err },
          );
        }
        throw wrapSysError(`Cannot add ${what} ${id} to cgroup "${dir}"`, err);
      }
    }
  }

  apply(resources: OciResources): string[] {
    return this.applyPlan(planResources(resources), false);
  }

  /** Writes a validated plan. `creating` allows the device rules (only set before tasks join). */
  applyPlan(plan: ResourcePlan, creating: boolean): string[] {
    const warnings: string[] = [];
    const sys = this.#sys;

    // cpuset first: the other controllers do not depend on it, but tasks joining later must land
    // on the right CPUs from their first instruction.
    for (
      const [value, file] of [[plan.cpusetCpus, "cpuset.cpus"], [plan.cpusetMems, "cpuset.mems"]]
    ) {
      if (value === undefined) continue;
      const path = this.#file("cpuset", file!);
      if (path) writeControl(sys, path, value);
      else warnings.push(WARN.cpuset);
    }

    this.#applyMemory(plan, warnings);

    if (plan.cpuShares !== undefined) {
      const path = this.#file("cpu", "cpu.shares");
      if (path) writeControl(sys, path, String(plan.cpuShares));
      else warnings.push(WARN.shares);
    }
    this.#applyCfs(plan, warnings);

    if (plan.pidsLimit !== undefined) {
      const path = this.#file("pids", "pids.max");
      if (path) writeControl(sys, path, plan.pidsLimit < 0 ? "max" : String(plan.pidsLimit));
      else warnings.push(WARN.pids);
    }

    if (plan.devices && creating) {
      const dir = this.#dir("devices");
      if (dir === undefined) warnings.push(WARN.devices);
      else {
        for (const { allow, rule } of plan.devices) {
          writeControl(sys, `${dir}/${allow ? "devices.allow" : "devices.deny"}`, rule);
        }
      }
    }

    this.#warnings = [...new Set(warnings)];
    return [...this.#warnings];
  }

  /**
   * memory.memsw.limit_in_bytes must stay ≥ memory.limit_in_bytes at every instant, so raising
   * writes memsw first and lowering writes the limit first. Should the kernel still refuse (the
   * current values were not what we guessed), the other order is tried once.
   */
  #applyMemory(plan: ResourcePlan, warnings: string[]): void {
    const sys = this.#sys;
    const dir = this.#dir("memory");
    const wantsMemory = plan.memoryLimit !== undefined || plan.memorySwap !== undefined ||
      plan.memoryReservation !== undefined || plan.disableOOMKiller !== undefined;
    if (dir === undefined) {
      if (wantsMemory) warnings.push(WARN.memory);
      return;
    }
    const steps: [string, string][] = [];
    if (plan.memoryLimit !== undefined) {
      steps.push([`${dir}/memory.limit_in_bytes`, String(plan.memoryLimit)]);
    }
    if (plan.memorySwap !== undefined) {
      const memsw = `${dir}/memory.memsw.limit_in_bytes`;
      if (sys.exists(memsw)) steps.push([memsw, String(plan.memorySwap)]);
      else warnings.push(WARN.swap);
    }
    if (steps.length === 2) {
      const current = parseLimit(readOptional(sys, `${dir}/memory.limit_in_bytes`)) ?? Infinity;
      const next = plan.memoryLimit! < 0 ? Infinity : plan.memoryLimit!;
      if (next > current) steps.reverse();
    }
    try {
      for (const [file, value] of steps) writeControl(sys, file, value);
    } catch (err) {
      if (steps.length !== 2) throw err;
      for (const [file, value] of [...steps].reverse()) writeControl(sys, file, value);
    }

    if (plan.memoryReservation !== undefined) {
      const path = `${dir}/memory.soft_limit_in_bytes`;
      if (sys.exists(path)) writeControl(sys, path, String(plan.memoryReservation));
      else warnings.push(WARN.reservation);
    }
    if (plan.disableOOMKiller !== undefined) {
      const path = `${dir}/memory.oom_control`;
      if (sys.exists(path)) writeControl(sys, path, plan.disableOOMKiller ? "1" : "0");
      else warnings.push(WARN.oom);
    }
  }

  /** Period before quota (runc's order); if the kernel refuses, quota first. */
  #applyCfs(plan: ResourcePlan, warnings: string[]): void {
    const steps: [string, string][] = [];
    if (plan.cpuPeriod !== undefined) {
      const path = this.#file("cpu", "cpu.cfs_period_us");
      if (path) steps.push([path, String(plan.cpuPeriod)]);
      else warnings.push(WARN.period);
    }
    if (plan.cpuQuota !== undefined) {
      const path = this.#file("cpu", "cpu.cfs_quota_us");
      if (path) steps.push([path, String(plan.cpuQuota)]);
      else warnings.push(WARN.quota);
    }
    try {
      for (const [file, value] of steps) writeControl(this.#sys, file, value);
    } catch (err) {
      if (steps.length !== 2) throw err;
      for (const [file, value] of [...steps].reverse()) writeControl(this.#sys, file, value);
    }
  }

  stats(): CgroupStats {
    const memStat = parseKeyValues(this.#read("memory", "memory.stat"));
    const cpuStat = parseKeyValues(this.#read("cpu", "cpu.stat"));
    const usageNs = parseCount(this.#read("cpuacct", "cpuacct.usage"));
    let userNs = parseCount(this.#read("cpuacct", "cpuacct.usage_user"));
    let systemNs = parseCount(this.#read("cpuacct", "cpuacct.usage_sys"));
    if (userNs === 0 && systemNs === 0) {
      // Older kernels only have cpuacct.stat, in USER_HZ (100 per second on Linux).
      const ticks = parseKeyValues(this.#read("cpuacct", "cpuacct.stat"));
      userNs = (ticks.user ?? 0) * 10_000_000;
      systemNs = (ticks.system ?? 0) * 10_000_000;
    }
    const perCpuText = this.#read("cpuacct", "cpuacct.usage_percpu");
    const maxUsageText = this.#read("memory", "memory.max_usage_in_bytes");
    return {
      memory: {
        usage: parseCount(this.#read("memory", "memory.usage_in_bytes")),
        ...(maxUsageText === undefined ? {} : { maxUsage: parseCount(maxUsageText) }),
        limit: parseLimit(this.#read("memory", "memory.limit_in_bytes")) ?? null,
        failcnt: parseCount(this.#read("memory", "memory.failcnt")),
        stats: memStat,
      },
      cpu: {
        usageNs,
        userNs,
        systemNs,
        ...(perCpuText === undefined
          ? {}
          : { perCpuNs: perCpuText.trim().split(/\s+/).filter((s) => s !== "").map(Number) }),
        throttling: {
          periods: cpuStat.nr_periods ?? 0,
          throttledPeriods: cpuStat.nr_throttled ?? 0,
          throttledTimeNs: cpuStat.throttled_time ?? 0,
        },
      },
      pids: {
        current: parseCount(this.#read("pids", "pids.current")),
        limit: parseLimit(this.#read("pids", "pids.max")) ?? null,
      },
    };
  }

  /**
   * `memory.oom_control` has an `oom_kill` counter since Linux 4.13. Older kernels only have
   * `under_oom` and `memory.failcnt`: a hit limit with the cgroup under OOM is the best signal.
   */
  oomKilled(): boolean {
    const control = parseKeyValues(this.#read("memory", "memory.oom_control"));
    if (control.oom_kill !== undefined) return control.oom_kill > 0;
    return (control.under_oom ?? 0) > 0 &&
      parseCount(this.#read("memory", "memory.failcnt")) > 0;
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const { dir } of this.#dirs.values()) {
      for (const pid of parsePids(readOptional(this.#sys, `${dir}/cgroup.procs`))) all.add(pid);
    }
    return [...all].sort((a, b) => a - b);
  }

  async freeze(): Promise<void> {
    const file = this.#freezerFile("freeze");
    // The kernel may report FREEZING while tasks finish syscalls; re-writing FROZEN nudges the
    // stragglers (runc does the same).
    const frozen = await pollUntil(() => {
      writeControl(this.#sys, file, "FROZEN");
      return readOptional(this.#sys, file)?.trim() === "FROZEN";
    }, FREEZE_TIMEOUT_MS);
    if (!frozen) {
      writeControl(this.#sys, file, "THAWED");
      throw new InternalError(
        `Cannot freeze cgroup "${this.name}": still freezing after ${FREEZE_TIMEOUT_MS} ms`,
      );
    }
  }

  async thaw(): Promise<void> {
    const file = this.#freezerFile("thaw");
    const thawed = await pollUntil(() => {
      writeControl(this.#sys, file, "THAWED");
      return readOptional(this.#sys, file)?.trim() === "THAWED";
    }, FREEZE_TIMEOUT_MS);
    if (!thawed) {
      throw new InternalError(
        `Cannot thaw cgroup "${this.name}": not thawed after ${FREEZE_TIMEOUT_MS} ms`,
      );
    }
  }

  #freezerFile(action: string): string {
    const file = this.#file("freezer", "freezer.state");
    if (!file) {
      throw new NotImplementedError(
        `Cannot ${action} cgroup "${this.name}": the freezer controller is not mounted`,
      );
    }
    return file;
  }

  /**
   * SIGKILL: freeze (so nothing forks new tasks between the listing and the signals), kill every
   * task, thaw, then wait until the cgroup is empty. Other signals are sent as they are.
   */
  async killAll(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const canFreeze = signal === "SIGKILL" && this.#file("freezer", "freezer.state") !== undefined;
    if (canFreeze) await this.freeze();
    try {
      for (const pid of this.pids()) this.#signal(pid, signal);
    } finally {
      if (canFreeze) await this.thaw();
    }
    if (signal !== "SIGKILL") return;
    const empty = await pollUntil(() => this.pids().length === 0, KILL_WAIT_MS);
    if (!empty) {
      throw new InternalError(
        `Cannot kill the processes of cgroup "${this.name}": some are left after ${KILL_WAIT_MS} ms`,
      );
    }
  }

  #signal(pid: number, signal: Deno.Signal): void {
    try {
      this.#sys.kill(pid, signal);
    } catch (err) {
      throw wrapSysError(`Cannot send ${signal} to process ${pid} of cgroup "${this.name}"`, err);
    }
  }

  async remove(): Promise<void> {
    const levels = this.name.split("/").filter(Boolean).length - 1;
    for (const { dir } of this.#dirs.values()) {
      await removeTree(this.#sys, dir);
      removeEmptyAncestors(this.#sys, dir, levels);
    }
  }
}
