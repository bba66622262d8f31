// Child process of layer_worker_test.ts (deno test counts a Worker's load error as a failure
// even when handled): applies a layer through a Worker module that cannot load, prints JSON.
import * as zlib from "node:zlib";
import * as fs from "node:fs";
import { createHash } from "node:crypto";
import { applyLayer } from "../../src/storage/layer_apply.ts";
import { HostLayerFs } from "../../src/runtime/host_layer_fs.ts";
import { applyLayerInWorker } from "../../src/runtime/layer_worker_client.ts";
import { TarWriter } from "../../src/image/tar_writer.ts";

const GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const dir = Deno.args[0];
// Incompressible data: the compressed stream spans many 512 KiB batches, so the client holds
// several back while the Worker is (not) loading.
const big = crypto.getRandomValues(new Uint8Array(60_000));
const w = new TarWriter();
w.add({ name: "etc/", type: "dir", mode: 0o755 });
w.add({ name: "etc/hostname", data: "fallback\n", mode: 0o644 });
for (let i = 0; i < 80; i++) w.add({ name: `rand/${i}`, data: big, mode: 0o600 });
const raw = w.finish();
const data = new Uint8Array(zlib.gzipSync(raw, { level: 1 }));
async function* chunks(size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.slice(i, i + size);
}
const host = new HostLayerFs();
let fellBack = 0;
const result = await applyLayerInWorker(chunks(100_000), dir, {
  mediaType: GZIP,
  workerUrl: new URL("./_broken_layer_worker.ts", import.meta.url),
  fallback: (rest) => {
    fellBack++;
    return applyLayer(rest, dir, { mediaType: GZIP, fs: host });
  },
});
console.log(JSON.stringify({
  fellBack,
  compressed: data.length,
  diffIdOk: result.diffId === `sha256:${createHash("sha256").update(raw).digest("hex")}`,
  last: fs.readFileSync(`${dir}/rand/79`).length === big.length,
  hostname: fs.readFileSync(`${dir}/etc/hostname`, "utf8"),
}));
