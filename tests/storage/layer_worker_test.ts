// The host applies layers on Worker threads (src/runtime/layer_worker*.ts) with native decoders
// and fd-based metadata: the tree must be exactly what the in-thread, path-based applier makes,
// errors keep their category, and abort/source failures stop the Worker before returning.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { createHash } from "node:crypto";
import { applyLayer } from "../../src/storage/layer_apply.ts";
import { errorCode, type LayerFs } from "../../src/storage/layer_fs.ts";
import { HostLayerFs } from "../../src/runtime/host_layer_fs.ts";
import { TarWriter, type TarWriterEntry } from "../../src/image/tar_writer.ts";
import { InternalError, InvalidArgumentError } from "../../src/errors.ts";
import { lgetxattr } from "../../ffi/fs.ts";
import { requires } from "../_helpers/requires.ts";

const TAR = "application/vnd.oci.image.layer.v1.tar";
const GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
const host = new HostLayerFs();
/** The host fs without its fast paths: path-based metadata, node:zlib, this thread. */
const plain: LayerFs = Object.assign(Object.create(host), {
  finishFile: undefined,
  applyLayer: undefined,
});

const CAP = new Uint8Array([1, 0, 0, 2, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

const LAYER: TarWriterEntry[] = [
  { name: "./", type: "dir", mode: 0o755, mtime: 1000 },
  { name: "bin/", type: "dir", mode: 0o755, mtime: 1_600_000_000 },
  {
    name: "bin/busybox",
    data: "#!busybox",
    mode: 0o4755,
    mtime: 1_600_000_001,
    pax: { mtime: "1600000001.123456789", atime: "1600000000.5" },
  },
  { name: "bin/sh", type: "symlink", linkname: "busybox", uid: 11, gid: 12, mtime: 1_600_000_002 },
  { name: "bin/ash", type: "hardlink", linkname: "bin/busybox" },
  { name: "dev/", type: "dir", mode: 0o755 },
  { name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
  { name: "run/initctl", type: "fifo", mode: 0o600 },
  { name: "var/mail/", type: "dir", mode: 0o2775, gid: 8 },
  { name: "var/mail/root", data: "mail", mode: 0o660, uid: 0, gid: 0 },
  { name: "home/alice/", type: "dir", mode: 0o700, uid: 1000, gid: 1000 },
  { name: "home/alice/notes", data: "hi", uid: 1000, gid: 1000, mode: 0o640, mtime: 5 },
  { name: "usr/bin/ping", data: "ping", mode: 0o755, xattrs: { "security.capability": CAP } },
  { name: "usr/bin/newgrp", data: "g", mode: 0o2755, gid: 42 },
  { name: "usr/share/empty", data: "", mode: 0o644 },
  { name: "tmp/", type: "dir", mode: 0o1777 },
  { name: "etc/passwd", data: "old", mode: 0o644 },
  { name: "etc/passwd", data: "new, replacing the first", mode: 0o600 },
  { name: "etc/x", type: "dir", mode: 0o755 },
  { name: "etc/x", data: "a file replacing a directory", mode: 0o644 },
  { name: "etc/y", data: "a file", mode: 0o644 },
  { name: "etc/y", type: "symlink", linkname: "passwd" },
  { name: "etc/.wh.shadow", data: "" },
  { name: "big", data: new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 7) & 0xff) },
];

function tar(entries: TarWriterEntry[]): Uint8Array {
  const w = new TarWriter();
  for (const e of entries) w.add(e);
  return w.finish();
}

async function* chunks(bytes: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

function sha(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-worker-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Everything about a tree that an image defines, one line per path. */
function describeTree(root: string): string[] {
  const out = new Deno.Command("find", {
    args: [".", "-printf", "%p %y %m %U %G %T@ %A@ %l %s\\n"],
    cwd: root,
  }).outputSync();
  assert.equal(out.code, 0);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n").sort();
  return lines.map((line) => {
    const path = line.split(" ")[0];
    const full = `${root}/${path}`;
    const st = Deno.lstatSync(full);
    let extra = "";
    if (st.isFile) extra += ` ${sha(fs.readFileSync(full))}`;
    if (st.isFile || st.isDirectory) {
      const cap = lgetxattr(full, "security.capability");
      if (cap) extra += ` cap=${Array.from(cap).join(",")}`;
      const opq = lgetxattr(full, "trusted.overlay.opaque");
      if (opq) extra += ` opaque=${new TextDecoder().decode(opq)}`;
    }
    if (st.isCharDevice) extra += ` rdev=${st.rdev}`;
    // Directories the layer creates implicitly (usr/ for usr/bin/ping) get the time of the
    // unpack, and the root's atime moves when find reads it; every other time is the image's.
    // Whiteout devices too: the whiteout entry's time is not applied to them.
    if (
      (st.isDirectory || st.isCharDevice) && (st.mtime?.getTime() ?? 0) > 1_700_000_000_000
    ) {
      return line.replace(/ \d+\.\d+ \d+\.\d+ /, " now now ") + extra;
    }
    return path === "." ? line.replace(/ \d+\.\d+ (\d+\.\d+) /, " - $1 ") + extra : line + extra;
  });
}

const COMPRESSORS: [string, string, (b: Uint8Array) => Uint8Array][] = [
  ["gzip", GZIP, (b) => new Uint8Array(zlib.gzipSync(b))],
  ["zstd", ZSTD, (b) => new Uint8Array(zlib.zstdCompressSync(b))],
  ["plain", TAR, (b) => b],
];

for (const [label, mediaType, compress] of COMPRESSORS) {
  Deno.test({
    name: `layer worker (root): a ${label} layer gives the same tree and diffID as in-thread`,
    ...requires("root"),
    async fn() {
      await withTemp(async (dir) => {
        const raw = tar(LAYER);
        const data = compress(raw);
        fs.mkdirSync(`${dir}/a`);
        fs.mkdirSync(`${dir}/b`);
        let progress = 0;
        const viaWorker = await host.applyLayer(chunks(data, 40_000), `${dir}/a`, {
          mediaType,
          onProgress: (n) => progress = n,
        });
        const inThread = await applyLayer(chunks(data, 40_000), `${dir}/b`, {
          mediaType,
          fs: plain,
        });
        assert.equal(viaWorker.diffId, sha(raw));
        assert.deepEqual(viaWorker, inThread);
        assert.equal(progress, raw.length);
        assert.deepEqual(describeTree(`${dir}/a`), describeTree(`${dir}/b`));
        // Spot checks of what the fd-based path sets.
        const busybox = Deno.lstatSync(`${dir}/a/bin/busybox`);
        assert.equal(busybox.mode! & 0o7777, 0o4755);
        assert.equal(Deno.lstatSync(`${dir}/a/var/mail/root`).gid, 0);
        assert.equal(Deno.lstatSync(`${dir}/a/home/alice/notes`).uid, 1000);
        assert.deepEqual(lgetxattr(`${dir}/a/usr/bin/ping`, "security.capability"), CAP);
        assert.equal(fs.readFileSync(`${dir}/a/etc/passwd`, "utf8"), "new, replacing the first");
      });
    },
  });
}

Deno.test({
  name: "layer worker (root): errors keep their category, message and errno",
  ...requires("root"),
  async fn() {
    await withTemp(async (dir) => {
      const evil = new Uint8Array(zlib.gzipSync(tar([{ name: "../outside", data: "x" }])));
      await assert.rejects(
        host.applyLayer(chunks(evil), dir, { mediaType: GZIP }),
        (err: unknown) =>
          err instanceof InvalidArgumentError &&
          err.message === `Cannot extract "../outside": the path escapes the layer`,
      );
      const good = new Uint8Array(zlib.gzipSync(tar(LAYER)));
      await assert.rejects(
        host.applyLayer(chunks(good.subarray(0, good.length - 100)), dir, { mediaType: GZIP }),
        (err: unknown) =>
          err instanceof InvalidArgumentError && /invalid gzip data/.test(err.message),
      );
      await assert.rejects(
        host.applyLayer(chunks(good), `${dir}/missing`, { mediaType: GZIP }),
        (err: unknown) => err instanceof InternalError && errorCode(err) === "ENOENT",
      );
      await assert.rejects(
        host.applyLayer(chunks(good), dir, { mediaType: ZSTD }),
        (err: unknown) =>
          err instanceof InvalidArgumentError && /says zstd but the data is gzip/.test(err.message),
      );
    });
  },
});

/** A source that yields `head` slowly, then fails or hangs as told. */
async function* slow(
  data: Uint8Array,
  opts: { failWith?: Error; after: number },
): AsyncGenerator<Uint8Array> {
  let sent = 0;
  for (let i = 0; i < data.length; i += 16384) {
    if (sent >= opts.after) {
      if (opts.failWith) throw opts.failWith;
      await new Promise(() => {}); // stall forever: only an abort ends this
    }
    const c = data.slice(i, i + 16384);
    sent += c.length;
    yield c;
    await new Promise((r) => setTimeout(r, 1));
  }
}

Deno.test({
  name: "layer worker (root): a failing source or an abort stops the Worker before returning",
  ...requires("root"),
  sanitizeOps: false, // the stalled source's never-settling read is abandoned on purpose
  async fn() {
    await withTemp(async (dir) => {
      const entries: TarWriterEntry[] = [];
      for (let i = 0; i < 400; i++) entries.push({ name: `d/f${i}`, data: `file ${i}\n` });
      const data = new Uint8Array(zlib.gzipSync(tar(entries), { level: 0 }));

      const boom = new Error("connection reset by peer");
      fs.mkdirSync(`${dir}/fail`);
      await assert.rejects(
        host.applyLayer(slow(data, { failWith: boom, after: 64 * 1024 }), `${dir}/fail`, {
          mediaType: GZIP,
        }),
        (err: unknown) => err === boom,
      );

      const ac = new AbortController();
      fs.mkdirSync(`${dir}/abort`);
      const p = host.applyLayer(slow(data, { after: 64 * 1024 }), `${dir}/abort`, {
        mediaType: GZIP,
        signal: ac.signal,
      });
      setTimeout(() => ac.abort(new DOMException("stop", "AbortError")), 50);
      await assert.rejects(p, (err: unknown) => (err as Error).name === "AbortError");

      // Nothing writes into the directories once the promises settled.
      for (const sub of ["fail", "abort"]) {
        fs.rmSync(`${dir}/${sub}`, { recursive: true });
      }
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(fs.readdirSync(dir), []);
    });
  },
});

Deno.test({
  name: "layer worker: markTopDir sets chattr +T where the file system has it",
  ...requires("root"),
  async fn() {
    await withTemp(async (dir) => {
      host.markTopDir(dir); // must not throw on any file system
      host.markTopDir(`${dir}/missing`);
      const stat = await new Deno.Command("stat", { args: ["-f", "-c", "%T", dir] }).output();
      const fsType = new TextDecoder().decode(stat.stdout).trim();
      if (fsType !== "ext2/ext3") return; // ext4 reports ext2/ext3
      const out = await new Deno.Command("lsattr", { args: ["-d", dir] }).output();
      if (out.code !== 0) return;
      const flags = new TextDecoder().decode(out.stdout).split(" ")[0];
      assert.match(flags, /T/);
    });
  },
});

Deno.test({
  name: "layer worker (root): a Worker that cannot load falls back to this thread, no data lost",
  ...requires("root"),
  async fn() {
    await withTemp(async (dir) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./_worker_fallback_main.ts", import.meta.url).pathname, dir],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const r = JSON.parse(text);
      assert.ok(r.compressed > 4 * 512 * 1024);
      assert.deepEqual(
        { fellBack: r.fellBack, diffIdOk: r.diffIdOk, last: r.last, hostname: r.hostname },
        { fellBack: 1, diffIdOk: true, last: true, hostname: "fallback\n" },
      );
    });
  },
});
