/**
 * Tar parse and layer apply throughput. Run: `deno bench -A bench/tar_bench.ts`.
 * Throughput = archive bytes / time per iteration (the archive sizes are printed at load).
 * Baseline: sha256 of the same bytes with node:crypto (~1.1 GB/s here), which the applier
 * pays anyway for the diffID.
 */
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { createHash } from "node:crypto";
import { TarParser } from "../src/image/tar_reader.ts";
import { TarWriter } from "../src/image/tar_writer.ts";
import { applyLayer } from "../src/storage/layer_apply.ts";
import { HostLayerFs } from "../src/runtime/host_layer_fs.ts";

const CHUNK = 256 * 1024;

/** A rootfs-like mix: many small files, some big ones, dirs and symlinks. */
function buildArchive(): Uint8Array {
  const w = new TarWriter();
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let d = 0; d < 100; d++) {
    w.add({ name: `usr/share/d${d}/`, type: "dir" });
    for (let f = 0; f < 40; f++) {
      const size = rand() % 16384;
      w.add({ name: `usr/share/d${d}/file-${f}.txt`, data: new Uint8Array(size).fill(f) });
    }
    w.add({ name: `usr/share/d${d}/link`, type: "symlink", linkname: "file-0.txt" });
  }
  for (let b = 0; b < 8; b++) {
    w.add({ name: `usr/lib/big-${b}.so`, data: new Uint8Array(4 * 1024 * 1024).fill(b) });
  }
  return w.finish();
}

const archive = buildArchive();
const gz = new Uint8Array(zlib.gzipSync(archive, { level: 1 }));
const MB = archive.length / 1e6;
console.log(
  `archive: ${MB.toFixed(1)} MB tar, ${(gz.length / 1e6).toFixed(1)} MB gzip, 4208 entries`,
);

function* chunks(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += CHUNK) yield bytes.subarray(i, i + CHUNK);
}

async function* asyncChunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield* chunks(bytes);
}

Deno.bench(
  { name: `sha256 baseline (${MB.toFixed(0)} MB)`, group: "parse", baseline: true },
  () => {
    const h = createHash("sha256");
    for (const c of chunks(archive)) h.update(c);
    h.digest();
  },
);

Deno.bench({ name: `TarParser (${MB.toFixed(0)} MB)`, group: "parse" }, () => {
  let n = 0;
  const p = new TarParser({ onEntry: () => n++, onData: () => {} });
  for (const c of chunks(archive)) p.push(c);
  p.end();
  if (n !== 4208) throw new Error(`parsed ${n} entries`);
});

// Apply throughput runs as a script (`deno run -A bench/tar_bench.ts`), with explicit loops:
// under `deno bench` the apply iterations accumulated unremoved trees in tmpfs (not yet
// understood), which on a RAM-backed target is dangerous. tmpfs shows the applier's own cost;
// the disk adds the file system's (file creation on this VM's ext4 costs ~200-300 µs each, for
// GNU tar too).
async function applyThroughput(): Promise<void> {
  const hostFs = new HostLayerFs();
  const targets = [["tmpfs", "/dev/shm"], ["disk", "/tmp"]].filter(([, d]) => fs.existsSync(d));
  for (const [label, dir] of targets) {
    const root = fs.mkdtempSync(`${dir}/docker-ts-bench-`);
    try {
      const file = `${root}/archive.tar`;
      fs.writeFileSync(file, archive);
      const cases: Array<[string, () => Promise<void>]> = [
        ["applyLayer plain", () => apply(root, archive, "application/vnd.oci.image.layer.v1.tar")],
        ["applyLayer gzip ", () => apply(root, gz, "application/vnd.oci.image.layer.v1.tar+gzip")],
        ["GNU tar -x plain", async () => {
          const dest = `${root}/out`;
          fs.mkdirSync(dest);
          const r = await new Deno.Command("tar", { args: ["-xf", file, "-C", dest] }).output();
          if (!r.success) throw new Error("tar failed");
        }],
      ];
      for (const [name, fn] of cases) {
        const times: number[] = [];
        for (let i = 0; i < 4; i++) {
          const t = performance.now();
          await fn();
          times.push(performance.now() - t);
          fs.rmSync(`${root}/out`, { recursive: true, force: true });
        }
        const median = times.sort((x, y) => x - y)[times.length >> 1];
        console.log(
          `${label.padEnd(5)} ${name}: ${median.toFixed(0)} ms, ${
            (MB / median * 1000).toFixed(0)
          } MB/s`,
        );
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  async function apply(root: string, data: Uint8Array, mediaType: string): Promise<void> {
    const dest = `${root}/out`;
    fs.mkdirSync(dest);
    await applyLayer(asyncChunks(data), dest, { mediaType, fs: hostFs });
  }
}

if (import.meta.main) await applyThroughput();
