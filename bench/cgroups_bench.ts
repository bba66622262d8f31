/**
 * Cost of the cgroup steps on the `run` path, on this host's real hierarchies (root only):
 * create with Docker-like limits, then remove. Uses a unique `docker-ts-bench-<rand>` parent and
 * removes everything it creates.
 *
 *   deno bench -A bench/cgroups_bench.ts
 */
import { detectCgroupDriver } from "../src/cgroups/mod.ts";

const parent = `docker-ts-bench-${crypto.randomUUID().slice(0, 8)}`;
const isRoot = Deno.uid() === 0;
const driver = detectCgroupDriver({ parent });
const limits = {
  memory: { limit: 256 * 1024 * 1024 },
  cpu: { shares: 512, quota: 150000, period: 100000 },
  pids: { limit: 100 },
};
let n = 0;

Deno.bench({
  name: `cgroups v${driver.version}: create with limits + remove (no process)`,
  ignore: !isRoot,
  async fn() {
    const cg = driver.create(`${parent}/c${n++}`, limits);
    await cg.remove();
  },
});

Deno.bench({
  name: `cgroups v${driver.version}: stats() of an empty cgroup`,
  ignore: !isRoot,
  async fn(b) {
    const cg = driver.create(`${parent}/s${n++}`, limits);
    b.start();
    for (let i = 0; i < 100; i++) cg.stats();
    b.end();
    await cg.remove();
  },
});

globalThis.addEventListener("unload", () => {
  if (!isRoot) return;
  // Benchmarks end synchronously here; the parent is empty by now, so a plain rmdir per
  // hierarchy removes it.
  for (const dir of Object.values(driver.open(parent).paths)) Deno.removeSync(dir);
});
