/**
 * File system calls Deno lacks: mknod (devices, fifos, overlay whiteouts), extended attributes
 * on the link itself, and utimensat with nanoseconds. Each wrapper is synchronous, reads errno
 * at once and throws {@link SyscallError}.
 *
 * @module
 */
import { libc } from "./library.ts";
import { errno } from "./errno.ts";
import { SyscallError } from "./syscall_error.ts";
import { cstr } from "./cstring.ts";

const fsSymbols = {
  /** int mknod(const char *pathname, mode_t mode, dev_t dev); — mknod(2), glibc ≥ 2.33 */
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  /** int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags); */
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  /** ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size); */
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "i32" },
  /** ssize_t llistxattr(const char *path, char *list, size_t size); */
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  /** int utimensat(int dirfd, const char *pathname, const struct timespec times[2], int flags); */
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int lstat(const char *path, struct stat *buf); — glibc ≥ 2.33 exports it */
  lstat: { parameters: ["buffer", "buffer"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t count); */
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** int syncfs(int fd); — syncfs(2) */
  syncfs: { parameters: ["i32"], result: "i32" },
  /** int open(const char *path, int flags, mode_t mode); — open(2) */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** int close(int fd); — close(2) */
  close: { parameters: ["i32"], result: "i32" },
  /** int fchown(int fd, uid_t owner, gid_t group); — fchown(2) */
  fchown: { parameters: ["i32", "u32", "u32"], result: "i32" },
  /** int fchmod(int fd, mode_t mode); — fchmod(2) */
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  /** int futimens(int fd, const struct timespec times[2]); — utimensat(2) */
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, void *argp); — ioctl(2), pointer form */
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

function sym(): Deno.DynamicLibrary<typeof fsSymbols>["symbols"] {
  return libc("fs", fsSymbols);
}

/** File type bits for {@link mknod}. */
export const S_IFCHR = 0o020000;
/** Block device type bits. */
export const S_IFBLK = 0o060000;
/** FIFO type bits. */
export const S_IFIFO = 0o010000;

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const EINTR = 4;
const ERANGE = 34;

/** glibc's makedev(3): the 64-bit dev_t encoding of a major/minor pair. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

/** mknod(2): creates a device node or fifo; `mode` carries the type bits and permissions. */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  const p = cstr(path);
  const dev = makedev(major, minor);
  for (;;) {
    if (sym().mknod(p, mode, dev) === 0) return;
    const e = errno();
    if (e !== EINTR) throw new SyscallError("mknod", e, { path });
  }
}

/** lsetxattr(2): sets an extended attribute on the path itself (symlinks not followed). */
export function lsetxattr(path: string, name: string, value: Uint8Array): void {
  // An empty Uint8Array may pass a NULL pointer; a 1-byte buffer with size 0 is always valid.
  const buf = value.length === 0 ? new Uint8Array(1) : new Uint8Array(value);
  if (sym().lsetxattr(cstr(path), cstr(name), buf, BigInt(value.length), 0) !== 0) {
    throw new SyscallError("lsetxattr", errno(), { path, action: `Cannot set xattr "${name}" on` });
  }
}

/** lgetxattr(2): the attribute's value, or undefined when it is absent (ENODATA). */
export function lgetxattr(path: string, name: string): Uint8Array | undefined {
  let size = 256;
  for (;;) {
    const buf = new Uint8Array(size);
    const n = Number(sym().lgetxattr(cstr(path), cstr(name), buf, BigInt(size)));
    if (n >= 0) return buf.slice(0, n);
    const e = errno();
    if (e === 61) return undefined; // ENODATA
    if (e === ERANGE && size < 1 << 20) {
      size *= 16;
      continue;
    }
    throw new SyscallError("lgetxattr", e, { path, action: `Cannot get xattr "${name}" of` });
  }
}

/** llistxattr(2): attribute names on the path itself. */
export function llistxattr(path: string): string[] {
  let size = 1024;
  for (;;) {
    const buf = new Uint8Array(size);
    const n = Number(sym().llistxattr(cstr(path), buf, BigInt(size)));
    if (n >= 0) {
      return new TextDecoder().decode(buf.subarray(0, n)).split("\0").filter((s) => s !== "");
    }
    const e = errno();
    if (e === ERANGE && size < 1 << 20) {
      size *= 16;
      continue;
    }
    throw new SyscallError("llistxattr", e, { path, action: "Cannot list xattrs of" });
  }
}

/** utimensat(2) on the path itself with nanosecond times (atime, mtime as [sec, nsec]). */
export function lutimensat(
  path: string,
  atime: readonly [number, number],
  mtime: readonly [number, number],
): void {
  const ts = new BigInt64Array([
    BigInt(atime[0]),
    BigInt(atime[1]),
    BigInt(mtime[0]),
    BigInt(mtime[1]),
  ]);
  const bytes = new Uint8Array(ts.buffer);
  if (sym().utimensat(AT_FDCWD, cstr(path), bytes, AT_SYMLINK_NOFOLLOW) !== 0) {
    throw new SyscallError("utimensat", errno(), { path, action: "Cannot set times of" });
  }
}

/** syncfs(2): flushes the file system that holds `fd`; `path` names it in errors. */
export function syncfs(fd: number, path?: string): void {
  if (sym().syncfs(fd) !== 0) throw new SyscallError("syncfs", errno(), { path });
}

/** Offsets in `struct stat` per architecture: [size, st_mode, st_uid, st_gid, st_rdev]. */
const STAT_LAYOUT: Record<string, readonly [number, number, number, number, number]> = {
  x86_64: [144, 24, 28, 32, 40],
  aarch64: [128, 16, 24, 28, 32],
};

/** The fields of `struct stat` docker-ts reads. */
export interface LstatResult {
  /** st_mode: type and permission bits. */
  mode: number;
  /** st_uid. */
  uid: number;
  /** st_gid. */
  gid: number;
  /** st_rdev. */
  rdev: bigint;
}

const ENOENT = 2;
let statBuf: Uint8Array<ArrayBuffer> | undefined;

/**
 * lstat(2), or undefined when the path does not exist (ENOENT). Cheaper than Deno's lstat,
 * which builds an error object for every missing path.
 */
export function lstat(path: string): LstatResult | undefined {
  const layout = STAT_LAYOUT[Deno.build.arch];
  if (!layout) throw new Error(`Unsupported architecture "${Deno.build.arch}"`);
  statBuf ??= new Uint8Array(layout[0]);
  if (sym().lstat(cstr(path), statBuf) !== 0) {
    const e = errno();
    if (e === ENOENT) return undefined;
    throw new SyscallError("lstat", e, { path });
  }
  const view = new DataView(statBuf.buffer);
  return {
    mode: view.getUint32(layout[1], true),
    uid: view.getUint32(layout[2], true),
    gid: view.getUint32(layout[3], true),
    rdev: view.getBigUint64(layout[4], true),
  };
}

/** write(2) of all of `data` to `fd` (short writes and EINTR retried); `path` names errors. */
export function writeAll(fd: number, data: Uint8Array, path?: string): void {
  let off = 0;
  while (off < data.length) {
    const chunk = off === 0 ? data : data.subarray(off);
    const n = Number(sym().write(fd, chunk, BigInt(chunk.length)));
    if (n < 0) {
      const e = errno();
      if (e === EINTR) continue;
      throw new SyscallError("write", e, { path });
    }
    off += n;
  }
}

/** ioctl_iflags(2): read the inode flags (`chattr` attributes). */
const FS_IOC_GETFLAGS = 0x80086601n;
/** ioctl_iflags(2): write the inode flags. */
const FS_IOC_SETFLAGS = 0x40086602n;
/** `chattr +T`: the directory is the top of directory hierarchies (ext4's Orlov allocator). */
export const FS_TOPDIR_FL = 0x00020000;

/**
 * Adds inode flags (ioctl_iflags(2), what `chattr +X` does) to the file open at `fd`. Returns
 * false when the file system has no such flags (ENOTTY, EOPNOTSUPP, EINVAL); throws other errors.
 */
export function addInodeFlags(fd: number, flags: number, path?: string): boolean {
  // The kernel reads and writes an int through the pointer; 8 bytes keep any width safe.
  const buf = new Uint8Array(8);
  const view = new DataView(buf.buffer);
  const unsupported = (e: number): boolean => e === 25 || e === 95 || e === 22; // ENOTTY, EOPNOTSUPP, EINVAL
  if (sym().ioctl(fd, FS_IOC_GETFLAGS, buf) !== 0) {
    const e = errno();
    if (unsupported(e)) return false;
    throw new SyscallError("ioctl", e, { path, action: "Cannot read inode flags of" });
  }
  const old = view.getUint32(0, true);
  if ((old & flags) === flags) return true;
  view.setUint32(0, old | flags, true);
  if (sym().ioctl(fd, FS_IOC_SETFLAGS, buf) !== 0) {
    const e = errno();
    if (unsupported(e)) return false;
    throw new SyscallError("ioctl", e, { path, action: "Cannot set inode flags of" });
  }
  return true;
}

/** open(2) flags for {@link createExclusive}; O_NOFOLLOW differs between architectures. */
const OPEN_FLAGS: Record<string, number> = {
  // O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
  x86_64: 0o1 | 0o100 | 0o200 | 0o400000 | 0o2000000,
  aarch64: 0o1 | 0o100 | 0o200 | 0o100000 | 0o2000000,
};

/**
 * Creates a new regular file for writing: O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC (fails with
 * EEXIST on anything already there, a symlink included). Returns the fd.
 */
export function createExclusive(path: string, mode: number): number {
  const flags = OPEN_FLAGS[Deno.build.arch];
  if (flags === undefined) throw new Error(`Unsupported architecture "${Deno.build.arch}"`);
  const p = cstr(path);
  for (;;) {
    const fd = sym().open(p, flags, mode);
    if (fd >= 0) return fd;
    const e = errno();
    if (e !== EINTR) throw new SyscallError("open", e, { path });
  }
}

/** close(2). Not retried on EINTR: Linux has released the fd either way. */
export function closeFd(fd: number, path?: string): void {
  if (sym().close(fd) !== 0) throw new SyscallError("close", errno(), { path });
}

/** fchown(2) on an open file. */
export function fchown(fd: number, uid: number, gid: number, path?: string): void {
  if (sym().fchown(fd, uid >>> 0, gid >>> 0) !== 0) {
    throw new SyscallError("fchown", errno(), { path, action: "Cannot change owner of" });
  }
}

/** fchmod(2) on an open file, setuid/setgid/sticky bits included. */
export function fchmod(fd: number, mode: number, path?: string): void {
  if (sym().fchmod(fd, mode & 0o7777) !== 0) {
    throw new SyscallError("fchmod", errno(), { path, action: "Cannot change mode of" });
  }
}

const timesBuf = new BigInt64Array(4);

/** futimens(3) on an open file with nanosecond times (atime, mtime as [sec, nsec]). */
export function futimens(
  fd: number,
  atime: readonly [number, number],
  mtime: readonly [number, number],
  path?: string,
): void {
  timesBuf[0] = BigInt(atime[0]);
  timesBuf[1] = BigInt(atime[1]);
  timesBuf[2] = BigInt(mtime[0]);
  timesBuf[3] = BigInt(mtime[1]);
  if (sym().futimens(fd, new Uint8Array(timesBuf.buffer)) !== 0) {
    throw new SyscallError("futimens", errno(), { path, action: "Cannot set times of" });
  }
}
