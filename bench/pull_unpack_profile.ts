/**
 * Profile of the unpack path on the pull bench's layers (`.tmp/bench/l*.tar.gz`): time for
 * gunzip alone, gunzip+sha256, gunzip+tar parse, and the full apply, per layer.
 *
 *   deno run -A bench/pull_unpack_profile.ts [bench-dir]
 *
 * @module
 */
import * as fs from "node:fs";
import { createHash } from "node:crypto";
import { decompress } from "../src/storage/decompress.ts";
import { applyLayer } from "../src/storage/layer_apply.ts";
import { TarParser } from "../src/image/tar_reader.ts";
import { HostLayerFs } from "../src/runtime/host_layer_fs.ts";
import { fileStream } from "../src/image/content_store.ts";

const dir = Deno.args[0] ?? ".tmp/bench";
const GZ = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const layers = ["l1", "l2", "l3"].map((n) => `${dir}/${n}.tar.gz`);

async function time(label: string, fn: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await fn();
  console.log(`${label}: ${(performance.now() - t0).toFixed(0)} ms`);
}

for (const f of layers) {
  await time(`${f} gunzip`, async () => {
    for await (const _ of decompress(fileStream(f), { mediaType: GZ }));
  });
  await time(`${f} gunzip+sha`, async () => {
    const h = createHash("sha256");
    for await (const c of decompress(fileStream(f), { mediaType: GZ })) h.update(c);
  });
  await time(`${f} gunzip+parse`, async () => {
    const p = new TarParser({ onEntry() {} });
    for await (const c of decompress(fileStream(f), { mediaType: GZ })) p.push(c);
    p.end();
  });
  const tmp = fs.mkdtempSync(`${dir}/prof-`);
  await time(`${f} apply`, async () => {
    await applyLayer(fileStream(f), tmp, { mediaType: GZ, fs: new HostLayerFs() });
  });
  await time(`${f} rm`, async () => {
    await fs.promises.rm(tmp, { recursive: true });
  });
}
const tmps = layers.map(() => fs.mkdtempSync(`${dir}/prof-`));
await time(`all 3 apply in parallel (one thread)`, async () => {
  await Promise.all(
    layers.map((f, i) =>
      applyLayer(fileStream(f), tmps[i], { mediaType: GZ, fs: new HostLayerFs() })
    ),
  );
});
for (const t of tmps) fs.rmSync(t, { recursive: true });
