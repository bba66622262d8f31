/**
 * {@link LayerFs} on the host: node:fs where it acts on the link itself (lchown, open
 * with O_NOFOLLOW), FFI (`ffi/fs.ts`) for lstat, write, mknod, lsetxattr, utimensat, syncfs.
 *
 * @module
 */
import * as fs from "node:fs";
import type { LayerFs, LayerStat, NodeKind } from "../storage/layer_fs.ts";
import {
  applyLayer,
  type ApplyLayerResult,
  type HandleMetaFs,
  type LayerApplier,
  type RemoteApplyOptions,
} from "../storage/layer_apply.ts";
import { applyLayerInWorker } from "./layer_worker_client.ts";
import {
  addInodeFlags,
  closeFd,
  createExclusive,
  fchmod,
  fchown,
  FS_TOPDIR_FL,
  futimens,
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

const { S_IFMT, S_IFDIR, S_IFLNK, S_IFREG, S_IFSOCK } = fs.constants;

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

/**
 * The host implementation of {@link LayerFs}. As a {@link LayerApplier} it applies each layer
 * on its own Worker thread (`layer_worker.ts`), so `LayerStore` extracts layers on every core.
 */
export class HostLayerFs implements LayerFs, LayerApplier, HandleMetaFs {
  /** Applies a whole layer on a fresh Worker thread (on this thread if none can start). */
  applyLayer(
    stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    destDir: string,
    options: RemoteApplyOptions,
  ): Promise<ApplyLayerResult> {
    return applyLayerInWorker(stream, destDir, {
      ...options,
      fallback: (rest) => applyLayer(rest, destDir, { ...options, fs: this }),
    });
  }

  /**
   * `chattr +T` on the layer store's tmp directory, best effort. Why: ext4 places a new
   * directory's inode in its parent's block group, so without it every layer unpacks into the
   * one group of `<root>/tmp`; on a file system without a journal, ext4 then skips each inode
   * freed in the last ~30 s when allocating (`recently_deleted`), and after layers were removed
   * each create scanned thousands of them (~220 µs per file here instead of ~8 µs).
   */
  markTopDir(dir: string): void {
    let fd: number;
    try {
      fd = fs.openSync(dir, "r");
    } catch {
      return;
    }
    try {
      addInodeFlags(fd, FS_TOPDIR_FL, dir);
    } catch {
      // A hint only: a file system that refuses it unpacks correctly, just slower.
    } finally {
      fs.closeSync(fd);
    }
  }

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
  /** Exclusive, no-follow, close-on-exec create through FFI; returns a kernel fd. */
  createFile(path: string, mode: number): number {
    return createExclusive(path, mode);
  }
  /** Writes all bytes through FFI (node's writeSync costs more per call than the write). */
  write(handle: number, data: Uint8Array): void {
    writeAll(handle, data);
  }
  /** close through FFI (the fd came from FFI open, which node:fs does not know). */
  close(handle: number): void {
    closeFd(handle);
  }
  /** fchown, fchmod, futimens on the open file, then close: no path walks. */
  finishFile(
    handle: number,
    uid: number,
    gid: number,
    mode: number,
    atime: [number, number],
    mtime: [number, number],
  ): void {
    try {
      // chown first: it clears setuid/setgid, which the chmod then sets.
      fchown(handle, uid, gid);
      fchmod(handle, mode);
      futimens(handle, atime, mtime);
    } finally {
      closeFd(handle);
    }
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
