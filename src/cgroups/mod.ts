/**
 * cgroups: one container cgroup per container under a `docker-ts` parent, with a v1 driver
 * (also for hybrid hosts) and a v2 driver behind one interface. Plain file I/O against an
 * injectable root; no FFI.
 *
 * @module
 */
export { detectCgroupDriver, type DetectCgroupDriverOptions } from "./detect.ts";
export { MIN_MEMORY_BYTES, planResources, type ResourcePlan, sharesToWeight } from "./resources.ts";
export { RealCgroupSys } from "./sys.ts";
export type {
  CgroupCpuStats,
  CgroupDriver,
  CgroupHandle,
  CgroupMemoryStats,
  CgroupStats,
  CgroupSys,
  CgroupVersion,
} from "./types.ts";
export { CgroupSysError } from "./types.ts";
export { V1Driver, type V1DriverOptions } from "./v1.ts";
export { V2Driver, type V2DriverOptions } from "./v2.ts";
