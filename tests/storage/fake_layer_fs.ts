/**
 * An in-memory {@link LayerFs} that records every call: lets applier logic (containment,
 * ordering of chown/chmod/xattrs/times) be tested without root or a disk.
 *
 * @module
 */
import type { LayerFs, LayerStat, NodeKind } from "../../src/storage/layer_fs.ts";

/** One node of the fake tree. */
export interface FakeNode {
  type: LayerStat["type"];
  mode: number;
  uid: number;
  gid: number;
  data: Uint8Array[];
  target?: string;
  major?: number;
  minor?: number;
  xattrs: Record<string, Uint8Array>;
  mtime?: [number, number];
  /** Shared between hardlinks. */
  inode: number;
}

class FsError extends Error {
  readonly code: string;
  constructor(code: string, call: string, path: string) {
    super(`Cannot ${call} "${path}": ${code}`);
    this.code = code;
  }
}

/** The recording fake. `calls` lists `[name, path, ...args]` in order. */
export class FakeLayerFs implements LayerFs {
  readonly nodes = new Map<string, FakeNode>();
  readonly calls: unknown[][] = [];
  readonly #handles = new Map<number, string>();
  #nextHandle = 3;
  #nextInode = 1;
  /** xattr names whose lsetxattr fails with this code (to test warnings). */
  failXattr = new Map<string, string>();

  constructor(root: string) {
    this.nodes.set(root, this.#node("dir", 0o755));
  }

  #node(type: LayerStat["type"], mode: number): FakeNode {
    return { type, mode, uid: 0, gid: 0, data: [], xattrs: {}, inode: this.#nextInode++ };
  }

  #parentOf(path: string, call: string): FakeNode {
    const parent = path.slice(0, path.lastIndexOf("/")) || "/";
    const node = this.nodes.get(parent);
    if (!node) throw new FsError("ENOENT", call, path);
    if (node.type !== "dir") throw new FsError("ENOTDIR", call, path);
    return node;
  }

  #add(path: string, call: string, node: FakeNode): void {
    this.#parentOf(path, call);
    if (this.nodes.has(path)) throw new FsError("EEXIST", call, path);
    this.nodes.set(path, node);
  }

  #get(path: string, call: string): FakeNode {
    const n = this.nodes.get(path);
    if (!n) throw new FsError("ENOENT", call, path);
    return n;
  }

  /** File contents as text. */
  text(path: string): string {
    const n = this.#get(path, "read");
    return new TextDecoder().decode(concat(n.data));
  }

  lstat(path: string): LayerStat | undefined {
    this.calls.push(["lstat", path]);
    const n = this.nodes.get(path);
    return n ? { type: n.type, mode: n.mode, uid: n.uid, gid: n.gid } : undefined;
  }
  readlink(path: string): string {
    this.calls.push(["readlink", path]);
    const n = this.#get(path, "readlink");
    if (n.type !== "symlink") throw new FsError("EINVAL", "readlink", path);
    return n.target!;
  }
  mkdir(path: string, mode: number): void {
    this.calls.push(["mkdir", path, mode]);
    this.#add(path, "mkdir", this.#node("dir", mode));
  }
  createFile(path: string, mode: number): number {
    this.calls.push(["createFile", path, mode]);
    this.#add(path, "open", this.#node("file", mode));
    const h = this.#nextHandle++;
    this.#handles.set(h, path);
    return h;
  }
  write(handle: number, data: Uint8Array): void {
    const path = this.#handles.get(handle);
    if (path === undefined) throw new FsError("EBADF", "write", String(handle));
    this.#get(path, "write").data.push(data.slice());
  }
  close(handle: number): void {
    this.calls.push(["close", this.#handles.get(handle)]);
    if (!this.#handles.delete(handle)) throw new FsError("EBADF", "close", String(handle));
  }
  symlink(target: string, path: string): void {
    this.calls.push(["symlink", path, target]);
    const n = this.#node("symlink", 0o777);
    n.target = target;
    this.#add(path, "symlink", n);
  }
  link(existing: string, path: string): void {
    this.calls.push(["link", path, existing]);
    const n = this.#get(existing, "link");
    if (n.type === "dir") throw new FsError("EPERM", "link", existing);
    this.#add(path, "link", n);
  }
  mknod(path: string, kind: NodeKind, mode: number, major: number, minor: number): void {
    this.calls.push(["mknod", path, kind, mode, major, minor]);
    const n = this.#node(kind, mode);
    n.major = major;
    n.minor = minor;
    this.#add(path, "mknod", n);
  }
  lchown(path: string, uid: number, gid: number): void {
    this.calls.push(["lchown", path, uid, gid]);
    const n = this.#get(path, "lchown");
    n.uid = uid;
    n.gid = gid;
    // As the kernel does: chown clears setuid/setgid and file capabilities.
    if (n.type === "file") {
      n.mode &= ~0o6000;
      delete n.xattrs["security.capability"];
    }
  }
  chmod(path: string, mode: number): void {
    this.calls.push(["chmod", path, mode]);
    const n = this.#get(path, "chmod");
    if (n.type === "symlink") throw new Error(`chmod followed a symlink at "${path}"`);
    n.mode = mode & 0o7777;
  }
  lsetxattr(path: string, name: string, value: Uint8Array): void {
    this.calls.push(["lsetxattr", path, name]);
    const fail = this.failXattr.get(name);
    if (fail) throw new FsError(fail, "lsetxattr", path);
    this.#get(path, "lsetxattr").xattrs[name] = value.slice();
  }
  lutimes(path: string, _atime: [number, number], mtime: [number, number]): void {
    this.calls.push(["lutimes", path, mtime[0], mtime[1]]);
    this.#get(path, "lutimes").mtime = mtime;
  }
  syncfs(path: string): void {
    this.calls.push(["syncfs", path]);
  }
  removeAll(path: string): void {
    this.calls.push(["removeAll", path]);
    for (const p of [...this.nodes.keys()]) {
      if (p === path || p.startsWith(path + "/")) this.nodes.delete(p);
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
