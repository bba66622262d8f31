/**
 * The file system operations the layer applier needs, as an interface: some need syscalls Deno
 * lacks (mknod, lsetxattr, utimensat with nanoseconds), and storage code never imports `ffi/`.
 * The engine passes `HostLayerFs` from `src/runtime/host_layer_fs.ts`; unit tests pass a fake.
 *
 * Every path is absolute and names the object itself: no operation follows a symlink in the
 * last component. Failures throw an `Error` whose `code` is the errno name (`ENOENT`, …).
 *
 * @module
 */

/** What {@link LayerFs.lstat} reports. */
export interface LayerStat {
  /** Object type. */
  type: "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";
  /** Permission bits (0o7777). */
  mode: number;
  /** Owner uid. */
  uid: number;
  /** Owner gid. */
  gid: number;
}

/** Device-like node kinds {@link LayerFs.mknod} creates. */
export type NodeKind = "char" | "block" | "fifo";

/** Synchronous file system operations used by the applier. */
export interface LayerFs {
  /** lstat, or undefined when nothing exists at `path` (ENOENT). */
  lstat(path: string): LayerStat | undefined;
  /** readlink of a symlink. */
  readlink(path: string): string;
  /** mkdir with `mode` (umask may apply; the applier chmods afterwards). */
  mkdir(path: string, mode: number): void;
  /** Creates a new regular file (O_CREAT|O_EXCL|O_NOFOLLOW) and returns a handle for writes. */
  createFile(path: string, mode: number): number;
  /** Writes all of `data` to a handle from {@link createFile}. */
  write(handle: number, data: Uint8Array): void;
  /** Closes a handle from {@link createFile}. */
  close(handle: number): void;
  /** symlink(target, path). */
  symlink(target: string, path: string): void;
  /** link(existing, path), never following a symlink at `existing`. */
  link(existing: string, path: string): void;
  /** mknod of a char/block device (with major/minor) or a fifo. */
  mknod(path: string, kind: NodeKind, mode: number, major: number, minor: number): void;
  /** lchown. */
  lchown(path: string, uid: number, gid: number): void;
  /** chmod with setuid/setgid/sticky bits (never called on symlinks). */
  chmod(path: string, mode: number): void;
  /** lsetxattr. */
  lsetxattr(path: string, name: string, value: Uint8Array): void;
  /** utimensat(AT_SYMLINK_NOFOLLOW) with [seconds, nanoseconds] pairs. */
  lutimes(path: string, atime: [number, number], mtime: [number, number]): void;
  /** Flushes the file system holding `path` to disk (syncfs). */
  syncfs(path: string): void;
  /** Removes `path` and, for a directory, everything below it (symlinks are not followed). */
  removeAll(path: string): void;
}

/** The errno name carried by an error thrown by a {@link LayerFs}, if any. */
export function errorCode(err: unknown): string | undefined {
  if (err !== null && typeof err === "object" && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}
