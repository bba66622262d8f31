/**
 * The container init's filesystem work: mounting inside the rootfs without following the image's
 * symlinks out of it (openat2 RESOLVE_IN_ROOT, then mount via /proc/self/fd/N), /dev, the
 * cgroup view, masked and read-only paths, and the pivot. Runs only in the init, which is alone
 * in its fresh mount namespace, so nothing here reaches the host.
 *
 * @module
 */
import {
  AT_EMPTY_PATH,
  AT_RECURSIVE,
  makedev,
  mkdirat,
  mknod,
  MNT_DETACH,
  mount,
  MOUNT_ATTR_NODEV,
  MOUNT_ATTR_NOEXEC,
  MOUNT_ATTR_NOSUID,
  MOUNT_ATTR_RDONLY,
  mountFlagsOf,
  mountSetattr,
  moveMount,
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  MS_SLAVE,
  openat,
  openat2,
  RESOLVE_IN_ROOT,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  umount2,
} from "../../ffi/mount.ts";
import {
  chdir,
  closeFd,
  fchdir,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  openFd,
  pivotRoot,
  umask,
} from "../../ffi/process.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";
import type { PlannedMount } from "./mount_plan.ts";
import type { OciDevice } from "./oci_spec.ts";

/** Flag bits that a bind remount may set; anything else in `flags` is not a per-mount flag. */
const BIND_REMOUNT_MASK = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | 0x400 | 0x800 |
  (1 << 21) | (1 << 24) | 0x100;

function isNotFound(err: unknown): boolean {
  return (err as { code?: string }).code === "ENOENT";
}

/**
 * Opens `dest` (absolute, inside the container) under `rootFd` with RESOLVE_IN_ROOT, creating it
 * (and its parents) when missing: a directory, or an empty file when `file`. A dangling symlink
 * on the way is followed inside the rootfs and its target created there, as runc does. Returns
 * an O_PATH fd.
 */
export function openInRoot(rootFd: number, dest: string, file: boolean, depth = 0): number {
  if (depth > 40) {
    throw new SyscallError("openat2", 40, { action: "Cannot resolve", path: dest });
  }
  const rel = dest.replace(/^\/+/, "");
  if (rel === "") return openat2(rootFd, ".", O_PATH | O_CLOEXEC | O_DIRECTORY, RESOLVE_IN_ROOT);
  try {
    return openat2(rootFd, rel, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const slash = rel.lastIndexOf("/");
  const parentRel = slash === -1 ? "" : rel.slice(0, slash);
  const name = slash === -1 ? rel : rel.slice(slash + 1);
  const parentFd = openInRoot(rootFd, "/" + parentRel, false, depth + 1);
  let created: boolean;
  try {
    if (file) {
      // O_EXCL|O_NOFOLLOW: never create through a (dangling) symlink.
      try {
        closeFd(
          openat(parentFd, name, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0o644),
        );
        created = true;
      } catch (err) {
        if ((err as { code?: string }).code !== "EEXIST") throw err;
        created = false;
      }
    } else {
      created = mkdirat(parentFd, name, 0o755);
    }
    if (!created) {
      // It exists yet did not resolve: a dangling symlink. Follow it inside the rootfs.
      const target = Deno.readLinkSync(`${fdPath(parentFd)}/${name}`);
      const rootHost = Deno.readLinkSync(fdPath(rootFd));
      const parentHost = Deno.readLinkSync(fdPath(parentFd));
      const parentInRoot = parentHost.slice(rootHost.length) || "/";
      const next = target.startsWith("/") ? target : `${parentInRoot}/${target}`;
      return openInRoot(rootFd, next, file, depth + 1);
    }
  } finally {
    closeFd(parentFd);
  }
  return openat2(rootFd, rel, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT);
}

/** `/proc/self/fd/N`: the kernel-resolved path of an fd, as a mount source or target. */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}

function isDirectory(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return true;
  }
}

/** Remounts a bind read-only (plus `extra` flags), keeping the mount's existing flags. */
export function remountReadonly(
  target: string,
  extra = 0,
  recursive = false,
  display?: string,
): void {
  const flags = (mountFlagsOf(target) | extra | MS_RDONLY) & BIND_REMOUNT_MASK;
  mount(null, target, null, MS_BIND | MS_REMOUNT | flags | (recursive ? MS_REC : 0), null, display);
}

/** A host cgroup hierarchy, from the init's (inherited) mount table. */
export interface CgroupHierarchy {
  /** Directory name under /sys/fs/cgroup (e.g. `memory`, `cpu,cpuacct`, `unified`). */
  name: string;
  /** `cgroup` or `cgroup2`. */
  fstype: string;
  /** Super options naming the controllers (`memory`, `name=systemd`). */
  options: string;
}

/** Reads the cgroup hierarchies mounted under /sys/fs/cgroup (v1 per controller, or v2). */
export function hostCgroupHierarchies(mountinfo: string): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep === -1) continue;
    const left = line.slice(0, sep).split(" ");
    const [fstype, , superOpts] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const mp = left[4];
    if (mp === "/sys/fs/cgroup" && fstype === "cgroup2") {
      return [{ name: "", fstype, options: "" }];
    }
    if (!mp.startsWith("/sys/fs/cgroup/")) continue;
    const name = mp.slice("/sys/fs/cgroup/".length);
    if (name.includes("/")) continue;
    const options = fstype === "cgroup"
      ? (superOpts ?? "").split(",").filter((o) => o !== "rw" && o !== "ro").join(",")
      : "";
    out.push({ name, fstype, options });
  }
  return out;
}

/**
 * Performs one planned mount under the rootfs. `/sys/fs/cgroup` (kind "cgroup") becomes a tmpfs
 * holding one fresh mount per host hierarchy; mounted from inside the container's cgroup
 * namespace, each shows the container's own cgroup as its root.
 */
export function performMount(
  rootFd: number,
  m: PlannedMount,
  cgroups: () => CgroupHierarchy[],
  cgroupBinds?: Readonly<Record<string, string>>,
): void {
  if (m.kind === "bind") {
    const sourceIsDir = isDirectory(m.source);
    atTarget(rootFd, m.destination, !sourceIsDir, (target) => {
      mount(m.source, target, null, MS_BIND | (m.recursive ? MS_REC : 0), null, m.destination);
    });
    // An fd opened before a mount points at the covered directory, not at the new mount: every
    // follow-up step on the mount re-resolves the destination.
    if (m.flags & BIND_REMOUNT_MASK) {
      atTarget(rootFd, m.destination, !sourceIsDir, (target) => {
        const flags = (mountFlagsOf(target) | m.flags) & BIND_REMOUNT_MASK;
        mount(null, target, null, MS_BIND | MS_REMOUNT | flags, null, m.destination);
      });
    }
    if (m.propagation) setPropagation(rootFd, m, !sourceIsDir);
    return;
  }
  if (m.kind === "cgroup") {
    mountCgroups(rootFd, m, cgroups(), cgroupBinds);
  } else {
    atTarget(rootFd, m.destination, false, (target) => {
      mount(m.source, target, m.fstype, m.flags, m.data, m.destination);
    });
  }
  if (m.propagation) setPropagation(rootFd, m, false);
}

/**
 * Attaches a mount made elsewhere and mounted nowhere (`mountFd`, from fsmount) at `dest` inside
 * the rootfs: the container's devpts, whose first pty the engine holds. `mountFd` stays open
 * (its owner closes it; once attached, that unmounts nothing).
 */
export function attachMount(rootFd: number, mountFd: number, dest: string): void {
  atTarget(rootFd, dest, false, (target) => moveMount(mountFd, target, dest));
}

function setPropagation(rootFd: number, m: PlannedMount, file: boolean): void {
  atTarget(rootFd, m.destination, file, (target) => {
    mount(null, target, null, m.propagation | (m.recursive ? MS_REC : 0), null, m.destination);
  });
}

/** Runs `fn` with a safe path (`/proc/self/fd/N`) for `dest` resolved inside the rootfs. */
function atTarget(rootFd: number, dest: string, file: boolean, fn: (target: string) => void): void {
  const fd = openInRoot(rootFd, dest, file);
  try {
    fn(fdPath(fd));
  } finally {
    closeFd(fd);
  }
}

/**
 * Mounts one hierarchy at `sub`: a bind of the container's own cgroup dir when given (no cgroup
 * namespace), else a fresh cgroup mount (rooted at the caller's cgroup namespace root).
 */
function mountHierarchy(
  rootFd: number,
  sub: string,
  h: CgroupHierarchy,
  flags: number,
  bindFrom: string | undefined,
): void {
  if (bindFrom) {
    atTarget(rootFd, sub, false, (t) => mount(bindFrom, t, null, MS_BIND, null, sub));
  } else {
    atTarget(
      rootFd,
      sub,
      false,
      (t) => mount(h.fstype, t, h.fstype, flags, h.options || null, sub),
    );
  }
}

function mountCgroups(
  rootFd: number,
  m: PlannedMount,
  hier: CgroupHierarchy[],
  binds?: Readonly<Record<string, string>>,
): void {
  const baseFlags = m.flags & ~MS_RDONLY;
  const dest = m.destination;
  if (hier.length === 1 && hier[0].name === "") {
    mountHierarchy(rootFd, dest, hier[0], baseFlags, binds?.[""]);
    if (m.flags & MS_RDONLY) {
      atTarget(rootFd, dest, false, (t) => remountReadonly(t, baseFlags, false, dest));
    }
    return;
  }
  atTarget(rootFd, dest, false, (t) => mount("tmpfs", t, "tmpfs", baseFlags, "mode=755", dest));
  // Everything below is made in the tmpfs just mounted, which holds nothing of the image: its
  // entries are named through one directory fd, with no resolution inside the rootfs.
  const dirFd = openInRoot(rootFd, dest, false);
  try {
    const dir = fdPath(dirFd);
    for (const h of hier) {
      const sub = `${dest}/${h.name}`;
      mkdirat(dirFd, h.name, 0o755);
      const target = `${dir}/${h.name}`;
      const bindFrom = binds?.[h.name];
      if (bindFrom) mount(bindFrom, target, null, MS_BIND, null, sub);
      else mount(h.fstype, target, h.fstype, baseFlags, h.options || null, sub);
      // Co-mounted controllers ("cpu,cpuacct") also answer to each name, as on the host.
      if (h.name.includes(",")) {
        for (const part of h.name.split(",")) {
          try {
            Deno.symlinkSync(h.name, `${dir}/${part}`);
          } catch {
            // the name exists already (a separate hierarchy): keep it
          }
        }
      }
    }
    if (m.flags & MS_RDONLY) readonlyTree(dirFd, dest, baseFlags, hier);
  } finally {
    closeFd(dirFd);
  }
}

/**
 * Makes the cgroup view at `dirFd` read-only (with the tmpfs's nosuid/nodev/noexec on every
 * bind): one recursive mount_setattr(2), or, on kernels without it, a remount per mount.
 */
function readonlyTree(
  dirFd: number,
  dest: string,
  baseFlags: number,
  hier: readonly CgroupHierarchy[],
): void {
  let attrs = MOUNT_ATTR_RDONLY;
  if (baseFlags & MS_NOSUID) attrs |= MOUNT_ATTR_NOSUID;
  if (baseFlags & MS_NODEV) attrs |= MOUNT_ATTR_NODEV;
  if (baseFlags & MS_NOEXEC) attrs |= MOUNT_ATTR_NOEXEC;
  try {
    mountSetattr(dirFd, "", AT_EMPTY_PATH | AT_RECURSIVE, attrs, dest);
    return;
  } catch (err) {
    if (!(err instanceof SyscallError && err.code === "ENOSYS")) throw err;
  }
  const dir = fdPath(dirFd);
  for (const h of hier) remountReadonly(`${dir}/${h.name}`, baseFlags, false, `${dest}/${h.name}`);
  remountReadonly(dir, baseFlags, false, dest);
}

/**
 * pivot_root into `root` (already a mount point) and detach the old root, so the container sees
 * only its rootfs. Uses pivot_root(".", ".") which needs no put_old directory in the image.
 */
export function pivotInto(root: string): void {
  const oldRoot = openFd("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const newRoot = openFd(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  try {
    fchdir(newRoot);
    pivotRoot(".", ".");
    // The old root is now stacked on "/"; detach it without propagating anything to the host.
    fchdir(oldRoot);
    mount(null, ".", null, MS_SLAVE | MS_REC, null, "old root");
    umount2(".", MNT_DETACH);
    chdir("/");
  } finally {
    closeFd(oldRoot);
    closeFd(newRoot);
  }
}

/** The devices every container gets (runc's default set). */
export const DEFAULT_DEVICES: readonly OciDevice[] = [
  { type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/zero", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/full", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/random", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/urandom", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: "c", path: "/dev/tty", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/**
 * Opens `dest` (absolute, inside the container) under `rootFd` without creating anything;
 * -1 when it does not exist. Symlinks resolve inside the rootfs.
 */
export function openExistingInRoot(rootFd: number, dest: string): number {
  try {
    return openat2(rootFd, dest.replace(/^\/+/, "") || ".", O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT);
  } catch (err) {
    if (isNotFound(err)) return -1;
    throw err;
  }
}

function splitParent(p: string): [string, string] {
  const i = p.lastIndexOf("/");
  return [p.slice(0, i) || "/", p.slice(i + 1)];
}

/**
 * Creates device nodes under the rootfs (`rootFd`), parents created inside it. Works before the
 * pivot, so the launch Worker can do it while the init boots; node names are created through the
 * resolved parent directory (`/proc/self/fd/N/name`), never through a path of the image.
 */
export function createDevices(rootFd: number, devices: readonly OciDevice[]): void {
  const old = umask(0);
  try {
    for (const d of devices) {
      const [parent, name] = splitParent(d.path);
      const dirFd = openInRoot(rootFd, parent, false);
      const node = `${fdPath(dirFd)}/${name}`;
      try {
        const type = d.type === "b" ? S_IFBLK : d.type === "p" ? S_IFIFO : S_IFCHR;
        try {
          mknod(node, type | ((d.fileMode ?? 0o666) & 0o7777), makedev(d.major ?? 0, d.minor ?? 0));
        } catch (err) {
          if ((err as { code?: string }).code !== "EEXIST") throw err;
          continue;
        }
        if ((d.uid ?? 0) !== 0 || (d.gid ?? 0) !== 0) Deno.chownSync(node, d.uid ?? 0, d.gid ?? 0);
      } finally {
        closeFd(dirFd);
      }
    }
  } finally {
    umask(old);
  }
}

/** The standard /dev symlinks (fd, stdin/out/err, ptmx → pts/ptmx), under the rootfs. */
export function createDevSymlinks(rootFd: number): void {
  const devFd = openInRoot(rootFd, "/dev", false);
  try {
    const dev = fdPath(devFd);
    const links: [string, string][] = [
      ["/proc/self/fd", "fd"],
      ["/proc/self/fd/0", "stdin"],
      ["/proc/self/fd/1", "stdout"],
      ["/proc/self/fd/2", "stderr"],
    ];
    let hasPts = false;
    try {
      hasPts = Deno.statSync(`${dev}/pts/ptmx`).isFile === false;
    } catch {
      hasPts = false;
    }
    if (hasPts) links.push(["pts/ptmx", "ptmx"]);
    for (const [target, name] of links) {
      const link = `${dev}/${name}`;
      try {
        Deno.symlinkSync(target, link);
      } catch (err) {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
        if (name === "ptmx") {
          // A device node from a privileged /dev: replace it so ptys come from our devpts.
          Deno.removeSync(link);
          Deno.symlinkSync(target, link);
        }
      }
    }
  } finally {
    closeFd(devFd);
  }
}

/**
 * Binds the container's terminal (the host path of its pty slave) on /dev/console. Done before
 * the pivot: afterwards the host's devpts is detached and cannot be a bind source.
 */
export function bindConsole(rootFd: number, consolePath: string): void {
  atTarget(rootFd, "/dev/console", true, (t) => {
    mount(consolePath, t, null, MS_BIND, null, "/dev/console");
  });
}

/**
 * Masks paths under the rootfs: the container's /dev/null bound over files, an empty read-only
 * tmpfs over directories. Missing paths are skipped. Needs /dev populated first.
 */
export function maskPaths(rootFd: number, paths: readonly string[]): void {
  let nullFd = -2;
  try {
    for (const p of paths) {
      const fd = openExistingInRoot(rootFd, p);
      if (fd === -1) continue;
      try {
        const target = fdPath(fd);
        if (Deno.statSync(target).isDirectory) {
          mount("tmpfs", target, "tmpfs", MS_RDONLY, null, p);
        } else {
          if (nullFd === -2) nullFd = openExistingInRoot(rootFd, "/dev/null");
          mount(nullFd >= 0 ? fdPath(nullFd) : "/dev/null", target, null, MS_BIND, null, p);
        }
      } finally {
        closeFd(fd);
      }
    }
  } finally {
    if (nullFd >= 0) closeFd(nullFd);
  }
}

/** Makes paths under the rootfs read-only: bind each on itself, then remount it read-only. */
export function readonlyPaths(rootFd: number, paths: readonly string[]): void {
  for (const p of paths) {
    const fd = openExistingInRoot(rootFd, p);
    if (fd === -1) continue;
    try {
      mount(fdPath(fd), fdPath(fd), null, MS_BIND | MS_REC, null, p);
    } finally {
      closeFd(fd);
    }
    // The fd above points at the covered directory: re-resolve to reach the new bind.
    atTarget(rootFd, p, false, (t) => remountReadonly(t, 0, true, p));
  }
}

/** Makes every mount private (recursively) so nothing propagates back to the host. */
export function makeRootPrivate(): void {
  mount(null, "/", null, MS_REC | MS_PRIVATE, null, "/");
}
