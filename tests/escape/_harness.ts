/**
 * Harness of the escape suite: an engine on a private temp root, malicious images built in
 * memory (the fixture busybox layer plus a hand-written layer) and brought in with
 * `engine.load`, canary directories whose exact state is snapshotted before an attack and
 * compared after it, and a `run` that checks the container left nothing behind.
 *
 * Every path an attack aims at is a canary under the test's own temp dir: a successful escape
 * would create or change something there, never on a real host path.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { Engine } from "../../src/engine.ts";
import type { RunOptionsInput } from "../../src/engine_api.ts";
import { TarWriter, type TarWriterEntry } from "../../src/image/tar_writer.ts";
import { tarEntries } from "../../src/image/tar_reader.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { requires } from "../_helpers/requires.ts";

/** The needs of every end-to-end escape case. */
export const needs: { ignore: boolean } = requires("root", "overlay", "cgroup-v1", "busybox");

/** `sha256:<hex>` of bytes. */
export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Output of one container run. */
export interface RunResult {
  code: number;
  out: string;
  err: string;
  id: string;
}

/** A byte collector usable as a container's stdout/stderr. */
export function collector(): { stream: WritableStream<Uint8Array>; text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    stream: new WritableStream({
      write(c) {
        chunks.push(c.slice());
      },
    }),
    text: () => {
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.length;
      }
      return new TextDecoder().decode(all);
    },
  };
}

let busyboxLayer: Promise<Uint8Array> | undefined;

/** The uncompressed busybox fixture layer (read once from the fixture's docker archive). */
export function busyboxLayerTar(): Promise<Uint8Array> {
  busyboxLayer ??= (async () => {
    const fx = await ensureFixtures();
    const file = await Deno.open(fx.dockerArchive("busybox"));
    try {
      for await (const e of tarEntries(file.readable)) {
        if (!e.header.name.endsWith("/layer.tar")) continue;
        const parts: Uint8Array[] = [];
        for await (const c of e.body) parts.push(c);
        const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0));
        let off = 0;
        for (const c of parts) {
          out.set(c, off);
          off += c.length;
        }
        return out;
      }
    } catch (err) {
      busyboxLayer = undefined;
      throw err;
    }
    throw new Error("The busybox fixture archive has no layer.tar");
  })();
  return busyboxLayer;
}

/** Builds an uncompressed layer from tar entries (mtime defaults to a fixed date). */
export function layerTar(entries: TarWriterEntry[]): Uint8Array {
  const w = new TarWriter();
  for (const e of entries) w.add({ mtime: 1700000000, ...e });
  return w.finish();
}

/** Image config fields a malicious image may set. */
export interface EvilConfig {
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
  Volumes?: Record<string, Record<string, never>>;
}

/**
 * A `docker save` archive of one image: `layers` (uncompressed tars, in order) under `tag`.
 * Nothing is checked here: the archive is as malicious as the layers are.
 */
export function dockerArchive(
  tag: string,
  layers: Uint8Array[],
  config: EvilConfig = {},
): Uint8Array {
  const diffIds = layers.map((l) => sha256(l));
  const cfg = new TextEncoder().encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    created: "2024-01-01T00:00:00Z",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["sh"],
      ...config,
    },
    rootfs: { type: "layers", diff_ids: diffIds },
    history: layers.map(() => ({ created: "2024-01-01T00:00:00Z", created_by: "escape suite" })),
  }));
  const configName = `${sha256(cfg).slice(7)}.json`;
  const w = new TarWriter();
  const names = layers.map((_, i) => `l${i}/layer.tar`);
  layers.forEach((l, i) => w.add({ name: names[i], data: l, mtime: 1700000000 }));
  w.add({ name: configName, data: cfg, mtime: 1700000000 });
  w.add({
    name: "manifest.json",
    data: JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: names }]),
    mtime: 1700000000,
  });
  return w.finish();
}

/** Chain ids of layers given by their diff ids (as the layer store keys them). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

/** One entry of a directory snapshot. */
interface SnapEntry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  mtimeMs: number;
  rdev: number;
  content?: string;
  link?: string;
}

/** Exact state of a tree (lstat of every entry, file hashes, link targets). */
export type Snapshot = Record<string, SnapEntry>;

/** Snapshots `dir` recursively without following symlinks. */
export function snapshot(dir: string): Snapshot {
  const out: Snapshot = {};
  const walk = (rel: string): void => {
    const p = rel === "" ? dir : path.join(dir, rel);
    const st = fs.lstatSync(p);
    const type = st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
      ? "symlink"
      : st.isFile()
      ? "file"
      : st.isCharacterDevice()
      ? "char"
      : st.isBlockDevice()
      ? "block"
      : "other";
    out[rel || "."] = {
      type,
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      nlink: st.nlink,
      ino: st.ino,
      mtimeMs: st.mtimeMs,
      rdev: st.rdev,
      content: type === "file" ? sha256(fs.readFileSync(p)) : undefined,
      link: type === "symlink" ? fs.readlinkSync(p) : undefined,
    };
    if (type === "dir") { for (const n of fs.readdirSync(p).sort()) walk(path.join(rel, n)); }
  };
  walk("");
  return out;
}

/** A canary directory: files an escape would create or change, under the test's temp dir. */
export interface Canary {
  /** Absolute path of the canary directory. */
  dir: string;
  /** Absolute path of the canary file inside it. */
  file: string;
  /** The state taken at creation. */
  before: Snapshot;
  /** Asserts the canary directory is exactly as it was (no new entry, no change, no new link). */
  assertUntouched(what: string): void;
}

/** A test environment: engine on temp roots, canaries, image loading, runs. */
export class EscapeEnv {
  /** Temp directory holding everything of this environment. */
  readonly dir: string;
  /** The engine under test. */
  readonly engine: Engine;
  #n = 0;

  private constructor(dir: string, engine: Engine) {
    this.dir = dir;
    this.engine = engine;
  }

  /** A fresh engine on `<tmp>/root` and `<tmp>/run`, without networking. */
  static async create(prefix: string): Promise<EscapeEnv> {
    const dir = await Deno.makeTempDir({ prefix: `dts-escape-${prefix}-` });
    // Private to root: nothing of the engine root is reachable by other host users.
    fs.chmodSync(dir, 0o700);
    const engine = new Engine({
      root: path.join(dir, "root"),
      runroot: path.join(dir, "run"),
      defaultNetwork: "none",
    });
    return new EscapeEnv(dir, engine);
  }

  /** A new canary dir with one file (`canary`, known content), snapshotted. */
  canary(name = "canary"): Canary {
    const dir = path.join(this.dir, `${name}-${++this.#n}`);
    fs.mkdirSync(dir, { mode: 0o755 });
    const file = path.join(dir, "canary");
    fs.writeFileSync(file, "the host's canary\n", { mode: 0o644 });
    const before = snapshot(dir);
    return {
      dir,
      file,
      before,
      assertUntouched(what: string): void {
        assert.deepEqual(snapshot(dir), before, `${what}: the host canary ${dir} changed`);
      },
    };
  }

  /** Writes an archive of the layers and loads it; returns the loaded tags. */
  async load(tag: string, layers: Uint8Array[], config: EvilConfig = {}): Promise<string[]> {
    const file = path.join(this.dir, `image-${++this.#n}.tar`);
    await Deno.writeFile(file, dockerArchive(tag, layers, config));
    try {
      return await this.engine.load(file);
    } finally {
      await Deno.remove(file);
    }
  }

  /** Loads busybox plus one extra layer under `tag`. */
  async loadOnBusybox(
    tag: string,
    evil: TarWriterEntry[],
    config: EvilConfig = {},
  ): Promise<{ layerDir: string }> {
    const base = await busyboxLayerTar();
    const top = layerTar(evil);
    await this.load(tag, [base, top], config);
    const ids = chainIds([sha256(base), sha256(top)]);
    return { layerDir: path.join(this.engine.paths.layer(ids[1]), "diff") };
  }

  /** Runs a container with `--rm` and asserts it left no directory, run dir or mount. */
  async run(opts: RunOptionsInput): Promise<RunResult> {
    const out = collector();
    const err = collector();
    let id = "";
    const code = await this.engine.run({ rm: true, ...opts }, {
      stdout: out.stream,
      stderr: err.stream,
      onCreated: (i) => id = i,
    });
    this.assertNothingLeft(id);
    return { code, out: out.text(), err: err.text(), id };
  }

  /** Asserts a removed container left nothing on the host. */
  assertNothingLeft(id: string): void {
    if (id === "") return;
    assert.ok(!fs.existsSync(this.engine.paths.container(id)), "container dir left");
    assert.ok(!fs.existsSync(this.engine.paths.runContainer(id)), "run dir left");
    const mounts = Deno.readTextFileSync("/proc/self/mountinfo");
    assert.ok(!mounts.includes(id), "mount left");
    for (const ctrl of ["memory", "pids", "devices"]) {
      assert.ok(!fs.existsSync(`/sys/fs/cgroup/${ctrl}/docker-ts/${id}`), `cgroup ${ctrl} left`);
    }
  }

  /** Removes every container (forcibly) and the whole temp dir. */
  async cleanup(): Promise<void> {
    try {
      for (const c of await this.engine.list({ all: true })) {
        await this.engine.remove(c.Id, { force: true }).catch(() => {});
      }
    } finally {
      const mounts = Deno.readTextFileSync("/proc/self/mountinfo");
      assert.ok(!mounts.includes(this.dir), `a mount under ${this.dir} was left`);
      await Deno.remove(this.dir, { recursive: true });
    }
  }
}

/** Whether a path exists (lstat: a dangling symlink counts). */
export function lexists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
