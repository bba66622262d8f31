// Applies real layers on the host file system (root: chown, mknod, trusted.* xattrs).
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { createHash } from "node:crypto";
import { applyLayer } from "../../src/storage/layer_apply.ts";
import { HostLayerFs } from "../../src/runtime/host_layer_fs.ts";
import { TarWriter, type TarWriterEntry } from "../../src/image/tar_writer.ts";
import { InvalidArgumentError } from "../../src/errors.ts";
import { lgetxattr } from "../../ffi/fs.ts";
import { requires } from "../_helpers/requires.ts";

const TAR = "application/vnd.oci.image.layer.v1.tar";
const GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
const hostFs = new HostLayerFs();

function tar(entries: TarWriterEntry[]): Uint8Array {
  const w = new TarWriter();
  for (const e of entries) w.add(e);
  return w.finish();
}

async function* chunks(bytes: Uint8Array, size = 4096): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-apply-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function statMtime(path: string): string {
  const out = new Deno.Command("stat", { args: ["-c", "%.9Y", path] }).outputSync();
  return new TextDecoder().decode(out.stdout).trim();
}

const CAP = new Uint8Array([1, 0, 0, 2, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

const LAYER: TarWriterEntry[] = [
  { name: "./", type: "dir", mode: 0o755, mtime: 1000 },
  { name: "bin/", type: "dir", mode: 0o755, mtime: 1_600_000_000 },
  {
    name: "bin/busybox",
    data: "#!busybox",
    mode: 0o4755,
    mtime: 1_600_000_001,
    pax: { mtime: "1600000001.123456789" },
  },
  { name: "bin/sh", type: "symlink", linkname: "busybox", uid: 11, gid: 12, mtime: 1_600_000_002 },
  { name: "bin/ash", type: "hardlink", linkname: "bin/busybox" },
  { name: "dev/", type: "dir", mode: 0o755 },
  { name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
  { name: "dev/sda1", type: "block", devmajor: 8, devminor: 1, mode: 0o660, gid: 6 },
  { name: "run/initctl", type: "fifo", mode: 0o600 },
  { name: "home/alice/", type: "dir", mode: 0o700, uid: 1000, gid: 1000 },
  { name: "home/alice/notes", data: "hi", uid: 1000, gid: 1000, mode: 0o640 },
  { name: "usr/bin/ping", data: "ping", mode: 0o755, xattrs: { "security.capability": CAP } },
  { name: "usr/bin/newgrp", data: "g", mode: 0o2755, gid: 42 },
  { name: "tmp/", type: "dir", mode: 0o1777 },
  { name: "a/".repeat(60) + "deep-file", data: "deep" },
  { name: "big", data: new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff) },
];

Deno.test({
  name: "apply (root): every type, owner, mode, xattr, device and mtime lands on disk",
  ...requires("root"),
  async fn() {
    await withTemp(async (dir) => {
      const dest = `${dir}/diff`;
      fs.mkdirSync(dest);
      const bytes = tar(LAYER);
      const r = await applyLayer(chunks(bytes), dest, { mediaType: TAR, fs: hostFs });
      assert.equal(r.size, bytes.length);
      assert.deepEqual(r.warnings, []);
      const st = (p: string) => fs.lstatSync(`${dest}/${p}`, { bigint: true });
      assert.equal(fs.readFileSync(`${dest}/bin/busybox`, "utf8"), "#!busybox");
      assert.equal(Number(st("bin/busybox").mode & 0o7777n), 0o4755);
      // node:fs stats in Deno keep only milliseconds; stat(1) shows the nanoseconds.
      assert.equal(statMtime(`${dest}/bin/busybox`), "1600000001.123456789");
      assert.equal(fs.readlinkSync(`${dest}/bin/sh`), "busybox");
      assert.deepEqual([st("bin/sh").uid, st("bin/sh").gid], [11n, 12n]);
      assert.equal(st("bin/sh").mtimeNs, 1_600_000_002_000_000_000n);
      assert.equal(st("bin/ash").ino, st("bin/busybox").ino);
      assert.equal(st("bin/busybox").nlink, 2n);
      assert.ok(st("dev/null").isCharacterDevice());
      assert.equal(st("dev/null").rdev, BigInt((1 << 8) | 3));
      assert.equal(Number(st("dev/null").mode & 0o7777n), 0o666);
      assert.ok(st("dev/sda1").isBlockDevice());
      assert.equal(st("dev/sda1").rdev, BigInt((8 << 8) | 1));
      assert.equal(st("dev/sda1").gid, 6n);
      assert.ok(st("run/initctl").isFIFO());
      assert.deepEqual([st("home/alice").uid, st("home/alice").gid], [1000n, 1000n]);
      assert.equal(Number(st("home/alice").mode & 0o7777n), 0o700);
      assert.equal(Number(st("home/alice/notes").mode & 0o7777n), 0o640);
      assert.deepEqual(lgetxattr(`${dest}/usr/bin/ping`, "security.capability"), CAP);
      assert.equal(Number(st("usr/bin/newgrp").mode & 0o7777n), 0o2755);
      assert.equal(st("usr/bin/newgrp").gid, 42n);
      assert.equal(Number(st("tmp").mode & 0o7777n), 0o1777);
      // Directory times are set after their contents are written.
      assert.equal(st("bin").mtimeNs, 1_600_000_000_000_000_000n);
      assert.equal(st(".").mtimeNs, 1_000_000_000_000n);
      assert.equal(fs.readFileSync(`${dest}/${"a/".repeat(60)}deep-file`, "utf8"), "deep");
      assert.deepEqual(
        fs.readFileSync(`${dest}/big`),
        Buffer.from(LAYER.at(-1)!.data as Uint8Array),
      );
    });
  },
});

Deno.test({
  name: "apply (root): whiteouts become char 0:0 devices and opaque xattrs",
  ...requires("root"),
  async fn() {
    await withTemp(async (dir) => {
      const dest = `${dir}/diff`;
      fs.mkdirSync(dest);
      const bytes = tar([
        { name: "etc/", type: "dir" },
        { name: "etc/.wh.shadow", data: "" },
        { name: "var/lib/", type: "dir" },
        { name: "var/lib/.wh..wh..opq", data: "" },
      ]);
      await applyLayer(chunks(bytes), dest, { mediaType: TAR, fs: hostFs });
      const wh = fs.lstatSync(`${dest}/etc/shadow`);
      assert.ok(wh.isCharacterDevice());
      assert.equal(wh.rdev, 0);
      assert.equal(fs.existsSync(`${dest}/etc/.wh.shadow`), false);
      const opq = lgetxattr(`${dest}/var/lib`, "trusted.overlay.opaque");
      assert.equal(new TextDecoder().decode(opq), "y");
    });
  },
});

for (
  const [label, mediaType, compress] of [
    ["plain", TAR, (b: Uint8Array) => b],
    ["gzip", GZIP, (b: Uint8Array) => new Uint8Array(zlib.gzipSync(b))],
    ["zstd", ZSTD, (b: Uint8Array) => new Uint8Array(zlib.zstdCompressSync(b))],
  ] as const
) {
  Deno.test({
    name: `apply (root): ${label} layer gives the diffID of the uncompressed tar`,
    ...requires("root"),
    async fn() {
      await withTemp(async (dir) => {
        const dest = `${dir}/diff`;
        fs.mkdirSync(dest);
        const bytes = tar(LAYER);
        const r = await applyLayer(chunks(compress(bytes), 7777), dest, { mediaType, fs: hostFs });
        assert.equal(r.diffId, `sha256:${createHash("sha256").update(bytes).digest("hex")}`);
        assert.equal(fs.readFileSync(`${dest}/home/alice/notes`, "utf8"), "hi");
      });
    },
  });
}

Deno.test({
  name: "apply (root): media type and magic bytes must agree",
  ...requires("root"),
  async fn() {
    await withTemp(async (dir) => {
      const bytes = tar(LAYER);
      const gz = new Uint8Array(zlib.gzipSync(bytes));
      const cases: Array<[Uint8Array, string]> = [[gz, TAR], [bytes, GZIP], [gz, ZSTD]];
      for (const [data, mediaType] of cases) {
        await assert.rejects(
          applyLayer(chunks(data), dir, { mediaType, fs: hostFs }),
          (err) =>
            err instanceof InvalidArgumentError && /says .* but the data is/.test(err.message),
        );
      }
      assert.deepEqual(fs.readdirSync(dir), [], "nothing extracted before the check");
      await assert.rejects(
        applyLayer(chunks(bytes), dir, { mediaType: "application/x-foo", fs: hostFs }),
        /unknown media type "application\/x-foo"/,
      );
    });
  },
});

Deno.test({
  name: "apply (root): truncated gzip is a clear error",
  ...requires("root"),
  async fn() {
    await withTemp(async (dir) => {
      const gz = new Uint8Array(zlib.gzipSync(tar(LAYER)));
      await assert.rejects(
        applyLayer(chunks(gz.subarray(0, gz.length >> 1)), dir, { mediaType: GZIP, fs: hostFs }),
        (err) => err instanceof InvalidArgumentError,
      );
    });
  },
});

// ---- The escape suite on the real file system. Outside targets are unique temp names. ----

Deno.test({
  name: "apply escape (root): no malicious entry creates or writes outside the layer",
  ...requires("root"),
  async fn() {
    await withTemp(async (dir) => {
      const outside = `${dir}/outside`;
      fs.mkdirSync(outside);
      fs.writeFileSync(`${outside}/victim`, "original");
      const tag = `docker-ts-escape-${crypto.randomUUID().slice(0, 8)}`;
      const cases: Array<[string, TarWriterEntry[]]> = [
        ["dotdot", [{ name: "../outside/victim", data: "pwned" }]],
        ["dotdot-deep", [{ name: `a/../../../tmp/${tag}`, data: "pwned" }]],
        ["absolute", [{ name: `/tmp/${tag}`, data: "inside" }]],
        ["symlink-root", [
          { name: "x", type: "symlink", linkname: "/" },
          { name: `x/tmp/${tag}`, data: "inside" },
        ]],
        ["symlink-abs-outside", [
          { name: "x", type: "symlink", linkname: outside },
          { name: "x/victim", data: "pwned" },
        ]],
        ["symlink-relative-up", [
          { name: "x", type: "symlink", linkname: "../../outside" },
          { name: "x/victim", data: "pwned" },
        ]],
        ["overwrite-symlink", [
          { name: "v", type: "symlink", linkname: `${outside}/victim` },
          { name: "v", data: "pwned" },
        ]],
        ["hardlink-outside", [{ name: "h", type: "hardlink", linkname: "../outside/victim" }]],
        ["hardlink-abs", [{ name: "h", type: "hardlink", linkname: `${outside}/victim` }]],
        ["hardlink-via-symlink", [
          { name: "x", type: "symlink", linkname: outside },
          { name: "h", type: "hardlink", linkname: "x/victim" },
          { name: "h", data: "pwned" },
        ]],
        ["whiteout-outside", [{ name: "../outside/.wh.victim", data: "" }]],
        ["whiteout-via-symlink", [
          { name: "x", type: "symlink", linkname: outside },
          { name: "x/.wh.victim", data: "" },
        ]],
        ["opaque-via-symlink", [
          { name: "x", type: "symlink", linkname: outside },
          { name: "x/.wh..wh..opq", data: "" },
        ]],
        ["device-via-symlink", [
          { name: "x", type: "symlink", linkname: outside },
          { name: "x/dev", type: "char", devmajor: 1, devminor: 3 },
        ]],
        ["dir-via-symlink-then-chmod", [
          { name: "x", type: "symlink", linkname: outside },
          { name: "x/", type: "dir", mode: 0o777 },
        ]],
      ];
      const outsideBefore = fs.lstatSync(outside);
      for (const [label, entries] of cases) {
        const dest = `${dir}/layer-${label}`;
        fs.mkdirSync(dest);
        try {
          await applyLayer(chunks(tar(entries)), dest, { mediaType: TAR, fs: hostFs });
        } catch (err) {
          assert.ok(err instanceof InvalidArgumentError, `${label}: ${err}`);
        }
        assert.equal(fs.readFileSync(`${outside}/victim`, "utf8"), "original", label);
        assert.deepEqual(fs.readdirSync(outside), ["victim"], label);
        assert.equal(fs.lstatSync(`${outside}/victim`).nlink, 1, label);
        assert.equal(lgetxattr(outside, "trusted.overlay.opaque"), undefined, label);
        assert.equal(fs.lstatSync(outside).mode, outsideBefore.mode, label);
        assert.equal(fs.existsSync(`/tmp/${tag}`), false, label);
      }
      // The contained variants landed inside their own layer.
      assert.equal(fs.readFileSync(`${dir}/layer-absolute/tmp/${tag}`, "utf8"), "inside");
      assert.equal(fs.readFileSync(`${dir}/layer-symlink-root/tmp/${tag}`, "utf8"), "inside");
      const inner = `${dir}/layer-symlink-abs-outside${outside}/victim`;
      assert.equal(fs.readFileSync(inner, "utf8"), "pwned", "resolved inside the root");
    });
  },
});
