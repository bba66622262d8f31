/**
 * Everything a container's filesystem needs before the pivot: private propagation, loopback,
 * the rootfs, the spec's mounts, /dev (console, nodes, links), sysctls, masked and read-only
 * paths, a read-only root. All of it is done relative to the rootfs (openat2 RESOLVE_IN_ROOT), so it runs
 * the same from either of the two places that do it:
 *
 * - the launch Worker (default): its thread is in the container's fresh mount, net and ipc
 *   namespaces, and it mounts while the init's Deno boots. /proc is mounted with
 *   `pidns=/proc/<init>/ns/pid` (Linux ≥ 6.18), so it shows the container's pid namespace
 *   although the Worker's active pid namespace is the engine's; sysfs and mqueue take the
 *   thread's net and ipc namespaces, which are the container's.
 * - the init itself (two-stage fallback for older kernels, or when the cgroup view can only be
 *   mounted from inside the container's cgroup namespace).
 *
 * Either way nothing reaches the host: the mount namespace is the container's and `/` is made
 * recursively private before the first mount.
 *
 * @module
 */
import { bringLoopbackUp } from "../../ffi/namespace.ts";
import { closeFd, O_CLOEXEC, O_DIRECTORY, O_PATH, openFd } from "../../ffi/process.ts";
import { mount, MS_BIND, MS_REC } from "../../ffi/mount.ts";
import type { InitConfig } from "./init_config.ts";
import { planMounts, planRootfs } from "./mount_plan.ts";
import {
  attachMount,
  bindConsole,
  type CgroupHierarchy,
  createDevices,
  createDevSymlinks,
  DEFAULT_DEVICES,
  fdPath,
  makeRootPrivate,
  maskPaths,
  openExistingInRoot,
  performMount,
  readonlyPaths,
  remountReadonly,
} from "./init_rootfs.ts";

/** How {@link mountContainerFs} is run. */
export interface MountContext {
  /** The host cgroup hierarchies, asked for only when the spec mounts /sys/fs/cgroup. */
  cgroups: () => CgroupHierarchy[];
  /** Host cgroup dirs to bind at /sys/fs/cgroup/<key> instead of fresh cgroup mounts. */
  cgroupBinds?: Readonly<Record<string, string>>;
  /** `pidns=` value for /proc mounts (a path to the container's pid namespace), when needed. */
  procPidns?: string;
  /**
   * Propagation is private and loopback is up already: a warm init's Worker does both before
   * the claim (see launch_worker.ts).
   */
  prepared?: boolean;
}

/** The absolute host path the rootfs is mounted on (the spec's `root.path`). */
export function rootPathOf(cfg: InitConfig): string {
  const p = cfg.spec.root.path;
  return p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
}

/**
 * Mounts the container's filesystem tree on its root path, ready for the pivot. Returns the
 * root path. Must run on a thread (or in a process) that is alone in the container's new mount
 * namespace.
 */
export function mountContainerFs(cfg: InitConfig, ctx: MountContext): string {
  const spec = cfg.spec;
  const root = rootPathOf(cfg);

  if (!ctx.prepared) {
    makeRootPrivate();
    if (spec.linux.namespaces.some((n) => n.type === "network" && !n.path)) bringLoopbackUp();
  }
  if (cfg.rootfs) {
    const r = planRootfs(cfg.rootfs);
    mount(
      cfg.rootfs.source,
      root,
      r.bind ? null : cfg.rootfs.type,
      r.flags,
      r.bind ? null : r.data,
      root,
    );
  } else {
    // pivot_root needs the new root to be a mount point.
    mount(root, root, null, MS_BIND | MS_REC, null, root);
  }
  const rootFd = openFd(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    let devpts = cfg.devptsFd;
    for (const m of planMounts(spec.mounts)) {
      if (ctx.procPidns && m.kind === "fs" && m.fstype === "proc") {
        m.data = m.data ? `${m.data},pidns=${ctx.procPidns}` : `pidns=${ctx.procPidns}`;
      }
      if (devpts !== undefined && m.kind === "fs" && m.fstype === "devpts") {
        // The instance the engine's pty came from (options applied when it was made).
        attachMount(rootFd, devpts, m.destination);
        devpts = undefined;
        continue;
      }
      performMount(rootFd, m, ctx.cgroups, ctx.cgroupBinds);
    }
    if (devpts !== undefined) attachMount(rootFd, devpts, "/dev/pts");
    if (cfg.consolePath) {
      // A slave of the container's own devpts is bound from inside the tree just attached.
      bindConsole(
        rootFd,
        cfg.devptsFd === undefined ? cfg.consolePath : `${fdPath(rootFd)}${cfg.consolePath}`,
      );
    }
    createDevices(rootFd, [...DEFAULT_DEVICES, ...(spec.linux.devices ?? [])]);
    createDevSymlinks(rootFd);
    writeSysctls(rootFd, spec.linux.sysctl ?? {});
    maskPaths(rootFd, spec.linux.maskedPaths ?? []);
    readonlyPaths(rootFd, spec.linux.readonlyPaths ?? []);
    if (spec.root.readonly) remountReadonly(fdPath(rootFd), 0, false, "/");
  } finally {
    closeFd(rootFd);
  }
  return root;
}

/**
 * Writes the spec's sysctls through the container's /proc/sys, before it is made read-only. The
 * namespaced ones (net.*, kernel.shm*, kernel.hostname, …) apply to the writer's namespaces,
 * which are the container's for both callers.
 */
function writeSysctls(rootFd: number, sysctl: Readonly<Record<string, string>>): void {
  for (const [key, value] of Object.entries(sysctl)) {
    const dest = `/proc/sys/${key.replaceAll(".", "/")}`;
    const fd = openExistingInRoot(rootFd, dest);
    if (fd === -1) throw new Error(`Cannot set sysctl "${key}": "${dest}" does not exist`);
    try {
      Deno.writeTextFileSync(fdPath(fd), value);
    } finally {
      closeFd(fd);
    }
  }
}

/**
 * The bind sources that give a container the view of /sys/fs/cgroup it would get from fresh
 * mounts inside its cgroup namespace, for a mounter that is not in that namespace (the launch
 * Worker): the container's own dir for each hierarchy the driver manages (`managed`), and for
 * the others the cgroup the init sits in there — the caller's, read from `selfCgroup` (the text
 * of /proc/thread-self/cgroup) — which is where a namespace created by the init would be rooted.
 */
export function cgroupViewBinds(
  hierarchies: readonly CgroupHierarchy[],
  managed: Readonly<Record<string, string>>,
  selfCgroup: string,
): Record<string, string> {
  const own = new Map<string, string>();
  for (const line of selfCgroup.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) own.set(m[1], m[2]);
  }
  const out: Record<string, string> = {};
  for (const h of hierarchies) {
    if (managed[h.name] !== undefined) {
      out[h.name] = managed[h.name];
      continue;
    }
    const rel = own.get(h.fstype === "cgroup2" ? "" : h.options);
    if (rel === undefined) continue;
    const base = h.name === "" ? "/sys/fs/cgroup" : `/sys/fs/cgroup/${h.name}`;
    out[h.name] = rel === "/" ? base : `${base}${rel}`;
  }
  return out;
}
