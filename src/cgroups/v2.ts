/**
 * cgroup v2 driver: one directory `<root>/<name>` in the unified hierarchy.
 *
 * The "no internal processes" rule: a non-root cgroup with controllers enabled in its
 * `cgroup.subtree_control` may not hold processes itself. Containers therefore only ever live in
 * leaves (`docker-ts/<id>`), and the `docker-ts` parent only holds child cgroups, so enabling
 * controllers on the way down is always allowed.
 *
 * @module
 */
import {
  ConflictError,
  InternalError,
  InvalidStateError,
  NotFoundError,
  NotImplementedError,
} from "../errors.ts";
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
import { planResources, type ResourcePlan, sharesToWeight } from "./resources.ts";
import { RealCgroupSys } from "./sys.ts";
import {
  type CgroupDriver,
  type CgroupHandle,
  type CgroupStats,
  type CgroupSys,
  CgroupSysError,
} from "./types.ts";

/**
 * Controllers enabled for container cgroups when the parent offers them: the ones limits and
 * `docker stats` use. Others (hugetlb, rdma, misc) are left alone so the host's tree is not
 * changed for nothing.
 */
const WANTED_CONTROLLERS = ["cpu", "cpuset", "io", "memory", "pids"];

const FREEZE_TIMEOUT_MS = 2000;
const KILL_WAIT_MS = 2000;

/** Options for {@link V2Driver}. */
export interface V2DriverOptions {
  /** The cgroup2 mount (or a delegated sub-tree). Default `/sys/fs/cgroup`. */
  root?: string;
  /** Parent of container cgroups, used by `list()`. Default `docker-ts`. */
  parent?: string;
  /** Host access; default the kernel. */
  sys?: CgroupSys;
}

function tokens(text: string | undefined): Set<string> {
  return new Set((text ?? "").split(/\s+/).map((t) => t.replace(/^\+/, "")).filter((t) => t));
}

/** cgroup v2 driver. */
export class V2Driver implements CgroupDriver {
  /** Always 2. */
  readonly version = 2 as const;
  /** The cgroup2 root. */
  readonly root: string;
  /** Parent of container cgroups. */
  readonly parent: string;
  readonly #sys: CgroupSys;

  constructor(options: V2DriverOptions = {}) {
    this.root = options.root ?? "/sys/fs/cgroup";
    this.parent = options.parent ?? "docker-ts";
    validateName(this.parent);
    this.#sys = options.sys ?? new RealCgroupSys();
  }

  /**
   * Creates every missing level, enabling the wanted controllers in each ancestor's
   * `cgroup.subtree_control` (top-down: a controller must be enabled in the parent before the
   * child can enable it), then applies `resources`. Rolls the leaf back on failure.
   */
  create(name: string, resources: OciResources = {}): CgroupHandle {
    return retryVanishedParent(() => this.#createOnce(name, resources));
  }

  #createOnce(name: string, resources: OciResources): CgroupHandle {
    const parts = validateName(name);
    const plan = planResources(resources);
    const sys = this.#sys;
    const leaf = `${this.root}/${name}`;
    if (sys.exists(leaf)) {
      throw new ConflictError(
        `Cannot create cgroup "${name}": it already exists in "${this.root}"`,
      );
    }
    let createdLeaf = false;
    try {
      let dir = this.root;
      for (const part of parts) {
        this.#enableControllers(dir);
        dir = `${dir}/${part}`;
        let made: boolean;
        try {
          made = sys.mkdir(dir);
        } catch (err) {
          throw wrapSysError(`Cannot create cgroup "${dir}"`, err);
        }
        if (made && dir === leaf) createdLeaf = true;
      }
      const handle = new V2Handle(sys, name, leaf);
      handle.applyPlan(plan);
      return handle;
    } catch (err) {
      if (createdLeaf) {
        try {
          sys.rmdir(leaf);
        } catch { /* best effort: no task joined it yet */ }
      }
      throw err;
    }
  }

  /** Enables, in `dir`'s subtree_control, the wanted controllers `dir` has and lacks there. */
  #enableControllers(dir: string): void {
    const sys = this.#sys;
    const available = tokens(readOptional(sys, `${dir}/cgroup.controllers`));
    const enabled = tokens(readOptional(sys, `${dir}/cgroup.subtree_control`));
    const missing = WANTED_CONTROLLERS.filter((c) => available.has(c) && !enabled.has(c));
    if (missing.length === 0) return;
    const file = `${dir}/cgroup.subtree_control`;
    try {
      sys.writeFile(file, missing.map((c) => `+${c}`).join(" "));
    } catch (err) {
      if (err instanceof CgroupSysError && err.code === "EBUSY") {
        throw new InvalidStateError(
          `Cannot enable controllers "${
            missing.join(" ")
          }" in "${file}": the cgroup has processes of its own (no internal processes rule)`,
          { cause: err },
        );
      }
      throw wrapSysError(`Cannot enable controllers "${missing.join(" ")}" in "${file}"`, err);
    }
  }

  /** {@inheritDoc CgroupDriver.canAdopt} */
  readonly canAdopt = false;

  /** {@inheritDoc CgroupDriver.adopt} */
  adopt(from: string, _name: string, _resources: OciResources = {}): CgroupHandle {
    // The cgroup2 filesystem has no rename (its kernfs ops lack one): EPERM, whatever the tree.
    throw new NotImplementedError(`Cannot adopt cgroup "${from}": cgroup v2 cannot rename cgroups`);
  }

  /** Opens an existing cgroup. */
  open(name: string): CgroupHandle {
    validateName(name);
    const dir = `${this.root}/${name}`;
    if (!this.#sys.exists(dir)) throw new NotFoundError(`Cannot open cgroup "${name}": not found`);
    return new V2Handle(this.#sys, name, dir);
  }

  /** `<parent>/<child>` for every child of the parent. */
  list(): string[] {
    const dir = `${this.root}/${this.parent}`;
    if (!this.#sys.exists(dir)) return [];
    try {
      return this.#sys.listDirs(dir).map((child) => `${this.parent}/${child}`).sort();
    } catch (err) {
      throw wrapSysError(`Cannot list cgroups in "${dir}"`, err);
    }
  }
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
  cpuset: "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.",
  pids:
    "Your kernel does not support PIDs limit capabilities or the cgroup is not mounted. PIDs limit discarded.",
  devices:
    "Device cgroup rules need an eBPF program on cgroup v2, which docker-ts does not load yet. Device rules discarded.",
} as const;

/** A container's cgroup on v2. */
class V2Handle implements CgroupHandle {
  readonly version = 2 as const;
  readonly name: string;
  readonly paths: Readonly<Record<string, string>>;
  #warnings: string[] = [];
  readonly #sys: CgroupSys;
  readonly #dir: string;

  constructor(sys: CgroupSys, name: string, dir: string) {
    this.#sys = sys;
    this.name = name;
    this.#dir = dir;
    this.paths = Object.freeze({ "": dir });
  }

  get warnings(): readonly string[] {
    return this.#warnings;
  }

  #path(file: string): string {
    return `${this.#dir}/${file}`;
  }

  #existing(file: string): string | undefined {
    const path = this.#path(file);
    return this.#sys.exists(path) ? path : undefined;
  }

  #read(file: string): string | undefined {
    return readOptional(this.#sys, this.#path(file));
  }

  addProcess(pid: number): void {
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      throw new InternalError(
        `Cannot add process "${pid}" to cgroup "${this.name}": not a valid pid`,
      );
    }
    const file = this.#path("cgroup.procs");
    try {
      this.#sys.writeFile(file, String(pid));
    } catch (err) {
      if (err instanceof CgroupSysError && err.code === "ESRCH") {
        throw new NotFoundError(
          `Cannot add process ${pid} to cgroup "${this.name}": no such process`,
          { cause: err },
        );
      }
      if (err instanceof CgroupSysError && err.code === "EBUSY") {
        throw new InvalidStateError(
          `Cannot add process ${pid} to cgroup "${this.#dir}": it has child cgroups with controllers enabled (no internal processes rule)`,
          { cause: err },
        );
      }
      throw wrapSysError(`Cannot add process ${pid} to cgroup "${this.#dir}"`, err);
    }
  }

  addThread(tid: number): never {
    throw new NotImplementedError(
      `Cannot add thread ${tid} to cgroup "${this.name}": cgroup v2 moves whole processes only, use addProcess`,
    );
  }

  apply(resources: OciResources): string[] {
    return this.applyPlan(planResources(resources));
  }

  /** Writes a validated plan. v2 files are independent, so the order is free. */
  applyPlan(plan: ResourcePlan): string[] {
    const warnings: string[] = [];
    const sys = this.#sys;
    const set = (file: string, value: string, warning: string): void => {
      const path = this.#existing(file);
      if (path) writeControl(sys, path, value);
      else warnings.push(warning);
    };
    const v2 = (n: number): string => (n < 0 ? "max" : String(n));

    if (plan.cpusetCpus !== undefined) set("cpuset.cpus", plan.cpusetCpus, WARN.cpuset);
    if (plan.cpusetMems !== undefined) set("cpuset.mems", plan.cpusetMems, WARN.cpuset);

    if (plan.memoryLimit !== undefined) set("memory.max", v2(plan.memoryLimit), WARN.memory);
    if (plan.memorySwap !== undefined) {
      // OCI/Docker give memory+swap; v2 limits swap alone.
      let swapMax = "max";
      if (plan.memorySwap >= 0) {
        const limit = plan.memoryLimit ?? parseLimit(this.#read("memory.max")) ?? null;
        if (limit === null || limit < 0) {
          throw new InternalError(
            `Cannot set memory+swap limit "${plan.memorySwap}" on cgroup "${this.name}": no memory limit is set`,
          );
        }
        swapMax = String(plan.memorySwap - limit);
      }
      set("memory.swap.max", swapMax, WARN.swap);
    }
    if (plan.memoryReservation !== undefined) {
      set("memory.low", v2(plan.memoryReservation), WARN.reservation);
    }
    if (plan.disableOOMKiller) warnings.push(WARN.oom);

    if (plan.cpuShares !== undefined) {
      set("cpu.weight", String(sharesToWeight(plan.cpuShares)), WARN.shares);
    }
    if (plan.cpuQuota !== undefined || plan.cpuPeriod !== undefined) {
      let quota: string;
      if (plan.cpuQuota !== undefined) quota = v2(plan.cpuQuota);
      else quota = (this.#read("cpu.max") ?? "max").trim().split(/\s+/)[0] || "max";
      set(
        "cpu.max",
        plan.cpuPeriod === undefined ? quota : `${quota} ${plan.cpuPeriod}`,
        WARN.quota,
      );
    }

    if (plan.pidsLimit !== undefined) set("pids.max", v2(plan.pidsLimit), WARN.pids);
    if (plan.devices) warnings.push(WARN.devices);

    this.#warnings = [...new Set(warnings)];
    return [...this.#warnings];
  }

  stats(): CgroupStats {
    const cpu = parseKeyValues(this.#read("cpu.stat"));
    const events = parseKeyValues(this.#read("memory.events"));
    const peak = this.#read("memory.peak");
    return {
      memory: {
        usage: parseCount(this.#read("memory.current")),
        ...(peak === undefined ? {} : { maxUsage: parseCount(peak) }),
        limit: parseLimit(this.#read("memory.max")) ?? null,
        failcnt: events.max ?? 0,
        stats: parseKeyValues(this.#read("memory.stat")),
      },
      cpu: {
        usageNs: (cpu.usage_usec ?? 0) * 1000,
        userNs: (cpu.user_usec ?? 0) * 1000,
        systemNs: (cpu.system_usec ?? 0) * 1000,
        throttling: {
          periods: cpu.nr_periods ?? 0,
          throttledPeriods: cpu.nr_throttled ?? 0,
          throttledTimeNs: (cpu.throttled_usec ?? 0) * 1000,
        },
      },
      pids: {
        current: parseCount(this.#read("pids.current")),
        limit: parseLimit(this.#read("pids.max")) ?? null,
      },
    };
  }

  /** `memory.events` counts OOM kills in this cgroup and below. */
  oomKilled(): boolean {
    return (parseKeyValues(this.#read("memory.events")).oom_kill ?? 0) > 0;
  }

  pids(): number[] {
    return parsePids(this.#read("cgroup.procs")).sort((a, b) => a - b);
  }

  freeze(): Promise<void> {
    return this.#setFrozen(true);
  }

  thaw(): Promise<void> {
    return this.#setFrozen(false);
  }

  /** Writes cgroup.freeze and waits for `frozen` in cgroup.events to match. */
  async #setFrozen(frozen: boolean): Promise<void> {
    const action = frozen ? "freeze" : "thaw";
    const file = this.#existing("cgroup.freeze");
    if (!file) {
      throw new NotImplementedError(
        `Cannot ${action} cgroup "${this.name}": the kernel has no cgroup.freeze (Linux 5.2+)`,
      );
    }
    writeControl(this.#sys, file, frozen ? "1" : "0");
    const want = frozen ? 1 : 0;
    const settled = await pollUntil(
      () => (parseKeyValues(this.#read("cgroup.events")).frozen ?? want) === want,
      FREEZE_TIMEOUT_MS,
    );
    if (!settled) {
      if (frozen) writeControl(this.#sys, file, "0");
      throw new InternalError(
        `Cannot ${action} cgroup "${this.name}": not settled after ${FREEZE_TIMEOUT_MS} ms`,
      );
    }
  }

  /**
   * SIGKILL uses `cgroup.kill` (Linux 5.14+), which kills every task atomically, forks included;
   * without it the cgroup is frozen, each task killed, then thawed. Other signals go to each pid.
   */
  async killAll(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    if (signal === "SIGKILL") {
      const killFile = this.#existing("cgroup.kill");
      if (killFile) writeControl(this.#sys, killFile, "1");
      else {
        const canFreeze = this.#existing("cgroup.freeze") !== undefined;
        if (canFreeze) await this.freeze();
        try {
          for (const pid of this.pids()) this.#signal(pid, signal);
        } finally {
          if (canFreeze) await this.thaw();
        }
      }
      const empty = await pollUntil(() => this.pids().length === 0, KILL_WAIT_MS);
      if (!empty) {
        throw new InternalError(
          `Cannot kill the processes of cgroup "${this.name}": some are left after ${KILL_WAIT_MS} ms`,
        );
      }
      return;
    }
    for (const pid of this.pids()) this.#signal(pid, signal);
  }

  #signal(pid: number, signal: Deno.Signal): void {
    try {
      this.#sys.kill(pid, signal);
    } catch (err) {
      throw wrapSysError(`Cannot send ${signal} to process ${pid} of cgroup "${this.name}"`, err);
    }
  }

  async remove(): Promise<void> {
    await removeTree(this.#sys, this.#dir);
    removeEmptyAncestors(this.#sys, this.#dir, this.name.split("/").filter(Boolean).length - 1);
  }
}
