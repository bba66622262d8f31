/**
 * Path resolution confined to a container's root, for `docker cp`. The container's filesystem is
 * reached through `/proc/<pid>/root`; a symlink inside it must resolve against the container's
 * root, never the host's, so every component is resolved here by hand (lstat, readlink, clamp
 * `..` at the root) and the kernel only ever walks components known not to be symlinks.
 *
 * Limit: a process inside the container could swap a checked directory for a symlink between the
 * check and the use (`openat2(RESOLVE_IN_ROOT)` would close that window; not used yet).
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError, NotFoundError } from "../errors.ts";

/** Options of {@link resolveInRoot}. */
export interface ResolveOptions {
  /** Follow a symlink in the last component (default true). */
  followLast?: boolean;
}

/**
 * Resolves `p` (a path inside the container) to a host path under `root`, following symlinks
 * as the container would see them. Components that do not exist are kept literally.
 */
export function resolveInRoot(root: string, p: string, options: ResolveOptions = {}): string {
  const followLast = options.followLast ?? true;
  let parts = p.split("/").filter((x) => x !== "" && x !== ".");
  let resolved: string[] = [];
  let hops = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === "..") {
      resolved.pop(); // clamped at the root: ".." of "/" is "/"
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(candidate);
    } catch {
      resolved.push(part, ...parts.filter((x) => x !== ".."));
      if (parts.includes("..")) {
        // ".." after a missing component: resolve lexically (Docker does the same).
        resolved = path.posix.normalize("/" + [...resolved].join("/")).split("/").filter(Boolean);
      }
      break;
    }
    if (st.isSymbolicLink() && (parts.length > 0 || followLast)) {
      if (++hops > 40) {
        throw new InvalidArgumentError(`Cannot resolve "${p}": too many levels of symbolic links`);
      }
      const target = fs.readlinkSync(candidate);
      if (target.startsWith("/")) resolved = [];
      parts = [...target.split("/").filter((x) => x !== "" && x !== "."), ...parts];
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}

/** Copies a file tree without following symlinks (links are recreated as links). */
export function copyTree(from: string, to: string): void {
  const st = fs.lstatSync(from);
  if (st.isSymbolicLink()) {
    fs.rmSync(to, { force: true });
    fs.symlinkSync(fs.readlinkSync(from), to);
    return;
  }
  if (st.isDirectory()) {
    if (!fs.existsSync(to)) fs.mkdirSync(to, { mode: st.mode & 0o7777 });
    for (const name of fs.readdirSync(from)) copyTree(path.join(from, name), path.join(to, name));
    return;
  }
  if (st.isFile()) {
    // O_NOFOLLOW on the target: never write through a symlink planted at the destination.
    const fd = fs.openSync(
      to,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW,
      st.mode & 0o7777,
    );
    try {
      fs.writeFileSync(fd, fs.readFileSync(from));
    } finally {
      fs.closeSync(fd);
    }
    return;
  }
  throw new InvalidArgumentError(`Cannot copy "${from}": not a regular file, directory or link`);
}

/**
 * Docker's copy rule: copying `src` to `dest` — an existing directory receives `src` under its
 * base name (or its contents when `src` ends in `/.`); otherwise `dest` becomes the copy.
 */
export function copyInto(
  src: string,
  dest: string,
  given: { src: string; dest: string } = { src, dest },
): void {
  const srcGiven = given.src;
  const destGiven = given.dest;
  if (!fs.existsSync(src)) throw new NotFoundError(`Could not find the file ${srcGiven}`);
  const contentsOnly = /\/\.$/.test(srcGiven);
  let destIsDir = false;
  try {
    destIsDir = fs.lstatSync(dest).isDirectory();
  } catch {
    if (destGiven.endsWith("/")) {
      throw new NotFoundError(`Could not find the file ${destGiven}: no such directory`);
    }
  }
  if (destIsDir) {
    if (contentsOnly) {
      for (const name of fs.readdirSync(src)) copyTree(path.join(src, name), path.join(dest, name));
    } else {
      copyTree(src, path.join(dest, path.basename(src)));
    }
    return;
  }
  copyTree(src, dest);
}
