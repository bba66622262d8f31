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
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  /** ssize_t llistxattr(const char *path, char *list, size_t size); */
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  /** int utimensat(int dirfd, const char *pathname, const struct timespec times[2], int flags); */
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int lstat(const char *path, struct stat *buf); — glibc ≥ 2.33 exports it */
  lstat: { parameters: ["buffer", "buffer"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t count); */
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** int syncfs(int fd); — syncfs(2) */
  syncfs: { parameters: ["i32"], result: "i32" },
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
