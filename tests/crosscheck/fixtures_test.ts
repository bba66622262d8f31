/**
 * The fixture images are sane by the peers' judgement: reproducible, every digest verifies,
 * skopeo reads every form, umoci unpacks exactly the tree the catalog promises, the busybox
 * rootfs runs, and podman loads the archives.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { createHash } from "node:crypto";
import { requires } from "../_helpers/requires.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { buildFixtures } from "../../scripts/build_fixtures.ts";
import { assertNoDiff, diffCatalog, snapshotTree } from "./_tree.ts";
import { Podman, run, skopeoCopy, skopeoInspect, umociUnpack } from "./_peers.ts";

/** Host chroot (coreutils), by absolute path: /usr/sbin may not be on a test's PATH. */
const CHROOT = "/usr/sbin/chroot";

function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else out[r] = sha256Hex(fs.readFileSync(path.join(dir, r)));
    }
  };
  walk("");
  return out;
}

Deno.test("fixtures: build is reproducible and skipped when up to date", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "fixtures-build-" });
  try {
    const out = path.join(tmp, "fx");
    const first = await buildFixtures({ outDir: out });
    assert.equal(first.built, true);
    const before = hashTree(out);
    const again = await buildFixtures({ outDir: out });
    assert.equal(again.built, false, "second build should be skipped");
    const forced = await buildFixtures({ outDir: out, force: true });
    assert.equal(forced.built, true);
    assert.deepEqual(hashTree(out), before, "a forced rebuild must produce the same bytes");
    // Nothing but the output (and the lock/temp area, emptied) is left behind.
    assert.deepEqual(fs.readdirSync(path.join(tmp, ".tmp")), ["fx.lock"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("fixtures: concurrent builds in separate processes agree", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "fixtures-race-" });
  try {
    const out = path.join(tmp, "fx");
    const script = path.resolve(import.meta.dirname!, "../../scripts/build_fixtures.ts");
    const runs = await Promise.all([1, 2, 3].map(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, "--out", out],
        stdout: "piped",
        stderr: "piped",
      }).output()
    ));
    for (const r of runs) assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    const said = runs.map((r) => new TextDecoder().decode(r.stdout));
    assert.equal(said.filter((s) => s.includes("fixtures built")).length, 1, said.join("\n"));
    const cat = JSON.parse(fs.readFileSync(path.join(out, "catalog.json"), "utf8"));
    assert.equal(cat.version, 1);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("fixtures: every catalog digest, size and diff_id verifies", async () => {
  const fx = await ensureFixtures();
  for (const img of Object.values(fx.catalog.images)) {
    const manifests = [img.schema2, img.oci, ...img.list.manifests, ...img.index.manifests];
    for (const idx of [img.list, img.index]) {
      const bytes = fs.readFileSync(fx.blob(idx.digest));
      assert.equal(`sha256:${sha256Hex(bytes)}`, idx.digest);
      assert.equal(bytes.length, idx.size);
      const doc = JSON.parse(new TextDecoder().decode(bytes));
      assert.equal(doc.mediaType, idx.mediaType);
      assert.deepEqual(
        doc.manifests.map((m: { digest: string }) => m.digest),
        idx.manifests.map((m) => m.digest),
      );
    }
    for (const m of manifests) {
      const bytes = fs.readFileSync(fx.blob(m.digest));
      assert.equal(`sha256:${sha256Hex(bytes)}`, m.digest, `${m.ref} manifest digest`);
      assert.equal(bytes.length, m.size);
      const doc = JSON.parse(new TextDecoder().decode(bytes));
      assert.equal(doc.mediaType, m.mediaType);
      assert.equal(doc.config.digest, m.configDigest);
      const config = JSON.parse(fs.readFileSync(fx.blob(m.configDigest), "utf8"));
      assert.equal(config.architecture, m.platform.architecture);
      assert.deepEqual(config.rootfs.diff_ids, img.diffIds);
      assert.equal(config.history.length, img.diffIds.length);
      assert.equal(m.fake, m.platform.architecture !== fx.catalog.hostArch);
      for (const [i, l] of m.layers.entries()) {
        const blob = fs.readFileSync(fx.blob(l.digest));
        assert.equal(`sha256:${sha256Hex(blob)}`, l.digest);
        assert.equal(blob.length, l.size);
        const tar = l.compression === "gzip"
          ? zlib.gunzipSync(blob)
          : l.compression === "zstd"
          ? zlib.zstdDecompressSync(blob)
          : blob;
        assert.equal(`sha256:${sha256Hex(tar)}`, img.diffIds[i], `${m.ref} layer ${i} diff_id`);
      }
    }
    const compressions = new Set(img.oci.layers.map((l) => l.compression));
    if (img.name === "multilayer") {
      assert.deepEqual([...compressions].sort(), ["gzip", "none", "zstd"]);
    }
  }
});

Deno.test({
  name: "fixtures: skopeo reads the OCI refs, the index and both archives",
  ...requires("skopeo"),
  async fn() {
    const fx = await ensureFixtures();
    for (const img of Object.values(fx.catalog.images)) {
      const raw = await skopeoInspect(`oci:${fx.layout}:${img.oci.ref}`, true);
      assert.equal(`sha256:${sha256Hex(new TextEncoder().encode(raw))}`, img.oci.digest);
      const viaIndex = JSON.parse(await skopeoInspect(`oci:${fx.layout}:${img.index.ref}`));
      assert.equal(viaIndex.Architecture, fx.catalog.hostArch, "index selects the host entry");
      assert.equal(viaIndex.Digest, img.index.digest);
      const docker = JSON.parse(
        await skopeoInspect(`docker-archive:${fx.dockerArchive(img.name)}`),
      );
      assert.deepEqual(docker.Layers.length, img.diffIds.length);
      const oci = JSON.parse(await skopeoInspect(`oci-archive:${fx.ociArchive(img.name)}`));
      assert.equal(oci.Digest, img.oci.digest);
    }
  },
});

Deno.test({
  name: "fixtures: umoci unpacks busybox to the catalog's tree, and it runs",
  ...requires("root", "umoci"),
  async fn() {
    const fx = await ensureFixtures();
    const img = fx.image("busybox");
    const tmp = await Deno.makeTempDir({ prefix: "umoci-busybox-" });
    try {
      const rootfs = await umociUnpack(fx.layout, img.oci.ref, path.join(tmp, "bundle"));
      assertNoDiff(diffCatalog(snapshotTree(rootfs), img.files), "umoci busybox vs catalog");
      const hi = await run(CHROOT, [rootfs, "/bin/busybox", "echo", "hi"]);
      assert.equal(hi.stdout, "hi\n");
      const id = await run(CHROOT, [rootfs, "/bin/sh", "-c", "id user"]);
      assert.match(id.stdout, /uid=1000\(user\) gid=1000\(user\) groups=1000\(user\),50\(staff\)/);
      const ls = await run(CHROOT, [rootfs, "ls", "-ld", "/tmp"], {
        env: { PATH: "/bin:/usr/bin" },
      });
      assert.match(ls.stdout, /^drwxrwxrwt/);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "fixtures: umoci unpacks multilayer (zstd converted by skopeo) to the catalog's tree",
  ...requires("root", "umoci", "skopeo"),
  async fn() {
    const fx = await ensureFixtures();
    const img = fx.image("multilayer");
    const tmp = await Deno.makeTempDir({ prefix: "umoci-multilayer-" });
    try {
      // umoci 0.4 has no zstd: let skopeo recompress everything to gzip first.
      await skopeoCopy(`oci:${fx.layout}:${img.oci.ref}`, `oci:${tmp}/layout:m`, [
        "--dest-compress-format",
        "gzip",
      ]);
      const rootfs = await umociUnpack(`${tmp}/layout`, "m", path.join(tmp, "bundle"));
      assertNoDiff(diffCatalog(snapshotTree(rootfs), img.files), "umoci multilayer vs catalog");
      const out = await run(CHROOT, [
        rootfs,
        "/bin/sh",
        "-c",
        "cat /data/keep.txt; ls /data/opaque",
      ]);
      assert.equal(out.stdout, "keep v2\nnew.txt\n");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "fixtures: podman loads the docker archive and the OCI archive",
  ...requires("root", "podman"),
  async fn() {
    const fx = await ensureFixtures();
    const podman = new Podman();
    try {
      for (const name of ["busybox", "multilayer"]) {
        const img = fx.image(name);
        await podman.run(["load", "-q", "-i", fx.dockerArchive(name)]);
        const id = (await podman.run(["image", "inspect", "--format", "{{.Id}}", `${name}:latest`]))
          .stdout.trim();
        assert.equal(`sha256:${id}`, img.schema2.configDigest);
        // vfs "mounts" are plain directories: podman's unpacked tree, readable directly.
        const dir = (await podman.run(["image", "mount", `${name}:latest`])).stdout.trim();
        assertNoDiff(diffCatalog(snapshotTree(dir), img.files), `podman ${name} vs catalog`);
        await podman.run(["image", "unmount", `${name}:latest`]);
        await podman.run(["rmi", `${name}:latest`]);
        await podman.run(["load", "-q", "-i", fx.ociArchive(name)]);
        const ids = (await podman.run(["images", "-q", "--no-trunc"])).stdout.trim();
        assert.equal(ids, img.oci.configDigest);
        await podman.run(["rmi", "-a"]);
      }
    } finally {
      await podman.cleanup();
    }
  },
});
