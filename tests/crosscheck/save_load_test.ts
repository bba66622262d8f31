/**
 * Cross-check of archives: docker-ts loads the fixture archives (`docker save` layout with
 * uncompressed layers; OCI layout with zstd/plain/gzip layers) into exactly the catalog's tree,
 * and `podman load` accepts what docker-ts saves (same image id, podman's unpacked tree equals
 * the catalog's). Once through ImageService, once through the CLI.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { assertNoDiff, diffCatalog, snapshotTree } from "./_tree.ts";
import { Podman, run, type RunResult } from "./_peers.ts";
import { mergedTree, tempImageService } from "./_service.ts";

const MOD = path.resolve(import.meta.dirname!, "../../mod.ts");

/** The CLI entry point may land after these tests; until then they are skipped, saying why. */
function needsCli(): boolean {
  if (fs.existsSync(MOD)) return false;
  console.error(`[requires] skipping CLI cross-checks: ${MOD} does not exist yet`);
  return true;
}

/** Runs `docker-ts` against temp roots under `dir`. */
function dockerTs(dir: string, args: string[]): Promise<RunResult> {
  return run(Deno.execPath(), [
    "run",
    "-A",
    "--no-prompt",
    MOD,
    "--root",
    path.join(dir, "root"),
    "--runroot",
    path.join(dir, "run"),
    ...args,
  ]);
}

/** podman loads `archive`; its image id and unpacked tree must match the catalog. */
async function podmanAccepts(
  podman: Podman,
  archive: string,
  name: string,
  id: string,
  files: Parameters<typeof diffCatalog>[1],
): Promise<void> {
  await podman.run(["load", "-q", "-i", archive]);
  const got = await podman.run(["image", "inspect", "--format", "{{.Id}}", `${name}:latest`]);
  assert.equal(`sha256:${got.stdout.trim()}`, id, "podman's image id");
  // vfs "mounts" are plain directories.
  const dir = (await podman.run(["image", "mount", `${name}:latest`])).stdout.trim();
  assertNoDiff(diffCatalog(snapshotTree(dir), files), `podman load of docker-ts save (${name})`);
  await podman.run(["image", "unmount", `${name}:latest`]);
  await podman.run(["rmi", "-a", "-f"]);
}

for (const name of ["busybox", "multilayer"]) {
  Deno.test({
    name: `crosscheck: ImageService loads both ${name} archives; podman loads its save`,
    ...requires("root", "overlay", "podman"),
    async fn() {
      const fx = await ensureFixtures();
      const img = fx.image(name);
      const tmp = await Deno.makeTempDir({ prefix: `save-load-${name}-` });
      const podman = new Podman();
      try {
        for (
          const [form, archive, id] of [
            ["docker", fx.dockerArchive(name), img.schema2.configDigest],
            ["oci", fx.ociArchive(name), img.oci.configDigest],
          ] as const
        ) {
          const svc = tempImageService(path.join(tmp, `dts-${form}`));
          const loaded = await svc.load(archive);
          assert.ok(loaded.some((l) => l.includes(`${name}:latest`)), `${form}: ${loaded}`);
          const resolved = await svc.resolveForRun(name);
          assert.equal(resolved.imageId, id, `${form}: image id`);
          const merged = await mergedTree(resolved.layerDiffDirs, path.join(tmp, `mnt-${form}`));
          assertNoDiff(diffCatalog(merged, img.files), `docker-ts load of ${form} archive`);

          const saved = path.join(tmp, `${name}-${form}-saved.tar`);
          await svc.save([name], saved);
          await podmanAccepts(podman, saved, name, id, img.files);
        }
      } finally {
        await podman.cleanup();
        await Deno.remove(tmp, { recursive: true });
      }
    },
  });

  Deno.test({
    name: `crosscheck: CLI load -i / save -o of ${name}, podman loads the result`,
    ignore: requires("root", "podman").ignore || needsCli(),
    async fn() {
      const fx = await ensureFixtures();
      const img = fx.image(name);
      const tmp = await Deno.makeTempDir({ prefix: `cli-save-load-${name}-` });
      const podman = new Podman();
      try {
        const dts = path.join(tmp, "dts");
        const loaded = await dockerTs(dts, ["load", "-i", fx.dockerArchive(name)]);
        assert.match(loaded.stdout, new RegExp(`Loaded image: ${name}:latest`));
        const id = await dockerTs(dts, ["image", "inspect", "--format", "{{.Id}}", name]);
        assert.equal(id.stdout.trim(), img.schema2.configDigest);
        const saved = path.join(tmp, `${name}-saved.tar`);
        await dockerTs(dts, ["save", "-o", saved, name]);
        await podmanAccepts(podman, saved, name, img.schema2.configDigest, img.files);

        const dtsOci = path.join(tmp, "dts-oci");
        const loadedOci = await dockerTs(dtsOci, ["load", "-i", fx.ociArchive(name)]);
        assert.match(loadedOci.stdout, new RegExp(`Loaded image: ${name}:latest`));
        const idOci = await dockerTs(dtsOci, ["image", "inspect", "--format", "{{.Id}}", name]);
        assert.equal(idOci.stdout.trim(), img.oci.configDigest);
      } finally {
        await podman.cleanup();
        await Deno.remove(tmp, { recursive: true });
      }
    },
  });
}
