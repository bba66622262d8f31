/**
 * Pull bench helper, driven by bench/pull_vs_podman.sh:
 *
 *   deno run -A bench/pull_bench.ts push <registry-host> <repo:tag> <layer.tar.gz>...
 *       builds a config for the gzip layers and pushes the image (setup, not timed)
 *   deno run -A bench/pull_bench.ts pull <root> <ref>
 *       pulls into a fresh root with the real layer store; prints JSON timings
 *
 * @module
 */
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { createHash } from "node:crypto";
import { Paths } from "../src/paths.ts";
import { ImageService } from "../src/image/image_service.ts";
import { LayerStore } from "../src/storage/layer_store.ts";
import { HostLayerFs } from "../src/runtime/host_layer_fs.ts";
import { MediaType } from "../src/image/manifest.ts";
import { pushArtifacts } from "../src/image/push.ts";
import { RegistryClient } from "../src/image/registry_client.ts";

async function diffIdOf(gzFile: string): Promise<string> {
  const h = createHash("sha256");
  const gunzip = fs.createReadStream(gzFile).pipe(zlib.createGunzip());
  for await (const chunk of gunzip) h.update(chunk as Uint8Array);
  return `sha256:${h.digest("hex")}`;
}

async function push(host: string, target: string, files: string[]): Promise<void> {
  const diffIds: string[] = [];
  for (const f of files) diffIds.push(await diffIdOf(f));
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    created: new Date().toISOString(),
    config: {
      Cmd: ["bash"],
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    },
    rootfs: { type: "layers", diff_ids: diffIds },
  }));
  const client = new RegistryClient();
  const pushed = await pushArtifacts(client, `${host}/${target}`, {
    config,
    layers: files.map((f) => ({ bytes: fs.readFileSync(f), mediaType: MediaType.DockerLayerGzip })),
  });
  console.log(pushed.digest);
}

async function pull(root: string, ref: string): Promise<void> {
  const paths = new Paths(root, `${root}/run`);
  const layers = new LayerStore(paths, new HostLayerFs());
  const svc = new ImageService(paths, layers);
  const t0 = performance.now();
  const res = await svc.pull(ref);
  const ms = performance.now() - t0;
  const img = svc.images.getImage(res.imageId)!;
  let unpacked = 0;
  for (const l of img.layers) unpacked += layers.meta(l.chainId).size;
  console.log(
    JSON.stringify({
      ms: Math.round(ms),
      compressed: img.size,
      unpacked,
      layers: img.layers.length,
    }),
  );
}

const [mode, ...args] = Deno.args;
if (mode === "push") await push(args[0], args[1], args.slice(2));
else if (mode === "pull") await pull(args[0], args[1]);
else {
  console.error(
    "usage: pull_bench.ts push <host> <repo:tag> <layer.tar.gz>... | pull <root> <ref>",
  );
  Deno.exit(2);
}
