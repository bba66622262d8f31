/**
 * Stage 1 of a container launch, on its own single-use Worker thread (DENO-FACTS 2–4): save the
 * pid namespace, join or create the container's namespaces, posix_spawn the init with the
 * container's fds, restore the pid namespace, answer the pid. Synchronous calls only — only they
 * are guaranteed to run on this thread — and no thread creation after unshare(CLONE_NEWPID).
 *
 * With `mount` in the request (the default on Linux ≥ 6.18), the Worker then mounts the
 * container's whole tree itself (init_mounts.ts) — its thread is in the container's new mount
 * namespace, which the init shares — while the init's Deno boots, and answers a second message
 * ("mounted"). The launcher terminates this Worker after the last answer; its thread dies with
 * the namespaces it joined.
 *
 * @module
 */
import {
  bringLoopbackUp,
  CLONE_FS,
  CLONE_NEWIPC,
  CLONE_NEWNET,
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUTS,
  NAMESPACE_FLAGS,
  preloadNamespace,
  setns,
  unshare,
} from "../../ffi/namespace.ts";
import {
  closeFd,
  dupCloexec,
  O_CLOEXEC,
  O_RDONLY,
  O_RDWR,
  openFd,
  preloadProcess,
} from "../../ffi/process.ts";
import { type FileAction, posixSpawn, preloadSpawn } from "../../ffi/spawn.ts";
import { libc } from "../../ffi/library.ts";
import { MOUNT_SYMBOLS, NETIF_SYMBOLS } from "../../ffi/launch_symbols.ts";
import type { OciNamespace } from "./oci_spec.ts";
import { type InitConfig, TTY_SLAVE_FD0, WARM } from "./init_config.ts";
import { cgroupViewBinds, mountContainerFs } from "./init_mounts.ts";
import { type CgroupHierarchy, hostCgroupHierarchies, makeRootPrivate } from "./init_rootfs.ts";

/** What the launcher asks the Worker to do. */
export interface WorkerRequest {
  /** The spec's namespaces (no path: create; path: join). cgroup is left to the init. */
  namespaces: OciNamespace[];
  /** Program, argv and exact env of the init. */
  path: string;
  argv: string[];
  env: string[];
  /** fds in this process that become the child's 0, 1, 2, 3 (status), 4 (go), 5 (config). */
  fds: number[];
  /** Open this pty slave as fd 0 and controlling terminal (new session). */
  ttySlave?: string;
  /** Mount the container's tree after the spawn (needs a new mount namespace). */
  mount?: InitConfig;
  /** A warm init: the mount request comes later, when it is claimed. */
  warm?: boolean;
}

/** Mount the tree for the init this Worker spawned earlier (a claimed warm init). */
export interface WorkerMountRequest {
  t: "mount";
  config: InitConfig;
}

/**
 * The Worker's (first) answer. `reusable`: the job is over (no mount step follows) and the
 * thread is back in the engine's namespaces, so it can serve another launch.
 */
export type WorkerReply =
  | { ok: true; pid: number; timings: { unshare: number; spawn: number }; reusable?: boolean }
  | { ok: false; message: string };

/** The Worker's second answer when the request had `mount` (or a mount request came). */
export type WorkerMountReply =
  | { t: "mounted"; ok: true; ms: number; reusable?: boolean }
  | { t: "mounted"; ok: false; message: string };

// Source fds are moved to ≥ 100 first so the dup2 chain into 0..4 cannot clobber a source.
const HIGH_FD = 100;

/** The engine's namespaces this thread started in, to go back to after a launch. */
const HOME_KINDS = [
  ["net", CLONE_NEWNET],
  ["uts", CLONE_NEWUTS],
  ["ipc", CLONE_NEWIPC],
  ["mnt", CLONE_NEWNS],
] as const;
let home: number[] | undefined;

function saveHome(): void {
  home ??= HOME_KINDS.map(([kind]) => openFd(`/proc/thread-self/ns/${kind}`, O_RDONLY | O_CLOEXEC));
}

/**
 * Puts this thread back into the engine's namespaces (the mount one last: the others' paths are
 * resolved through /proc of the current view). A Worker costs ~8 ms of the engine's main thread
 * to construct, so a restored one serves the next launch. False: it must be terminated.
 */
function goHome(): boolean {
  if (!home) return false;
  try {
    HOME_KINDS.forEach(([kind, flag], i) => setns(home![i], flag, `engine ${kind} namespace`));
    return true;
  } catch {
    return false;
  }
}

function launch(req: WorkerRequest): WorkerReply {
  const t0 = performance.now();
  saveHome();
  const savedPid = openFd("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC);
  const opened: number[] = [];
  let pidChanged = false;
  try {
    let flags = 0;
    const joins: { fd: number; type: number; path: string }[] = [];
    for (const ns of req.namespaces) {
      const flag = NAMESPACE_FLAGS[ns.type];
      if (flag === undefined) throw new Error(`Unknown namespace type "${ns.type}"`);
      if (ns.type === "user") throw new Error("User namespaces are not supported");
      if (ns.type === "cgroup" && !ns.path) continue; // the init creates it after the cgroup join
      if (ns.path) {
        const fd = openFd(ns.path, O_RDONLY | O_CLOEXEC);
        opened.push(fd);
        joins.push({ fd, type: flag, path: ns.path });
      } else {
        flags |= flag;
      }
    }
    // Joining a mount namespace from a thread needs a private fs struct (DENO-FACTS 5).
    if (joins.some((j) => j.type === CLONE_NEWNS)) unshare(CLONE_FS);
    // Mount namespace last: the other paths were opened in the original view.
    joins.sort((a, b) => (a.type === CLONE_NEWNS ? 1 : 0) - (b.type === CLONE_NEWNS ? 1 : 0));
    for (const j of joins) {
      setns(j.fd, j.type, j.path);
      if (j.type === CLONE_NEWPID) pidChanged = true;
    }
    if (flags !== 0) unshare(flags);
    if (flags & CLONE_NEWPID) pidChanged = true;
    const t1 = performance.now();

    const high = req.fds.map((fd) => {
      const d = dupCloexec(fd, HIGH_FD);
      opened.push(d);
      return d;
    });
    const actions: FileAction[] = [];
    for (let i = 0; i < high.length; i++) {
      if (i === 0 && req.ttySlave) continue;
      actions.push({ op: "dup2", fd: high[i], newfd: i });
    }
    if (req.ttySlave) {
      // File actions run before the exec, while the high (close-on-exec) copies still exist.
      const path = req.ttySlave === TTY_SLAVE_FD0 ? `/proc/self/fd/${high[0]}` : req.ttySlave;
      actions.push({ op: "open", fd: 0, path, flags: O_RDWR });
    }
    actions.push({ op: "closefrom", fd: high.length });
    const pid = posixSpawn({
      path: req.path,
      argv: req.argv,
      env: req.env,
      fileActions: actions,
      setsid: req.ttySlave !== undefined,
    });
    const t2 = performance.now();
    return { ok: true, pid, timings: { unshare: t1 - t0, spawn: t2 - t1 } };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  } finally {
    // Restore before anything could want a thread (DENO-FACTS 4).
    if (pidChanged) {
      try {
        setns(savedPid, CLONE_NEWPID, "/proc/thread-self/ns/pid");
      } catch {
        // The Worker is terminated next either way.
      }
    }
    closeFd(savedPid);
    for (const fd of opened) closeFd(fd);
  }
}

/** Done before a warm init's claim: the parts of the mount step that need no config. */
let prepared = false;

/** Mounts the container's tree from this thread (see the module doc). */
function mountTree(cfg: InitConfig, pid: number): WorkerMountReply {
  const t0 = performance.now();
  try {
    let hier: CgroupHierarchy[] | undefined;
    // This thread's own view (/proc/self would be the engine's main thread).
    const cgroups = () =>
      hier ??= hostCgroupHierarchies(Deno.readTextFileSync("/proc/thread-self/mountinfo"));
    const wantsCgroup = cfg.spec.mounts.some((m) => m.type === "cgroup");
    // Fresh cgroup mounts from here would be rooted at the engine's cgroup namespace: bind the
    // directories a mount inside the container's namespace would show instead.
    const cgroupBinds = cfg.newCgroupNs && wantsCgroup
      ? cgroupViewBinds(
        cgroups(),
        cfg.cgroupPaths ?? {},
        Deno.readTextFileSync("/proc/thread-self/cgroup"),
      )
      : cfg.cgroupPaths;
    mountContainerFs(cfg, { cgroups, cgroupBinds, procPidns: `/proc/${pid}/ns/pid`, prepared });
    return { t: "mounted", ok: true, ms: performance.now() - t0 };
  } catch (err) {
    return { t: "mounted", ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

// deno-lint-ignore no-explicit-any
const scope = self as any;
let used = false;
let spawnedPid = 0;
scope.onmessage = (ev: MessageEvent<WorkerRequest | WorkerMountRequest | typeof WARM>) => {
  if (ev.data === WARM) {
    saveHome();
    preloadNamespace();
    preloadProcess();
    preloadSpawn();
    libc("mount", MOUNT_SYMBOLS);
    libc("netif", NETIF_SYMBOLS);
    scope.postMessage(WARM);
    return;
  }
  if ("t" in ev.data) {
    // A warm init was claimed: mount its container's tree from this thread, which is still in
    // the namespaces it was spawned into.
    if (!spawnedPid) {
      scope.postMessage({ t: "mounted", ok: false, message: "This launch Worker spawned no init" });
      return;
    }
    scope.postMessage(finish(mountTree(ev.data.config, spawnedPid)));
    return;
  }
  // Single use: this thread's namespaces are no longer the engine's after one launch.
  if (used) {
    scope.postMessage({ ok: false, message: "The launch Worker was already used" });
    return;
  }
  used = true;
  const reply = launch(ev.data);
  if (!reply.ok) {
    scope.postMessage(reply);
    return;
  }
  spawnedPid = reply.pid;
  if (ev.data.mount) {
    scope.postMessage(reply);
    scope.postMessage(finish(mountTree(ev.data.mount, reply.pid)));
  } else if (ev.data.warm) {
    scope.postMessage(reply); // the mount request comes when the init is claimed
    // Meanwhile, what every container's tree needs first (its namespaces are all new).
    try {
      makeRootPrivate();
      bringLoopbackUp();
      prepared = true;
    } catch {
      // the mount step does them then
    }
  } else {
    scope.postMessage({ ...reply, reusable: reuse() });
  }
};

/** After a job's last step: back home, ready for another job (when that worked). */
function reuse(): boolean {
  const ok = goHome();
  if (ok) {
    used = false;
    spawnedPid = 0;
    prepared = false;
  }
  return ok;
}

function finish(reply: WorkerMountReply): WorkerMountReply {
  return reply.ok ? { ...reply, reusable: reuse() } : reply;
}
