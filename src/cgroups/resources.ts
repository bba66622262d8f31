/**
 * Docker's semantics for container resource flags, independent of the cgroup version: defaults,
 * validation and unit conversions. The drivers turn a {@link ResourcePlan} into file writes.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { OciResources } from "../runtime/oci_spec.ts";

/** Docker's minimum `--memory` (daemon/daemon_unix.go `linuxMinMemory`). */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
/** Kernel bounds of `cpu.shares` (v1). */
export const MIN_CPU_SHARES = 2;
/** Kernel bounds of `cpu.shares` (v1). */
export const MAX_CPU_SHARES = 262144;
/** CFS quota/period bounds in microseconds (kernel: 1 ms … 1 s for the period). */
const MIN_CFS_US = 1000;
const MAX_CFS_PERIOD_US = 1_000_000;

/**
 * Normalised limits. Absent fields are left as they are in the cgroup. `-1` means "unlimited"
 * (written as `-1` on v1, `max` on v2).
 */
export interface ResourcePlan {
  /** Hard memory limit in bytes, or -1. */
  memoryLimit?: number;
  /** Memory + swap in bytes (Docker's `--memory-swap`, OCI `memory.swap`), or -1. */
  memorySwap?: number;
  /** Soft limit / `memory.low` in bytes, or -1. */
  memoryReservation?: number;
  /** Disable the OOM killer (v1 only). */
  disableOOMKiller?: boolean;
  /** `cpu.shares` (2…262144). */
  cpuShares?: number;
  /** CFS quota in µs, or -1. */
  cpuQuota?: number;
  /** CFS period in µs. */
  cpuPeriod?: number;
  /** cpuset list, e.g. `0-1,3`. */
  cpusetCpus?: string;
  /** memory node list. */
  cpusetMems?: string;
  /** Max tasks, or -1. */
  pidsLimit?: number;
  /** Device cgroup rules in order (v1 only). */
  devices?: { allow: boolean; rule: string }[];
}

const CPU_LIST = /^\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*$/;

function isInt(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n);
}

function wholeNumber(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!isInt(value)) throw new InvalidArgumentError(`Invalid ${what} "${value}": not an integer`);
  return value;
}

/**
 * Validates `resources` and applies Docker's defaults:
 * - `--memory` without `--memory-swap` gives memory+swap = 2 × memory;
 * - `--memory-swap` needs `--memory` and must be ≥ it (or -1 for unlimited swap);
 * - `--memory` below 6 MiB is refused;
 * - `--cpu-shares` is clamped to the kernel's 2…262144;
 * - `--pids-limit` 0 or negative means unlimited.
 */
export function planResources(resources: OciResources = {}): ResourcePlan {
  const plan: ResourcePlan = {};
  const mem = resources.memory;
  if (mem) {
    const limit = wholeNumber(mem.limit, "memory limit");
    const swap = wholeNumber(mem.swap, "memory+swap limit");
    if (limit !== undefined && limit > 0 && limit < MIN_MEMORY_BYTES) {
      throw new InvalidArgumentError(
        `Invalid memory limit "${limit}": minimum memory limit allowed is 6MB`,
      );
    }
    const hasLimit = limit !== undefined && limit !== 0;
    if (hasLimit) plan.memoryLimit = limit < 0 ? -1 : limit;
    if (swap !== undefined && swap !== 0) {
      if (swap > 0 && !(hasLimit && limit > 0)) {
        throw new InvalidArgumentError(
          `Invalid memory+swap limit "${swap}": you should always set the memory limit when using a memory+swap limit`,
        );
      }
      if (swap > 0 && swap < limit!) {
        throw new InvalidArgumentError(
          `Invalid memory+swap limit "${swap}": minimum memoryswap limit should be larger than memory limit "${limit}"`,
        );
      }
      plan.memorySwap = swap < 0 ? -1 : swap;
    } else if (hasLimit && limit > 0) {
      plan.memorySwap = limit * 2;
    } else if (hasLimit && limit < 0) {
      plan.memorySwap = -1;
    }
    const reservation = wholeNumber(mem.reservation, "memory reservation");
    if (reservation !== undefined && reservation !== 0) {
      if (
        reservation > 0 && plan.memoryLimit !== undefined && plan.memoryLimit > 0 &&
        reservation > plan.memoryLimit
      ) {
        throw new InvalidArgumentError(
          `Invalid memory reservation "${reservation}": minimum memory limit can not be less than memory reservation limit`,
        );
      }
      plan.memoryReservation = reservation < 0 ? -1 : reservation;
    }
    if (mem.disableOOMKiller !== undefined) plan.disableOOMKiller = mem.disableOOMKiller;
  }

  const cpu = resources.cpu;
  if (cpu) {
    const shares = wholeNumber(cpu.shares, "CPU shares");
    if (shares !== undefined && shares !== 0) {
      if (shares < 0) throw new InvalidArgumentError(`Invalid CPU shares "${shares}": negative`);
      plan.cpuShares = Math.min(MAX_CPU_SHARES, Math.max(MIN_CPU_SHARES, shares));
    }
    const period = wholeNumber(cpu.period, "CPU period");
    if (period !== undefined && period !== 0) {
      if (period < MIN_CFS_US || period > MAX_CFS_PERIOD_US) {
        throw new InvalidArgumentError(
          `Invalid CPU period "${period}": must be between 1000 and 1000000 microseconds`,
        );
      }
      plan.cpuPeriod = period;
    }
    const quota = wholeNumber(cpu.quota, "CPU quota");
    if (quota !== undefined && quota !== 0) {
      if (quota > 0 && quota < MIN_CFS_US) {
        throw new InvalidArgumentError(
          `Invalid CPU quota "${quota}": must be at least 1000 microseconds (1ms)`,
        );
      }
      plan.cpuQuota = quota < 0 ? -1 : quota;
    }
    for (const [key, what] of [["cpus", "cpuset CPUs"], ["mems", "cpuset memory nodes"]] as const) {
      const value = cpu[key];
      if (value === undefined || value === "") continue;
      if (!CPU_LIST.test(value)) throw new InvalidArgumentError(`Invalid ${what} "${value}"`);
      const clean = value.replace(/\s+/g, "");
      if (key === "cpus") plan.cpusetCpus = clean;
      else plan.cpusetMems = clean;
    }
  }

  if (resources.pids) {
    const limit = wholeNumber(resources.pids.limit, "pids limit")!;
    plan.pidsLimit = limit > 0 ? limit : -1;
  }

  if (resources.devices && resources.devices.length > 0) {
    plan.devices = resources.devices.map((d) => ({ allow: d.allow, rule: deviceRule(d) }));
  }
  return plan;
}

/** `type major:minor access` as the v1 devices controller reads it. */
function deviceRule(
  d: { type?: string; major?: number; minor?: number; access?: string },
): string {
  const type = d.type ?? "a";
  if (!/^[abc]$/.test(type)) throw new InvalidArgumentError(`Invalid device rule type "${type}"`);
  const access = d.access ?? "rwm";
  if (!/^[rwm]{1,3}$/.test(access)) {
    throw new InvalidArgumentError(`Invalid device rule access "${access}"`);
  }
  const num = (n: number | undefined) => (n === undefined || n < 0 ? "*" : String(n));
  if (type === "a") return "a";
  return `${type} ${num(d.major)}:${num(d.minor)} ${access}`;
}

/**
 * The standard cgroup v1 `cpu.shares` → v2 `cpu.weight` conversion (runc, crun, systemd):
 * maps 2…262144 onto 1…10000, so the default 1024 becomes 39.
 */
export function sharesToWeight(shares: number): number {
  const clamped = Math.min(MAX_CPU_SHARES, Math.max(MIN_CPU_SHARES, shares));
  return 1 + Math.floor(((clamped - 2) * 9999) / 262142);
}
