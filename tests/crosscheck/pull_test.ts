/**
 * Cross-check: what docker-ts pulls and unpacks equals what the peers produce. The fixtures are
 * pushed to a real `docker-registry`; docker-ts pulls every form (schema2, OCI with zstd/plain/
 * gzip layers, manifest list, OCI index); skopeo copies the same image from the same registry and
 * umoci unpacks it. docker-ts keeps layers separate (overlay lowerdirs with whiteouts as 0:0
 * char devices), so its merged view is read through a read-only overlay in a private mount
 * namespace, then compared path by path: types, modes, owners, sizes, contents, link targets,
 * device numbers and xattrs.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { ensureFixtures, type Fixtures, pushFixture } from "../_helpers/fixtures.ts";
import { startRegistry } from "../_helpers/registry.ts";
import { assertNoDiff, diffCatalog, diffTrees, snapshotTree, type Tree } from "./_tree.ts";
import { mergedTree, tempImageService } from "./_service.ts";
import { run, skopeoCopy, umociUnpack } from "./_peers.ts";

const FORMS = ["schema2", "oci", "list", "index"] as const;

/** The peers' tree: skopeo copy from the registry (recompressed to gzip for umoci 0.4), umoci unpack. */
async function peerTree(ref: string, scratch: string): Promise<Tree> {
  await Deno.mkdir(scratch, { recursive: true });
  await skopeoCopy(`docker://${ref}`, `oci:${scratch}/layout:peer`, [
    "--dest-compress-format",
    "gzip",
  ]);
  return snapshotTree(await umociUnpack(`${scratch}/layout`, "peer", `${scratch}/bundle`));
}

/** Each unpacked layer holds its tar's entries, whiteouts as 0:0 char devices, opaque xattrs. */
function checkLayerDirs(fx: Fixtures, name: string, layerDirs: string[]): void {
  const img = fx.image(name);
  img.layerEntries.forEach((entries, i) => {
    const tree = snapshotTree(layerDirs[i], { overlayXattrs: true });
    for (const e of entries) {
      const base = path.posix.basename(e.path);
      const dir = path.posix.dirname(e.path);
      if (base === ".wh..wh..opq") {
        const d = tree.get(dir);
        assert.equal(d?.xattrs?.["trusted.overlay.opaque"], "79", `layer ${i}: ${dir} opaque`);
        assert.ok(!tree.has(e.path), `layer ${i}: marker ${e.path} must not be a file`);
      } else if (base.startsWith(".wh.")) {
        const victim = path.posix.join(dir, base.slice(4));
        const w = tree.get(victim);
        assert.deepEqual(
          [w?.type, w?.devmajor, w?.devminor],
          ["char", 0, 0],
          `layer ${i}: whiteout for ${victim}`,
        );
        assert.ok(!tree.has(e.path), `layer ${i}: ${e.path} must not be a file`);
      } else {
        const got = tree.get(e.path);
        assert.ok(got, `layer ${i}: ${e.path} missing`);
        const want = e.type === "hardlink" ? "file" : e.type;
        assert.equal(got.type, want, `layer ${i}: ${e.path} type`);
        if (e.type !== "symlink") {
          assert.equal(got.mode, e.mode, `layer ${i}: ${e.path} mode ${got.mode.toString(8)}`);
        }
        assert.deepEqual([got.uid, got.gid], [e.uid, e.gid], `layer ${i}: ${e.path} owner`);
      }
    }
  });
}

for (const name of ["busybox", "multilayer"]) {
  Deno.test({
    name: `crosscheck: docker-ts pull of ${name} (every form) equals skopeo + umoci`,
    ...requires("root", "overlay", "docker-registry", "skopeo", "umoci"),
    async fn() {
      const fx = await ensureFixtures();
      const img = fx.image(name);
      const registry = await startRegistry();
      const tmp = await Deno.makeTempDir({ prefix: `crosscheck-${name}-` });
      try {
        const refs: Record<string, string> = {};
        for (const form of FORMS) {
          refs[form] = (await pushFixture(registry.host, name, { form })).ref;
        }

        const peer = await peerTree(refs.oci, path.join(tmp, "peer"));
        assertNoDiff(diffCatalog(peer, img.files), `${name}: umoci vs catalog`);

        for (const form of FORMS) {
          // A fresh root per form: each pull must unpack everything itself.
          const svc = tempImageService(path.join(tmp, `dts-${form}`));
          const res = await svc.pull(refs[form]);
          const top = form === "list" ? img.list : form === "index" ? img.index : img[form];
          assert.equal(res.manifestDigest, top.digest, `${form}: manifest digest`);
          const wantId = form === "schema2" || form === "list"
            ? img.schema2.configDigest
            : img.oci.configDigest;
          assert.equal(res.imageId, wantId);
          const resolved = await svc.resolveForRun(refs[form]);
          assert.equal(resolved.imageId, wantId);
          const dirs = resolved.layerDiffDirs;
          assert.deepEqual(dirs, img.chainIds.map((c) => svc.layers.diffDir(c)), "layer dirs");
          for (const c of img.chainIds) {
            assert.ok(await svc.layers.has(c), `${form}: ${c} committed`);
          }
          if (form === "oci") checkLayerDirs(fx, name, dirs);
          const merged = await mergedTree(dirs, path.join(tmp, `mnt-${form}`));
          assertNoDiff(
            diffTrees(merged, peer, ["docker-ts", "umoci"]),
            `${name}:${form}: docker-ts vs umoci`,
          );
        }
      } finally {
        await registry.stop();
        await Deno.remove(tmp, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "crosscheck: --platform picks the same index entry as skopeo --override-arch",
  ...requires("root", "docker-registry", "skopeo"),
  async fn() {
    const fx = await ensureFixtures();
    const img = fx.image("busybox");
    const registry = await startRegistry();
    const tmp = await Deno.makeTempDir({ prefix: "crosscheck-platform-" });
    try {
      for (const form of ["list", "index"] as const) {
        const { ref } = await pushFixture(registry.host, "busybox", { form });
        for (const m of img[form].manifests) {
          const p = m.platform;
          const platform = [p.os, p.architecture, p.variant].filter(Boolean).join("/");
          const svc = tempImageService(path.join(tmp, `${form}-${p.architecture}`));
          const res = await svc.pull(ref, { platform });
          assert.equal(res.imageId, m.configDigest, `${form} ${platform}: image id`);
          assert.equal(res.manifestDigest, img[form].digest);
          const peer = JSON.parse(
            (await run("skopeo", [
              "--override-arch",
              p.architecture,
              ...(p.variant ? ["--override-variant", p.variant] : []),
              "inspect",
              "--tls-verify=false",
              "--config",
              `docker://${ref}`,
            ])).stdout,
          );
          assert.equal(peer.architecture, p.architecture, `skopeo ${platform}`);
          assert.equal(svc.inspect(ref).Architecture, p.architecture);
        }
      }
    } finally {
      await registry.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
