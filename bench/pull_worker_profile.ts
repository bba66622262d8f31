/**
 * Unpack of the pull bench's three layers (`.tmp/bench/l*.tar.gz`, made by
 * `bench/pull_vs_podman.sh`) from files, no registry: all three on this thread one after
 * another (`thread`), or each on its own Worker at once (`worker`, what `LayerStore` does with
 * `HostLayerFs`). The work directory gets the same `chattr +T` hint as the layer store's tmp.
 *
 *   deno run -A bench/pull_worker_profile.ts [thread|native|worker|both] [bench-dir]
 *
 * @module
 */
import * as fs from "node:fs";
import process from "node:process";
import { applyLayer } from "../src/storage/layer_apply.ts";
import { HostLayerFs } from "../src/runtime/host_layer_fs.ts";
import { fileStream } from "../src/image/content_store.ts";
import { nativeDecoder } from "../ffi/zlib.ts";

const mode = Deno.args[0] ?? "both";
const dir = Deno.args[1] ?? ".tmp/bench";
const GZ = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const layers = ["l1", "l2", "l3"].map((n) => `${dir}/${n}.tar.gz`);
const host = new HostLayerFs();
const work = `${dir}/unpack-profile`;
fs.mkdirSync(work, { recursive: true });
host.markTopDir(work);

async function round(label: string, parallel: boolean, native = false): Promise<void> {
  const tmps = layers.map(() => fs.mkdtempSync(`${work}/layer-`));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const one = async (i: number): Promise<void> => {
    const t = performance.now();
    const r = parallel
      ? await host.applyLayer(fileStream(layers[i]), tmps[i], { mediaType: GZ })
      : await applyLayer(fileStream(layers[i]), tmps[i], {
        mediaType: GZ,
        fs: host,
        decoders: native ? nativeDecoder : undefined,
      });
    console.log(
      `  ${label} ${layers[i]}: ${r.entries} entries, ${(performance.now() - t).toFixed(0)} ms`,
    );
  };
  if (parallel) await Promise.all(layers.map((_, i) => one(i)));
  else for (let i = 0; i < layers.length; i++) await one(i);
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `${label}: ${(performance.now() - t0).toFixed(0)} ms wall, cpu ${
      (cpu.user / 1000).toFixed(0)
    } ms user + ${(cpu.system / 1000).toFixed(0)} ms system`,
  );
  for (const t of tmps) fs.rmSync(t, { recursive: true });
}

if (mode !== "worker") await round("this thread, one after another", false);
if (mode === "native") await round("this thread, native zlib, one after another", false, true);
if (mode !== "thread" && mode !== "native") await round("one Worker per layer, at once", true);
fs.rmSync(work, { recursive: true, force: true });
