/**
 * Mounts and the path-safe helpers mounting inside a container's rootfs needs: mount(2),
 * umount2(2), mknod(2), mkdirat(2) and openat2(2) with RESOLVE_IN_ROOT (so a symlink in an image
 * cannot send a mount outside the rootfs).
 *
 * @module
 */
import { libc } from "./library.ts";
import { MOUNT_SYMBOLS, STATFS_SYMBOLS } from "./launch_symbols.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";
import { cstr } from "./cstring.ts";
import { syscallNumbers } from "./arch.ts";

/** Mount flags (MS_*). */
export const MS_RDONLY = 1;
/** Ignore suid and sgid bits. */
export const MS_NOSUID = 2;
/** Disallow access to device special files. */
export const MS_NODEV = 4;
/** Disallow program execution. */
export const MS_NOEXEC = 8;
/** Writes are synced at once. */
export const MS_SYNCHRONOUS = 16;
/** Alter flags of a mounted filesystem. */
export const MS_REMOUNT = 32;
/** Directory modifications are synchronous. */
export const MS_DIRSYNC = 128;
/** Do not follow symlinks. */
export const MS_NOSYMFOLLOW = 256;
/** Do not update access times. */
export const MS_NOATIME = 1024;
/** Do not update directory access times. */
export const MS_NODIRATIME = 2048;
/** Bind mount. */
export const MS_BIND = 4096;
/** Move a mount. */
export const MS_MOVE = 8192;
/** Recursive (with MS_BIND or a propagation flag). */
export const MS_REC = 16384;
/** Propagation: unbindable. */
export const MS_UNBINDABLE = 1 << 17;
/** Propagation: private. */
export const MS_PRIVATE = 1 << 18;
/** Propagation: slave. */
export const MS_SLAVE = 1 << 19;
/** Propagation: shared. */
export const MS_SHARED = 1 << 20;
/** Relative atime. */
export const MS_RELATIME = 1 << 21;
/** Always update atime. */
export const MS_STRICTATIME = 1 << 24;
/** umount2 flag: lazy detach. */
export const MNT_DETACH = 2;

/** openat2 resolve flag: treat the dirfd as the root for the whole resolution. */
export const RESOLVE_IN_ROOT = 0x10;
/** openat2 resolve flag: no crossing into /proc magic links. */
export const RESOLVE_NO_MAGICLINKS = 0x02;
/** AT_FDCWD. */
export const AT_FDCWD: number = -100;

function lib(): Deno.DynamicLibrary<typeof MOUNT_SYMBOLS>["symbols"] {
  return libc("mount", MOUNT_SYMBOLS);
}

/** Loads the mount symbols now (a warm init pays the dlopen before it is claimed). */
export function preloadMount(): void {
  lib();
}

/** mount(2). `source`/`fstype`/`data` may be null. */
export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
  display?: string,
): void {
  const r = lib().mount(
    source === null ? null : cstr(source),
    cstr(target),
    fstype === null ? null : cstr(fstype),
    BigInt(flags),
    data === null || data === "" ? null : cstr(data),
  );
  if (r === -1) {
    throw new SyscallError("mount", errno(), {
      action: "Cannot mount",
      path: source ?? fstype ?? "none",
      dest: display ?? target,
    });
  }
}

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  if (lib().umount2(cstr(target), flags) === -1) {
    throw new SyscallError("umount2", errno(), { action: "Cannot unmount", path: target });
  }
}

/** glibc's makedev(3). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

/** File type bits for mknod. */
export const S_IFCHR = 0o020000;
/** Block device. */
export const S_IFBLK = 0o060000;
/** FIFO. */
export const S_IFIFO = 0o010000;

/** mknod(2). */
export function mknod(path: string, mode: number, dev: bigint): void {
  if (lib().mknod(cstr(path), mode, dev) === -1) {
    throw new SyscallError("mknod", errno(), { action: "Cannot create device", path });
  }
}

/** mkdirat(2); returns false when the entry already exists. */
export function mkdirat(dirfd: number, name: string, mode: number): boolean {
  if (lib().mkdirat(dirfd, cstr(name), mode) === -1) {
    const e = errno();
    if (e === 17) return false;
    throw new SyscallError("mkdir", e, { path: name });
  }
  return true;
}

/** openat(2); returns -1 with `errno` set for EEXIST when `allowExists` (caller decides). */
export function openat(dirfd: number, name: string, flags: number, mode = 0): number {
  const fd = lib().openat(dirfd, cstr(name), flags, mode);
  if (fd === -1) throw new SyscallError("open", errno(), { path: name });
  return fd;
}

/**
 * openat2(2): opens `path` relative to `dirfd`, resolving with `resolve` flags (e.g.
 * RESOLVE_IN_ROOT: absolute symlinks and ".." stay inside dirfd). Returns the fd.
 */
export function openat2(dirfd: number, path: string, flags: number, resolve: number): number {
  const how = new Uint8Array(24);
  const v = new DataView(how.buffer);
  v.setBigUint64(0, BigInt(flags), true);
  v.setBigUint64(8, 0n, true);
  v.setBigUint64(16, BigInt(resolve), true);
  const r = Number(
    lib().openat2(BigInt(syscallNumbers().openat2), dirfd, cstr(path), how, 24n),
  );
  if (r === -1) throw new SyscallError("openat2", errno(), { action: "Cannot open", path });
  return r;
}

/** mount_setattr(2) attribute: read-only. */
export const MOUNT_ATTR_RDONLY = 0x1;
/** mount_setattr(2) attribute: nosuid. */
export const MOUNT_ATTR_NOSUID = 0x2;
/** mount_setattr(2) attribute: nodev. */
export const MOUNT_ATTR_NODEV = 0x4;
/** mount_setattr(2) attribute: noexec. */
export const MOUNT_ATTR_NOEXEC = 0x8;
/** *at flag: act on the dirfd itself. */
export const AT_EMPTY_PATH = 0x1000;
/** *at flag: the whole mount tree below. */
export const AT_RECURSIVE = 0x8000;

/**
 * mount_setattr(2) (Linux ≥ 5.12): sets `attrSet` on the mount at `dirfd`/`path` — with
 * AT_RECURSIVE on every mount below it too, in one call.
 */
export function mountSetattr(
  dirfd: number,
  path: string,
  flags: number,
  attrSet: number,
  display?: string,
): void {
  const attr = new Uint8Array(32); // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }
  new DataView(attr.buffer).setBigUint64(0, BigInt(attrSet), true);
  const r = Number(
    lib().mount_setattr(
      BigInt(syscallNumbers().mount_setattr),
      dirfd,
      cstr(path),
      flags,
      attr,
      32n,
    ),
  );
  if (r === -1) {
    throw new SyscallError("mount_setattr", errno(), {
      action: "Cannot set mount attributes of",
      path: display ?? path,
    });
  }
}

const FSOPEN_CLOEXEC = 1;
const FSCONFIG_SET_FLAG = 0;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const FSMOUNT_CLOEXEC = 1;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOVE_MOUNT_T_SYMLINKS = 0x10;

/**
 * A new filesystem instance, mounted nowhere (fsopen/fsconfig/fsmount, Linux ≥ 5.2): returns
 * an O_CLOEXEC fd of its root, which {@link moveMount} attaches later, in any mount namespace
 * its caller may change. `flags` are option flags (`newinstance`), `data` key=value options,
 * `attrs` MOUNT_ATTR_* bits.
 */
export function detachedMount(
  fstype: string,
  flags: readonly string[],
  data: Readonly<Record<string, string>>,
  attrs: number,
): number {
  const n = syscallNumbers();
  const fs = Number(lib().fsopen(BigInt(n.fsopen), cstr(fstype), FSOPEN_CLOEXEC));
  if (fs === -1) throw new SyscallError("fsopen", errno(), { path: fstype });
  try {
    const config = (cmd: number, key: string | null, value: string | null): void => {
      const r = Number(
        lib().fsconfig(
          BigInt(n.fsconfig),
          fs,
          cmd,
          key === null ? null : cstr(key),
          value === null ? null : cstr(value),
          0,
        ),
      );
      if (r === -1) {
        throw new SyscallError("fsconfig", errno(), {
          action: `Cannot set ${key ?? "up"} on`,
          path: fstype,
        });
      }
    };
    for (const f of flags) config(FSCONFIG_SET_FLAG, f, null);
    for (const [k, v] of Object.entries(data)) config(FSCONFIG_SET_STRING, k, v);
    config(FSCONFIG_CMD_CREATE, null, null);
    const m = Number(lib().fsmount(BigInt(n.fsmount), fs, FSMOUNT_CLOEXEC, attrs));
    if (m === -1) throw new SyscallError("fsmount", errno(), { path: fstype });
    return m;
  } finally {
    lib().close(fs);
  }
}

/** move_mount(2): attaches the detached mount `fromFd` at `target` (symlinks followed). */
export function moveMount(fromFd: number, target: string, display?: string): void {
  const r = Number(
    lib().move_mount(
      BigInt(syscallNumbers().move_mount),
      fromFd,
      cstr(""),
      AT_FDCWD,
      cstr(target),
      MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS,
    ),
  );
  if (r === -1) {
    throw new SyscallError("move_mount", errno(), {
      action: "Cannot attach a mount on",
      path: display ?? target,
    });
  }
}

// statfs f_flags (ST_*) → MS_* for the per-mount flags a bind remount must carry over.
const ST_TO_MS: ReadonlyArray<[number, number]> = [
  [1, MS_RDONLY],
  [2, MS_NOSUID],
  [4, MS_NODEV],
  [8, MS_NOEXEC],
  [1024, MS_NOATIME],
  [2048, MS_NODIRATIME],
  [4096, MS_RELATIME],
  [256, MS_NOSYMFOLLOW],
];

/**
 * The per-mount flags (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, atime flags) of the mount that
 * holds `path`, from statfs(2). A bind remount must repeat them or the kernel tries to clear them.
 */
export function mountFlagsOf(path: string): number {
  const buf = new Uint8Array(120);
  if (libc("mount-statfs", STATFS_SYMBOLS).statfs(cstr(path), buf) === -1) {
    throw new SyscallError("statfs", errno(), { path });
  }
  // struct statfs on 64-bit Linux: eleven 8-byte words, f_flags is the eleventh.
  const stFlags = Number(new DataView(buf.buffer).getBigUint64(80, true));
  let ms = 0;
  for (const [st, flag] of ST_TO_MS) if (stFlags & st) ms |= flag;
  return ms;
}
