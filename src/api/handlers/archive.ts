/**
 * `docker cp` over the API: `HEAD|GET|PUT /containers/{id}/archive?path=…`.
 *
 * GET copies the path out of the running container with the engine's confined `copyFrom` into
 * a private temp directory, then streams that tree as a tar. PUT extracts the client's tar into
 * a private temp directory — refusing absolute names, `..`, and any entry whose parent is a
 * symlink, so nothing is ever written through a link — then hands each top-level entry to the
 * engine's confined `copyTo`. Only the engine touches the container's root.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError, NotFoundError } from "../../errors.ts";
import { resolveInRoot } from "../../container/cp_paths.ts";
import { tarStream, type TarStreamEntry } from "../../image/tar_writer.ts";
import { tarEntries } from "../../image/tar_reader.ts";
import type { ResponseWriter } from "../http_server.ts";
import type { ApiContext, ApiRequest, RouteTable } from "./_common.ts";
import { need } from "./lifecycle.ts";

/** Go's `os.FileMode` type bits, which the docker CLI decodes from the stat header. */
const GO_MODE_DIR = 2 ** 31;
const GO_MODE_SYMLINK = 2 ** 27;

/** Docker's `X-Docker-Container-Path-Stat` record. */
export interface PathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

/** The stat record of a host path (lstat), in Go's mode encoding. */
export function pathStat(hostPath: string, name: string, linkTarget = ""): PathStat {
  const st = fs.lstatSync(hostPath);
  let mode = st.mode & 0o777;
  if (st.isDirectory()) mode += GO_MODE_DIR;
  if (st.isSymbolicLink()) mode += GO_MODE_SYMLINK;
  return { name, size: st.size, mode, mtime: st.mtime.toISOString(), linkTarget };
}

function statHeader(stat: PathStat): string {
  return btoa(JSON.stringify(stat));
}

function pathParam(req: ApiRequest): string {
  const p = req.query.get("path");
  if (!p) throw new InvalidArgumentError("Bad parameter: path cannot be empty");
  return p;
}

/** Stat of a path inside a running container, resolved confined to its root. */
async function statInContainer(ctx: ApiContext, ref: string, p: string): Promise<PathStat> {
  const info = await ctx.engine.inspect(ref);
  if (!info.State.Running || !info.State.Pid) {
    throw new NotFoundError(`Could not find the file ${p} in container ${ref}`);
  }
  const root = `/proc/${info.State.Pid}/root`;
  const host = resolveInRoot(root, p, { followLast: false });
  let linkTarget = "";
  try {
    if (fs.lstatSync(host).isSymbolicLink()) {
      linkTarget = "/" + path.relative(root, resolveInRoot(root, p));
    }
  } catch {
    throw new NotFoundError(`Could not find the file ${p} in container ${ref}`);
  }
  return pathStat(host, path.posix.basename(p) || "/", linkTarget);
}

async function headArchive(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const stat = await statInContainer(ctx, req.params.id, pathParam(req));
  await res.send(200, "", { "X-Docker-Container-Path-Stat": statHeader(stat) });
}

/** Tar entries of a host tree, named from `name`; links are stored as links, never followed. */
export async function* hostTreeEntries(
  hostPath: string,
  name: string,
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
      yield* hostTreeEntries(path.join(hostPath, child), `${name}/${child}`);
    }
  } else if (st.isFile()) {
    const f = await Deno.open(hostPath, { read: true });
    yield { ...common, type: "file", size: st.size, body: f.readable };
  }
  // Sockets, fifos and devices are skipped, as a copy of them means nothing outside.
}

async function getArchive(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const copyFrom = need(ctx.engine, "copyFrom", "copy files from containers");
  const p = pathParam(req);
  const stat = await statInContainer(ctx, req.params.id, p);
  const tmp = await Deno.makeTempDir({ prefix: "docker-ts-cp-" });
  try {
    const base = path.posix.basename(p.replace(/\/\.?$/, "")) || "root";
    const local = path.join(tmp, base);
    await copyFrom(req.params.id, p, local);
    // `dir/.` archives the directory's contents under ".", as docker does.
    const name = /\/\.$/.test(p) ? "." : base;
    const body = tarStream(hostTreeEntries(local, name));
    const out = await res.stream(200, {
      "Content-Type": "application/x-tar",
      "X-Docker-Container-Path-Stat": statHeader(stat),
    });
    for await (const chunk of body) await out.write(chunk);
    await out.end();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
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

/** Throws when a parent of `rel` under `root` is not a real directory (a symlink, a file). */
function assertRealParents(root: string, rel: string): void {
  const parts = rel.split("/").slice(0, -1);
  let cur = root;
  for (const part of parts) {
    cur = path.join(cur, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch {
      fs.mkdirSync(cur, { mode: 0o755 });
      continue;
    }
    if (!st.isDirectory()) {
      throw new InvalidArgumentError(`Cannot extract "${rel}": "${part}" is not a directory`);
    }
  }
}

/** Extracts a tar stream under `root`, never writing through a symlink. */
export async function extractConfined(
  root: string,
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  options: { keepOwners?: boolean } = {},
): Promise<string[]> {
  const top = new Set<string>();
  for await (const { header, body } of tarEntries(source)) {
    const rel = safeName(header.name);
    if (rel === undefined) {
      for await (const _ of body) { /* skip "." */ }
      continue;
    }
    assertRealParents(root, rel);
    const dest = path.join(root, rel);
    top.add(rel.split("/")[0]);
    const existing = fs.existsSync(dest) || (() => {
      try {
        fs.lstatSync(dest);
        return true;
      } catch {
        return false;
      }
    })();
    if (existing && header.type !== "dir") fs.rmSync(dest, { recursive: true, force: true });
    switch (header.type) {
      case "dir":
        if (!existing) fs.mkdirSync(dest, { mode: 0o755 });
        else if (!fs.lstatSync(dest).isDirectory()) {
          throw new InvalidArgumentError(`Cannot extract "${rel}": not a directory`);
        }
        break;
      case "file": {
        const f = await Deno.open(dest, { write: true, createNew: true, mode: 0o600 });
        try {
          for await (const chunk of body) {
            let rest = chunk;
            while (rest.length) rest = rest.subarray(await f.write(rest));
          }
        } finally {
          f.close();
        }
        break;
      }
      case "symlink":
        fs.symlinkSync(header.linkname, dest);
        break;
      case "hardlink": {
        const target = safeName(header.linkname);
        if (target === undefined) throw new InvalidArgumentError(`Invalid hard link "${rel}"`);
        assertRealParents(root, target);
        const st = fs.lstatSync(path.join(root, target));
        if (!st.isFile()) throw new InvalidArgumentError(`Invalid hard link "${rel}"`);
        fs.linkSync(path.join(root, target), dest);
        break;
      }
      default:
        // Devices and fifos are not created by a copy.
        for await (const _ of body) { /* skipped */ }
        continue;
    }
    if (header.type !== "symlink") {
      fs.chmodSync(dest, header.mode & 0o7777);
      const [uid, gid] = options.keepOwners ? [header.uid, header.gid] : [0, 0];
      try {
        fs.lchownSync(dest, uid, gid);
      } catch {
        // not root: keep our own
      }
      fs.utimesSync(dest, header.mtime, header.mtime);
    } else {
      try {
        fs.lchownSync(
          dest,
          options.keepOwners ? header.uid : 0,
          options.keepOwners ? header.gid : 0,
        );
      } catch {
        // not root
      }
    }
  }
  return [...top];
}

async function putArchive(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const copyTo = need(ctx.engine, "copyTo", "copy files into containers");
  const p = pathParam(req);
  const stat = await statInContainer(ctx, req.params.id, p);
  if ((stat.mode & GO_MODE_DIR) === 0 && !stat.linkTarget) {
    throw new InvalidArgumentError(`Cannot extract into "${p}": not a directory`);
  }
  const tmp = await Deno.makeTempDir({ prefix: "docker-ts-cp-" });
  try {
    const names = await extractConfined(tmp, req.http.body, {
      keepOwners: req.bool("copyUIDGID"),
    });
    for (const name of names) {
      await copyTo(req.params.id, path.join(tmp, name), p.endsWith("/") ? p : `${p}/`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  await res.send(200, "");
}

/** Registers the archive routes. */
export function registerArchive(r: RouteTable): void {
  r.add("HEAD", "/containers/{id}/archive", headArchive);
  r.add("GET", "/containers/{id}/archive", getArchive);
  r.add("PUT", "/containers/{id}/archive", putArchive);
}
