/**
 * Picks the cgroup driver for a host.
 *
 * @module
 */
import { RealCgroupSys } from "./sys.ts";
import type { CgroupDriver, CgroupSys } from "./types.ts";
import { V1Driver } from "./v1.ts";
import { V2Driver } from "./v2.ts";

/** Options for {@link detectCgroupDriver}. */
export interface DetectCgroupDriverOptions {
  /** The cgroup root. Default `/sys/fs/cgroup`. */
  root?: string;
  /** Parent of container cgroups. Default `docker-ts`. */
  parent?: string;
  /** Host access; default the kernel (tests pass a fake). */
  sys?: CgroupSys;
}

/**
 * v2 when `<root>/cgroup.controllers` exists (a unified host); v1 otherwise, which includes
 * hybrid hosts whose cgroup2 mount sits at `<root>/unified` beside the v1 controllers.
 *
 * @example
 * ```ts ignore
 * const driver = detectCgroupDriver();
 * const cg = driver.create(`docker-ts/${id}`, { memory: { limit: 64 << 20 } });
 * cg.addProcess(pid);
 * ```
 */
export function detectCgroupDriver(options: DetectCgroupDriverOptions = {}): CgroupDriver {
  const root = options.root ?? "/sys/fs/cgroup";
  const sys = options.sys ?? new RealCgroupSys();
  const driverOptions = { root, parent: options.parent, sys };
  return sys.exists(`${root}/cgroup.controllers`)
    ? new V2Driver(driverOptions)
    : new V1Driver(driverOptions);
}
