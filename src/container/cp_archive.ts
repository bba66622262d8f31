/**
 * Tar streams of `docker cp` (`CONTAINER:SRC -`, `- CONTAINER:DEST`) and of the API's archive
 * endpoints, over a container's root reached as a host path (`/proc/<pid>/root` for a running
 * container, a privately held rootfs mount for a stopped one).
 *
 * Out: the source is resolved confined to the root, then walked without following links; file
 * data is opened with `O_NOFOLLOW`. In: the tar is first extracted into a private staging
 * directory on the host (names made relative, `..` refused, nothing written through a link), so
 * an unreadable or hostile archive leaves the container untouched; only then is the staged tree
 * checked against the destination and merged into it, descending only through real directories.
 * Owners are kept from the archive, as docker does (docker's `copyUIDGID` maps them all to the
 * container's user instead).
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../errors.ts";
import type { TarStreamEntry } from "../image/tar_writer.ts";
import { tarEntries } from "../image/tar_reader.ts";
import { resolveInRoot } from "./cp_paths.ts";

/** Go's `os.FileMode` bits, which docker clients decode from the path-stat header. */
const GO_MODE = {
  dir: 2 ** 31,
  symlink: 2 ** 27,
  device: 2 ** 26,
  namedPipe: 2 ** 25,
  socket: 2 ** 24,
  setuid: 2 ** 23,
  setgid: 2 ** 22,
  charDevice: 2 ** 21,
  sticky: 2 ** 20,
} as const;

/** Docker's `X-Docker-Container-Path-Stat` record (`mode` in Go's `os.FileMode` encoding). */
export interface ContainerPathStat {
  /** Base name of the path as asked (`/` for the root). */
  name: string;
  size: number;
  mode: number;
  /** RFC 3339. */
  mtime: string;
  /** For a symlink, its target resolved inside the container (absolute); else empty. */
  linkTarget: string;
}

/** Options of {@link extractIntoRoot}. */
export interface ExtractIntoOptions {
  /** Owner given to everything extracted (docker's `copyUIDGID` with a container user). */
  chown?: { uid: number; gid: number };
  /** Refuse to replace a directory with a non-directory and vice versa (docker CLI's default). */
  noOverwriteDirNonDir?: boolean;
}

/** `lstat` result in Go's `os.FileMode` encoding. */
export function goFileMode(st: fs.Stats): number {
  let mode = st.mode & 0o777;
  if (st.mode & 0o4000) mode += GO_MODE.setuid;
  if (st.mode & 0o2000) mode += GO_MODE.setgid;
  if (st.mode & 0o1000) mode += GO_MODE.sticky;
  if (st.isDirectory()) mode += GO_MODE.dir;
  else if (st.isSymbolicLink()) mode += GO_MODE.symlink;
  else if (st.isFIFO()) mode += GO_MODE.namedPipe;
  else if (st.isSocket()) mode += GO_MODE.socket;
  else if (st.isCharacterDevice()) mode += GO_MODE.device + GO_MODE.charDevice;
  else if (st.isBlockDevice()) mode += GO_MODE.device;
  return mode;
}

/** Whether a Go file mode is a directory. */
export function isGoDir(mode: number): boolean {
  return mode >= GO_MODE.dir;
}

function notFound(p: string, ref: string): NotFoundError {
  return new NotFoundError(`Could not find the file ${p} in container ${ref}`);
}

/** Docker's `filepath.Base` of the path as asked: `/` for the root, `.` for `dir/.`. */
function baseName(p: string): string {
  const trimmed = p.replace(/\/+$/, "");
  if (trimmed === "") return "/";
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}

/** The stat record of `host` (already resolved from `p` under `root`). */
function statOf(root: string, host: string, p: string, ref: string): ContainerPathStat {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(host);
  } catch {
    throw notFound(p, ref);
  }
  const linkTarget = st.isSymbolicLink() ? "/" + path.relative(root, resolveInRoot(root, p)) : "";
  return {
    name: baseName(p),
    size: st.size,
    mode: goFileMode(st),
    mtime: st.mtime.toISOString(),
    linkTarget,
  };
}

/**
 * Stat of `p` inside the container whose root is `root` (a trailing symlink is not followed, as
 * docker's HEAD does). NotFound names `ref`, the container as the user gave it.
 */
export function statInRoot(root: string, p: string, ref: string): ContainerPathStat {
  return statOf(root, resolveInRoot(root, p, { followLast: false }), p, ref);
}

/**
 * What `GET /containers/{id}/archive?path=p` sends: the stat of `p` and the tar entries of it.
 * A trailing symlink is archived as a link unless `p` ends in `/` or `/.`; `dir/.` archives the
 * directory's contents under `.`. Throws NotFound before any entry is produced.
 */
export function archiveFromRoot(
  root: string,
  p: string,
  ref: string,
): { stat: ContainerPathStat; entries: AsyncGenerator<TarStreamEntry> } {
  const host = resolveInRoot(root, p, { followLast: /\/\.?$/.test(p) });
  const stat = statOf(root, host, p, ref);
  // The whole root is archived under "." (docker would write names starting with "/").
  const name = /\/\.$/.test(p) || stat.name === "/" ? "." : stat.name;
  return { stat, entries: treeEntries(host, name) };
}

/**
 * Reads `size` bytes of a file in chunks. Opened on the first read, so an archive cancelled
 * before this entry holds no descriptor; `O_NOFOLLOW`: a file swapped for a link since the
 * walk's lstat is refused, not followed.
 */
async function* fileBody(hostPath: string, size: number): AsyncGenerator<Uint8Array> {
  const handle = await fs.promises.open(
    hostPath,
    fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW,
  );
  try {
    let left = size;
    while (left > 0) {
      const buf = new Uint8Array(Math.min(left, 256 * 1024));
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break; // shrank meanwhile: tarStream reports the short body
      left -= bytesRead;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Tar entries of a host tree, named from `name`. Links are stored as links, never followed;
 * files with several links inside the tree become hard links to the first one; sockets are
 * skipped (they mean nothing in an archive).
 */
export async function* treeEntries(
  hostPath: string,
  name: string,
  seen: Map<string, string> = new Map(),
): AsyncGenerator<TarStreamEntry> {
  const st = fs.lstatSync(hostPath);
  const common = {
    name,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtime: Math.floor(st.mtimeMs / 1000),
  };
  if (st.isSymbolicLink()) {
    yield { ...common, type: "symlink", linkname: fs.readlinkSync(hostPath) };
  } else if (st.isDirectory()) {
    yield { ...common, type: "dir" };
    for (const child of fs.readdirSync(hostPath).sort()) {
      yield* treeEntries(path.join(hostPath, child), `${name}/${child}`, seen);
    }
  } else if (st.isFile()) {
    const key = `${st.dev}:${st.ino}`;
    const first = st.nlink > 1 ? seen.get(key) : undefined;
    if (first !== undefined) {
      yield { ...common, type: "hardlink", linkname: first };
      return;
    }
    if (st.nlink > 1) seen.set(key, name);
    yield { ...common, type: "file", size: st.size, body: fileBody(hostPath, st.size) };
  } else if (st.isFIFO()) {
    yield { ...common, type: "fifo" };
  } else if (st.isCharacterDevice() || st.isBlockDevice()) {
    yield {
      ...common,
      type: st.isCharacterDevice() ? "char" : "block",
      devmajor: Math.floor(st.rdev / 256) & 0xfff,
      devminor: (st.rdev & 0xff) | (Math.floor(st.rdev / 2 ** 12) & 0xfff00),
    };
  }
}

/** A tar member name made relative and checked (no absolute paths, no `..`). */
function safeName(name: string): string | undefined {
  const parts = name.split("/").filter((x) => x !== "" && x !== ".");
  if (parts.some((x) => x === "..")) {
    throw new InvalidArgumentError(`Cannot extract "${name}": the name leaves the target`);
  }
  return parts.length ? parts.join("/") : undefined;
}

/**
 * Throws when a parent of `rel` under `root` is not a real directory (a symlink, a file), so
 * nothing is ever reached through a link; missing parents are made when `create`, else refused.
 */
function realParents(root: string, rel: string, create = true): void {
  let cur = root;
  for (const part of rel.split("/").slice(0, -1)) {
    cur = path.join(cur, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch {
      if (!create) throw new InvalidArgumentError(`Cannot extract "${rel}": "${part}" is missing`);
      fs.mkdirSync(cur, { mode: 0o755 });
      continue;
    }
    if (!st.isDirectory()) {
      throw new InvalidArgumentError(`Cannot extract "${rel}": "${part}" is not a directory`);
    }
  }
}

function lexists(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

/**
 * Extracts a tar stream under `root` (a private directory), never writing through a symlink and
 * refusing names that leave it. Owners come from the archive when `keepOwners` (else root's),
 * modes and modification times always; a directory's time is set after its children. Devices,
 * fifos and sockets are skipped. Resolves to the top-level names extracted (`.` for the root).
 */
export async function extractConfined(
  root: string,
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: { keepOwners?: boolean } = {},
): Promise<string[]> {
  const top = new Set<string>();
  const dirTimes: { dest: string; mtime: number }[] = [];
  for await (const { header, body } of tarEntries(source)) {
    const rel = safeName(header.name);
    if (rel === undefined) {
      // "./": the target itself; its metadata is not applied (docker would chmod the target).
      top.add(".");
      for await (const _ of body) { /* skip */ }
      continue;
    }
    realParents(root, rel);
    const dest = path.join(root, rel);
    top.add(rel.split("/")[0]);
    const existing = lexists(dest);
    if (existing && !(header.type === "dir" && existing.isDirectory())) {
      fs.rmSync(dest, { recursive: true, force: true });
    }
    switch (header.type) {
      case "dir":
        if (!existing?.isDirectory()) fs.mkdirSync(dest, { mode: 0o700 });
        break;
      case "file": {
        const fd = fs.openSync(
          dest,
          fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL |
            fs.constants.O_NOFOLLOW,
          0o600,
        );
        try {
          for await (const chunk of body) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off);
          }
        } finally {
          fs.closeSync(fd);
        }
        break;
      }
      case "symlink":
        fs.symlinkSync(header.linkname, dest);
        break;
      case "hardlink": {
        const target = safeName(header.linkname);
        // Parents checked first: a link in the target's path must not lead the lstat (and the
        // hard link) to a file outside the staging directory.
        if (target !== undefined) realParents(root, target, false);
        const st = target === undefined ? undefined : lexists(path.join(root, target));
        if (target === undefined || !st?.isFile()) {
          throw new InvalidArgumentError(
            `Cannot extract "${header.name}": invalid hard link to "${header.linkname}"`,
          );
        }
        fs.linkSync(path.join(root, target), dest);
        // A hard link shares the target's inode: its metadata is already set.
        continue;
      }
      default:
        // Devices, fifos and sockets are not created by a copy.
        for await (const _ of body) { /* skipped */ }
        continue;
    }
    const [uid, gid] = options.keepOwners ? [header.uid, header.gid] : [0, 0];
    try {
      fs.lchownSync(dest, uid, gid);
    } catch {
      // not root: the files stay ours
    }
    if (header.type === "symlink") {
      fs.lutimesSync(dest, header.mtime, header.mtime);
      continue;
    }
    // After the chown, which clears setuid/setgid bits.
    fs.chmodSync(dest, header.mode & 0o7777);
    if (header.type === "dir") dirTimes.push({ dest, mtime: header.mtime });
    else fs.utimesSync(dest, header.mtime, header.mtime);
  }
  // Deepest first, so setting a directory's time is not undone by its children's.
  for (const { dest, mtime } of dirTimes.reverse()) fs.utimesSync(dest, mtime, mtime);
  return [...top];
}

/** Throws when merging `from` into `to` would replace a directory by a non-directory or back. */
function checkMerge(from: string, to: string, shown: string): void {
  for (const name of fs.readdirSync(from)) {
    const s = fs.lstatSync(path.join(from, name));
    const d = lexists(path.join(to, name));
    const where = path.posix.join(shown, name);
    if (!d) continue;
    if (d.isDirectory() && !s.isDirectory()) {
      throw new ConflictError(`Cannot overwrite directory "${where}" with non-directory`);
    }
    if (!d.isDirectory() && s.isDirectory()) {
      throw new ConflictError(`Cannot overwrite non-directory "${where}" with directory`);
    }
    if (s.isDirectory()) checkMerge(path.join(from, name), path.join(to, name), where);
  }
}

/** Copies a staged regular file into a new file (`O_EXCL|O_NOFOLLOW`): never through a link. */
function copyFileData(from: string, to: string): void {
  const src = fs.openSync(from, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const dst = fs.openSync(
      to,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL |
        fs.constants.O_NOFOLLOW,
      0o600,
    );
    try {
      const buf = new Uint8Array(1024 * 1024);
      for (;;) {
        const n = fs.readSync(src, buf, 0, buf.length, null);
        if (n === 0) break;
        let off = 0;
        while (off < n) off += fs.writeSync(dst, buf, off, n - off);
      }
    } finally {
      fs.closeSync(dst);
    }
  } finally {
    fs.closeSync(src);
  }
}

/** Owner, mode and times of `st` onto `dest` (links: owner and times only). */
function applyMeta(dest: string, st: fs.Stats, chown?: { uid: number; gid: number }): void {
  fs.lchownSync(dest, chown?.uid ?? st.uid, chown?.gid ?? st.gid);
  if (st.isSymbolicLink()) {
    fs.lutimesSync(dest, st.atime, st.mtime);
    return;
  }
  fs.chmodSync(dest, st.mode & 0o7777);
  fs.utimesSync(dest, st.atime, st.mtime);
}

/** Merges the staged tree `from` into the real directory `to`, as tar extraction over it would. */
function mergeTree(
  from: string,
  to: string,
  options: ExtractIntoOptions,
  links: Map<string, string>,
): void {
  for (const name of fs.readdirSync(from).sort()) {
    const s = path.join(from, name);
    const d = path.join(to, name);
    const ss = fs.lstatSync(s);
    let ds = lexists(d);
    if (ds && !(ss.isDirectory() && ds.isDirectory())) {
      fs.rmSync(d, { recursive: true, force: true });
      ds = undefined;
    }
    if (ss.isDirectory()) {
      if (!ds) fs.mkdirSync(d, { mode: 0o700 });
      // Only ever descends into a real directory (a link was removed above).
      mergeTree(s, d, options, links);
    } else if (ss.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(s), d);
    } else {
      const key = `${ss.dev}:${ss.ino}`;
      const first = ss.nlink > 1 ? links.get(key) : undefined;
      if (first !== undefined) {
        fs.linkSync(first, d);
        continue;
      }
      if (ss.nlink > 1) links.set(key, d);
      copyFileData(s, d);
    }
    applyMeta(d, ss, options.chown);
  }
}

/**
 * `PUT /containers/{id}/archive?path=p`: extracts a tar stream into the directory `p` of the
 * container whose root is `root`. The archive is staged under `stagingParent` first, so a
 * malformed or refused archive (absolute names are made relative, `..` refused, links are never
 * written through) changes nothing in the container. NotFound when `p` is missing,
 * InvalidArgument when it is not a directory, Conflict on a directory/non-directory clash with
 * `noOverwriteDirNonDir`.
 */
export async function extractIntoRoot(
  root: string,
  p: string,
  ref: string,
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  stagingParent: string,
  options: ExtractIntoOptions = {},
): Promise<void> {
  // Like docker: a trailing symlink is followed, so a link to a directory is a valid target.
  const dest = resolveInRoot(root, p);
  const st = lexists(dest);
  if (!st) throw notFound(p, ref);
  if (!st.isDirectory()) {
    throw new InvalidArgumentError(
      `Cannot extract into "${p}": extraction point is not a directory`,
    );
  }
  fs.mkdirSync(stagingParent, { recursive: true, mode: 0o700 });
  const staging = fs.mkdtempSync(path.join(stagingParent, "cp-in-"));
  try {
    await extractConfined(staging, source, { keepOwners: true });
    const shown = "/" + path.relative(root, dest);
    if (options.noOverwriteDirNonDir) checkMerge(staging, dest, shown);
    mergeTree(staging, dest, options, new Map());
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
