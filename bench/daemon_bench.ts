/**
 * Daemon-side bench: N × `run -d busybox sleep 600` (create + detached start) in one process
 * hosting an Engine, as the daemon does. Prints the wall time of the whole batch, per-container
 * start latency (median, p90), and the supervising process's RSS growth per running container
 * (RSS after a forced GC, before and after, divided by N; goal ≤ 0.5 MiB). Removes everything.
 *
 * Usage (root): deno run -A --v8-flags=--expose-gc bench/daemon_bench.ts [N=100] [--json]
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Engine } from "../src/engine.ts";
import { ensureFixtures } from "../tests/_helpers/fixtures.ts";

const N = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 100);
const asJson = Deno.args.includes("--json");

function rssKiB(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return Number(m![1]);
}

async function settledRss(): Promise<number> {
  // deno-lint-ignore no-explicit-any
  const gc = (globalThis as any).gc as (() => void) | undefined;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
  return rssKiB();
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

const fx = await ensureFixtures();
const dir = await Deno.makeTempDir({ prefix: "dts-daemon-bench-" });
const engine = new Engine({ root: path.join(dir, "root"), runroot: path.join(dir, "run") });
const ids: string[] = [];
try {
  await engine.load(fx.dockerArchive("busybox"));
  // Warm-up: one container started and removed, so code paths and caches are loaded.
  const warm = await engine.create({ image: "busybox", network: "none", cmd: ["true"] });
  await engine.start(warm.Id);
  await engine.wait(warm.Id);
  await engine.remove(warm.Id, { force: true });
  const before = await settledRss();
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    const { Id } = await engine.create({
      image: "busybox",
      network: "none",
      cmd: ["sleep", "600"],
    });
    await engine.start(Id);
    lat.push(performance.now() - s);
    ids.push(Id);
  }
  const wall = performance.now() - t0;
  const after = await settledRss();
  const running = (await engine.list()).length;
  const result = {
    containers: N,
    running,
    wallSeconds: +(wall / 1000).toFixed(2),
    perContainerMs: { median: +quantile(lat, 0.5).toFixed(1), p90: +quantile(lat, 0.9).toFixed(1) },
    rssBeforeMiB: +(before / 1024).toFixed(1),
    rssAfterMiB: +(after / 1024).toFixed(1),
    rssPerContainerMiB: +((after - before) / 1024 / N).toFixed(3),
  };
  if (asJson) console.log(JSON.stringify(result));
  else {
    console.log(`docker-ts: ${N} × run -d busybox sleep 600: ${result.wallSeconds}s wall`);
    console.log(
      `  per container: median ${result.perContainerMs.median} ms, p90 ${result.perContainerMs.p90} ms`,
    );
    console.log(
      `  engine RSS ${result.rssBeforeMiB} → ${result.rssAfterMiB} MiB: ${result.rssPerContainerMiB} MiB per running container (goal ≤ 0.5)`,
    );
  }
} finally {
  const t = performance.now();
  await Promise.all(ids.map((id) => engine.remove(id, { force: true }).catch(() => {})));
  if (!asJson) console.log(`  cleanup: ${((performance.now() - t) / 1000).toFixed(1)}s`);
  engine.supervisor.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
Deno.exit(0);
