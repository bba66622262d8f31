/**
 * {@link LayerFs} on the host: node:fs where it acts on the link itself (lchown, open
 * with O_NOFOLLOW), FFI (`ffi/fs.ts`) for lstat, write, mknod, lsetxattr, utimensat, syncfs.
 *
 * @module
 */
import * as fs from "node:fs";
import type { LayerFs, LayerStat, NodeKind } from "../storage/layer_fs.ts";
import {
  lsetxattr,
  lstat,
  lutimensat,
  mknod,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  syncfs,
  writeAll,
} from "../../ffi/fs.ts";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, S_IFMT, S_IFDIR, S_IFLNK, S_IFREG, S_IFSOCK } =
  fs.constants;

function typeOf(mode: number): LayerStat["type"] {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    case S_IFREG:
      return "file";
    case S_IFCHR:
      return "char";
    case S_IFBLK:
      return "block";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    default:
      return "file";
  }
}

const NODE_TYPE: Record<NodeKind, number> = { char: S_IFCHR, block: S_IFBLK, fifo: S_IFIFO };

/** The host implementation of {@link LayerFs}. */
export class HostLayerFs implements LayerFs {
  /** lstat, undefined on ENOENT. */
  lstat(path: string): LayerStat | undefined {
    // FFI lstat: the applier calls this for nearly every entry, mostly on missing paths.
    const st = lstat(path);
    if (!st) return undefined;
    return { type: typeOf(st.mode), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  }
  /** readlink. */
  readlink(path: string): string {
    return fs.readlinkSync(path);
  }
  /** mkdir. */
  mkdir(path: string, mode: number): void {
    fs.mkdirSync(path, { mode });
  }
  /** Exclusive, no-follow create; returns a kernel fd. */
  createFile(path: string, mode: number): number {
    return fs.openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  }
  /** Writes all bytes through FFI (node's writeSync costs more per call than the write). */
  write(handle: number, data: Uint8Array): void {
    writeAll(handle, data);
  }
  /** close. */
  close(handle: number): void {
    fs.closeSync(handle);
  }
  /** symlink. */
  symlink(target: string, path: string): void {
    fs.symlinkSync(target, path);
  }
  /** link (Linux link(2) does not follow a symlink at `existing`). */
  link(existing: string, path: string): void {
    fs.linkSync(existing, path);
  }
  /** mknod through FFI. */
  mknod(path: string, kind: NodeKind, mode: number, major: number, minor: number): void {
    mknod(path, NODE_TYPE[kind] | (mode & 0o7777), major, minor);
  }
  /** lchown. */
  lchown(path: string, uid: number, gid: number): void {
    fs.lchownSync(path, uid, gid);
  }
  /** chmod. */
  chmod(path: string, mode: number): void {
    fs.chmodSync(path, mode & 0o7777);
  }
  /** lsetxattr through FFI. */
  lsetxattr(path: string, name: string, value: Uint8Array): void {
    lsetxattr(path, name, value);
  }
  /** utimensat through FFI. */
  lutimes(path: string, atime: [number, number], mtime: [number, number]): void {
    lutimensat(path, atime, mtime);
  }
  /** syncfs through FFI on a node:fs descriptor. */
  syncfs(path: string): void {
    const fd = fs.openSync(path, "r");
    try {
      syncfs(fd, path);
    } finally {
      fs.closeSync(fd);
    }
  }
  /** rm -rf without following symlinks. */
  removeAll(path: string): void {
    fs.rmSync(path, { recursive: true, force: true });
  }
}
