/**
 * Escape suite, layers: malicious image layers brought in END TO END with `engine.load` of a
 * docker-archive built here, then run. Each case aims at a canary under its own temp dir and
 * asserts the canary is byte-for-byte, inode-for-inode unchanged; what the image legitimately
 * carries must show up inside the container (or the load must fail as a whole, leaving no image).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { busyboxLayerTar, EscapeEnv, layerTar, needs, sha256 } from "./_harness.ts";
import { requires } from "../_helpers/requires.ts";
import { startRegistry } from "../_helpers/registry.ts";
import { makeLayer, pushImage, testClient } from "../image/_util.ts";

/** A canary path without its leading slash, to build relative escapes from. */
function rel(p: string): string {
  return p.replace(/^\/+/, "");
}

/** Enough `..` to climb from anywhere under the engine root to `/`. */
const UP = "../".repeat(24);

/** Asserts a load is refused with a one-line error and no image is left under that tag. */
async function assertLoadRefused(
  env: EscapeEnv,
  tag: string,
  load: () => Promise<unknown>,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(load, (err: unknown) => {
    assert.ok(err instanceof Error, String(err));
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), `multi-line error: ${err.message}`);
    return true;
  });
  const images = await env.engine.listImages();
  assert.ok(
    !images.some((i) => (i.RepoTags ?? []).includes(tag)),
    `a refused load left image ${tag}`,
  );
  // No half-unpacked layer is left in the store's temp dir either.
  const tmp = env.engine.paths.tmpDir;
  const leftovers = fs.existsSync(tmp) ? fs.readdirSync(tmp) : [];
  assert.deepEqual(leftovers, [], "a refused load left temp files");
}

Deno.test({
  name: "escape/layers: '..' and absolute entry names stay in the layer",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("layers-dotdot");
    try {
      const c = env.canary();
      // `..` climbing above the layer root: the whole layer is refused.
      for (const name of [`${UP}${rel(c.dir)}/pwned`, `a/../../${UP}${rel(c.dir)}/pwned`]) {
        await assertLoadRefused(
          env,
          "evil/dotdot:latest",
          () => env.loadOnBusybox("evil/dotdot:latest", [{ name, data: "pwned\n" }]),
          /escapes the layer/,
        );
        c.assertUntouched(`entry ${name}`);
      }
      // `..` that stays inside is just a path, as in Docker.
      // Absolute names are taken relative to the layer root.
      const { layerDir } = await env.loadOnBusybox("evil/abs:latest", [
        { name: `${c.dir}/pwned`, data: "absolute\n" },
        { name: `${c.file}`, data: "overwritten\n" },
        { name: "x/y/../inside", data: "inside\n" },
      ]);
      c.assertUntouched("absolute entry names");
      assert.equal(fs.readFileSync(path.join(layerDir, c.dir, "pwned"), "utf8"), "absolute\n");
      const r = await env.run({
        image: "evil/abs",
        cmd: ["cat", `${c.dir}/pwned`, c.file, "/x/inside"],
      });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, "absolute\noverwritten\ninside\n");
      c.assertUntouched("after running the image");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/layers: writes through symlinks to /, ../.. and the canary land in the layer",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("layers-symlink");
    try {
      const c = env.canary();
      const { layerDir } = await env.loadOnBusybox("evil/symlink:latest", [
        // A symlink to the root, then entries written through it.
        { name: "toroot", type: "symlink", linkname: "/" },
        { name: `toroot/${rel(c.dir)}/via-root`, data: "via root\n" },
        // A relative climb far above the layer.
        { name: "updir", type: "symlink", linkname: UP },
        { name: `updir/${rel(c.dir)}/via-up`, data: "via up\n" },
        // A symlink straight at the canary dir and at the canary file.
        { name: "tocanary", type: "symlink", linkname: c.dir },
        { name: "tocanary/via-canary", data: "via canary\n" },
        { name: "tofile", type: "symlink", linkname: c.file },
        { name: "tofile", data: "replaced the link, not the target\n" },
        // A chain of links, and a directory entry through one.
        { name: "chain1", type: "symlink", linkname: "chain2" },
        { name: "chain2", type: "symlink", linkname: `../../${UP}${rel(c.dir)}` },
        { name: "chain1/made-dir", type: "dir" },
        { name: "chain1/made-dir/deep", data: "deep\n" },
      ]);
      c.assertUntouched("entries through symlinks");
      // Everything landed under the layer's own copy of the canary path.
      const inLayer = path.join(layerDir, c.dir);
      assert.deepEqual(fs.readdirSync(inLayer).sort(), [
        "made-dir",
        "via-canary",
        "via-root",
        "via-up",
      ]);
      assert.equal(fs.lstatSync(path.join(layerDir, "tofile")).isFile(), true);

      const r = await env.run({
        image: "evil/symlink",
        cmd: [
          "sh",
          "-c",
          `cat /tocanary/via-root /updir/${rel(c.dir)}/via-up /tofile ${c.dir}/made-dir/deep`,
        ],
      });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, "via root\nvia up\nreplaced the link, not the target\ndeep\n");
      c.assertUntouched("after running the image");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/layers: a symlink in one layer and writes through it in the next",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("layers-crosslayer");
    try {
      const c = env.canary();
      const base = await busyboxLayerTar();
      const l1 = layerTar([
        { name: "escape", type: "symlink", linkname: c.dir },
        { name: "rootlink", type: "symlink", linkname: "/" },
      ]);
      const l2 = layerTar([
        { name: "escape/pwned", data: "layer 2\n" },
        { name: "escape/.wh.canary", data: "" },
        { name: `rootlink/${rel(c.dir)}/also`, data: "layer 2 via root\n" },
      ]);
      await env.load("evil/cross:latest", [base, l1, l2]);
      c.assertUntouched("layers written through a lower layer's symlinks");
      const r = await env.run({
        image: "evil/cross",
        // Each layer is unpacked on its own: the upper layer's `escape` and `rootlink` are
        // plain directories that replace the lower layer's links in the merged view.
        cmd: [
          "sh",
          "-c",
          `cat /escape/pwned /rootlink/${rel(c.dir)}/also; test -L /escape || echo dir`,
        ],
      });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, "layer 2\nlayer 2 via root\ndir\n");
      c.assertUntouched("after running the image");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/layers: hardlinks to files outside the layer are refused",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("layers-hardlink");
    try {
      const c = env.canary();
      const cases: { linkname: string; pre?: { name: string; linkname: string }[] }[] = [
        { linkname: c.file },
        { linkname: `${UP}${rel(c.file)}` },
        { linkname: "../../../../canary" },
        { linkname: "via/canary", pre: [{ name: "via", linkname: c.dir }] },
        { linkname: "up/" + rel(c.file), pre: [{ name: "up", linkname: UP }] },
      ];
      for (const k of cases) {
        const evil = [
          ...(k.pre ?? []).map((p) => ({ ...p, type: "symlink" as const })),
          { name: "stolen", type: "hardlink" as const, linkname: k.linkname },
          // Were the link made to the host file, this would write through it.
          { name: "stolen", data: "written through the link\n" },
        ];
        await assertLoadRefused(
          env,
          "evil/hardlink:latest",
          () => env.loadOnBusybox("evil/hardlink:latest", evil),
          /hardlink target .* (escapes the layer|does not exist)|Cannot resolve/,
        );
        c.assertUntouched(`hardlink to ${k.linkname}`);
        assert.equal(fs.statSync(c.file).nlink, 1, "the canary gained a link");
      }
      // A hardlink inside the layer works, and shares the inode as the image says.
      const { layerDir } = await env.loadOnBusybox("evil/hardlink-ok:latest", [
        { name: "a", data: "shared\n", mode: 0o640 },
        { name: "b", type: "hardlink", linkname: "a" },
      ]);
      const a = fs.statSync(path.join(layerDir, "a"));
      const b = fs.statSync(path.join(layerDir, "b"));
      assert.equal(a.ino, b.ino);
      assert.equal(a.nlink, 2);
      c.assertUntouched("after a legitimate hardlink");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/layers: whiteouts naming paths outside the layer remove nothing on the host",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("layers-whiteout");
    try {
      const c = env.canary();
      // Climbing whiteouts fail the layer.
      for (const name of [`${UP}${rel(c.dir)}/.wh.canary`, `${UP}${rel(c.dir)}/.wh..wh..opq`]) {
        await assertLoadRefused(
          env,
          "evil/wh:latest",
          () => env.loadOnBusybox("evil/wh:latest", [{ name, data: "" }]),
          /escapes the layer/,
        );
        c.assertUntouched(`whiteout ${name}`);
      }
      // Absolute ones and ones through symlinks act on the layer's own paths.
      const { layerDir } = await env.loadOnBusybox("evil/wh2:latest", [
        { name: `${c.dir}/.wh.canary`, data: "" },
        { name: "link", type: "symlink", linkname: c.dir },
        { name: "link/.wh..wh..opq", data: "" },
        { name: "uplink", type: "symlink", linkname: UP },
        { name: `uplink/${rel(c.dir)}/.wh.canary`, data: "" },
        { name: "etc/.wh.passwd", data: "" },
      ]);
      c.assertUntouched("whiteouts through symlinks");
      // The whiteout became an overlay whiteout inside the layer.
      const wh = fs.lstatSync(path.join(layerDir, c.dir, "canary"));
      assert.ok(wh.isCharacterDevice() && wh.rdev === 0, "whiteout is not a 0:0 char device");
      // …which hides the lower layer's /etc/passwd inside the container, and nothing else.
      const r = await env.run({
        image: "evil/wh2",
        cmd: ["sh", "-c", "test -e /etc/passwd && echo present || echo hidden; cat /etc/group"],
      });
      assert.match(r.out, /^hidden\nroot:/, r.err);
      c.assertUntouched("after running the image");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/layers: device nodes and setuid files are kept only as the image says",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("layers-dev");
    try {
      const c = env.canary();
      const { layerDir } = await env.loadOnBusybox("evil/dev:latest", [
        { name: "evil/", type: "dir", mode: 0o755 },
        { name: "evil/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
        { name: "evil/disk", type: "block", devmajor: 254, devminor: 0, mode: 0o600 },
        { name: "evil/suid", data: "#!/bin/sh\n", mode: 0o4755, uid: 0, gid: 0 },
        { name: "evil/sgid", data: "#!/bin/sh\n", mode: 0o2750, uid: 1000, gid: 50 },
        { name: "evil/suid-user", data: "x", mode: 0o4711, uid: 1000, gid: 1000 },
        { name: "evil/sticky/", type: "dir", mode: 0o1777 },
        { name: "evil/plain", data: "x", mode: 0o644 },
        { name: "evil/fifo", type: "fifo", mode: 0o620 },
        // The same nodes aimed at the host canary by absolute name and through a link.
        { name: `${c.dir}/null`, type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
        { name: "hostlink", type: "symlink", linkname: c.dir },
        { name: "hostlink/suid", data: "x", mode: 0o4755 },
      ]);
      c.assertUntouched("device nodes and setuid files");
      const st = (n: string) => fs.lstatSync(path.join(layerDir, n));
      const null_ = st("evil/null");
      assert.ok(null_.isCharacterDevice());
      assert.equal(null_.rdev, makedev(1, 3));
      assert.equal(null_.mode & 0o7777, 0o666);
      const disk = st("evil/disk");
      assert.ok(disk.isBlockDevice());
      assert.equal(disk.rdev, makedev(254, 0));
      assert.equal(disk.mode & 0o7777, 0o600);
      assert.equal(st("evil/suid").mode & 0o7777, 0o4755);
      assert.equal(st("evil/sgid").mode & 0o7777, 0o2750);
      assert.deepEqual([st("evil/sgid").uid, st("evil/sgid").gid], [1000, 50]);
      assert.equal(st("evil/suid-user").mode & 0o7777, 0o4711);
      assert.equal(st("evil/suid-user").uid, 1000);
      assert.equal(st("evil/sticky").mode & 0o7777, 0o1777);
      assert.equal(st("evil/plain").mode & 0o7777, 0o644);
      assert.ok(st("evil/fifo").isFIFO());
      assert.equal(st("evil/fifo").mode & 0o7777, 0o620);
      assert.ok(st(`${rel(c.dir)}/null`).isCharacterDevice());
      assert.equal(st(`${rel(c.dir)}/suid`).mode & 0o7777, 0o4755);
      // No setuid bit or device appeared anywhere the image did not name.
      const unexpected: string[] = [];
      const named = new Set([
        "evil/null",
        "evil/disk",
        "evil/suid",
        "evil/sgid",
        "evil/suid-user",
        "evil/fifo",
        `${rel(c.dir)}/null`,
        `${rel(c.dir)}/suid`,
      ]);
      const walk = (r: string): void => {
        for (const n of fs.readdirSync(path.join(layerDir, r))) {
          const p = r ? `${r}/${n}` : n;
          const s = fs.lstatSync(path.join(layerDir, p));
          if (s.isDirectory()) walk(p);
          else if (
            (s.isCharacterDevice() || s.isBlockDevice() || s.isFIFO() ||
              (s.mode & 0o6000) !== 0) && !named.has(p)
          ) unexpected.push(p);
        }
      };
      walk("");
      assert.deepEqual(unexpected, []);

      // Inside a default container the image's block device cannot be opened (device cgroup),
      // while its /dev/null twin works like /dev/null.
      const r = await env.run({
        image: "evil/dev",
        cmd: [
          "sh",
          "-c",
          "echo hi > /evil/null && echo null-ok; head -c 1 /evil/disk >/dev/null 2>&1 && echo disk-OPENED || echo disk-denied; ls -l /evil/suid",
        ],
      });
      assert.match(r.out, /^null-ok\ndisk-denied\n-rwsr-xr-x /, r.err);
      c.assertUntouched("after running the image");
    } finally {
      await env.cleanup();
    }
  },
});

/** Linux `makedev` as node reports `rdev`. */
function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
}

Deno.test({
  name: "escape/layers: the same attacks through a registry pull",
  ...requires("root", "overlay", "cgroup-v1", "busybox", "docker-registry"),
  async fn() {
    const env = await EscapeEnv.create("layers-pull");
    const registry = await startRegistry();
    try {
      const c = env.canary();
      const base = makeLayer([]);
      base.tar = await busyboxLayerTar();
      base.gz = new Uint8Array(zlib.gzipSync(base.tar));
      base.diffId = sha256(base.tar);
      base.digest = sha256(base.gz);
      const evil = makeLayer([
        { name: `${c.dir}/abs`, data: "absolute\n" },
        { name: "toroot", type: "symlink", linkname: "/" },
        { name: `toroot/${rel(c.dir)}/via-root`, data: "via root\n" },
        { name: "updir", type: "symlink", linkname: UP },
        { name: `updir/${rel(c.dir)}/.wh.canary` },
        { name: "tofile", type: "symlink", linkname: c.file },
        { name: "tofile", data: "replaced\n" },
        { name: "dev-disk", type: "block", devmajor: 254, devminor: 0, mode: 0o600 },
      ]);
      const ref = `${registry.host}/evil/pulled:latest`;
      await pushImage(testClient(), ref, [base, evil]);
      await env.engine.pull(ref);
      c.assertUntouched("pulling the image");
      const r = await env.run({
        image: ref,
        cmd: ["sh", "-c", `cat ${c.dir}/abs ${c.dir}/via-root /tofile; ls -l /dev-disk | cut -c1`],
      });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, "absolute\nvia root\nreplaced\nb\n");

      // A pulled layer that climbs out is refused like a loaded one.
      const climb = makeLayer([{ name: `${UP}${rel(c.dir)}/pwned`, data: "pwned\n" }]);
      const bad = `${registry.host}/evil/climb:latest`;
      await pushImage(testClient(), bad, [base, climb]);
      await assert.rejects(env.engine.pull(bad), /escapes the layer/);
      c.assertUntouched("after running the pulled image");
    } finally {
      await registry.stop();
      await env.cleanup();
    }
  },
});
