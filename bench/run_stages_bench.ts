/**
 * Times the launch path stage by stage for a busybox `true` (root only):
 * prepare (config + fifo + pipes), worker (Worker start), unshare, spawn (posix_spawn of the
 * init), onSpawn (hook + go byte), initBoot (spawn → init's main), mounts, pivot (+ devices,
 * masks), setup (hostname, cwd, lookup), ready (status pipe latency), exec (gate → execve), and
 * the whole run until the exit is reaped.
 *
 * `deno run -A bench/run_stages_bench.ts [runs]` prints medians and p90 per stage;
 * `deno bench -A bench/run_stages_bench.ts` measures the whole run.
 *
 * @module
 */
import { launch, warmLaunchWorker } from "../src/runtime/launcher.ts";
import { reaper } from "../src/runtime/reaper.ts";
import { createStdio } from "../src/runtime/stdio.ts";
import {
  dockerLikeSpec,
  makeBusyboxRoot,
  type TestRoot,
} from "../tests/runtime/_launch_helpers.ts";

/** A pids cgroup the bench joins, as the engine does; its path lets the Worker mount the tree. */
let benchCgroup: string | undefined;
function ensureCgroup(): string | undefined {
  if (benchCgroup !== undefined) return benchCgroup;
  const dir = `/sys/fs/cgroup/pids/docker-ts-bench-${Deno.pid}`;
  try {
    Deno.mkdirSync(dir);
    benchCgroup = dir;
  } catch {
    benchCgroup = "";
  }
  return benchCgroup || undefined;
}
function removeCgroup(): void {
  if (benchCgroup) Deno.removeSync(benchCgroup);
  benchCgroup = undefined;
}

async function runTrue(root: TestRoot, warm = false): Promise<Record<string, number>> {
  if (warm) {
    // As the engine would: warm the Worker while other work (image, snapshot) happens.
    warmLaunchWorker();
    await new Promise((r) => setTimeout(r, 30));
  }
  const cg = ensureCgroup();
  const t0 = performance.now();
  const stdio = createStdio({ stdin: "null", stdout: "null", stderr: "null" });
  const proc = await launch({
    id: "bench",
    spec: dockerLikeSpec(root, ["true"]),
    rootfs: { type: "bind", source: root.rootfs, options: ["rbind"] },
    runDir: root.runDir,
    stdio,
    reaper: reaper(),
    onSpawn: cg ? (pid) => Deno.writeTextFileSync(`${cg}/cgroup.procs`, String(pid)) : undefined,
    cgroupPaths: cg ? { pids: cg } : undefined,
  });
  await proc.start();
  const exit = await proc.exited;
  const timings = { ...proc.timings, whole: performance.now() - t0 };
  stdio.close();
  if (exit.exitCode !== 0) throw new Error(`true exited with ${exit.exitCode}`);
  return timings;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function stages(runs: number, warm: boolean): Promise<void> {
  const root = makeBusyboxRoot();
  try {
    await runTrue(root); // warm the init's module cache
    const all: Record<string, number[]> = {};
    for (let i = 0; i < runs; i++) {
      for (const [k, v] of Object.entries(await runTrue(root, warm))) (all[k] ??= []).push(v);
    }
    const mode = Deno.env.get("DOCKER_TS_LAUNCH") === "two-stage" ? "init mounts" : "Worker mounts";
    console.log(
      `docker-ts launch stages, busybox true, ${runs} runs, ${
        warm ? "warm" : "cold"
      } Worker, ${mode} (ms)`,
    );
    console.log("stage".padEnd(10), "median".padStart(8), "p90".padStart(8));
    for (const [k, v] of Object.entries(all)) {
      v.sort((a, b) => a - b);
      console.log(
        k.padEnd(10),
        quantile(v, 0.5).toFixed(1).padStart(8),
        quantile(v, 0.9).toFixed(1).padStart(8),
      );
    }
  } finally {
    Deno.removeSync(root.dir, { recursive: true });
  }
}

/** `runc run` of `true` on a bundle over the same busybox rootfs, for scale (same machine, same run). */
async function runcPeer(runs: number): Promise<void> {
  const runc = ["/usr/sbin/runc", "/usr/bin/runc"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (!runc) return;
  const root = makeBusyboxRoot();
  try {
    const bundle = root.dir;
    const spec = await new Deno.Command(runc, { args: ["spec", "--bundle", bundle] }).output();
    if (!spec.success) return;
    const cfgPath = `${bundle}/config.json`;
    const cfg = JSON.parse(Deno.readTextFileSync(cfgPath));
    cfg.root = { path: root.rootfs, readonly: false };
    cfg.process.terminal = false;
    cfg.process.args = ["/bin/true"];
    Deno.writeTextFileSync(cfgPath, JSON.stringify(cfg));
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const r = await new Deno.Command(runc, {
        args: ["run", "--bundle", bundle, `docker-ts-bench-${Deno.pid}-${i}`],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!r.success) return;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(
      `peer: runc run (bundle, busybox true), ${runs} runs: median ${
        quantile(times, 0.5).toFixed(1)
      } ms, p90 ${quantile(times, 0.9).toFixed(1)} ms`,
    );
  } finally {
    Deno.removeSync(root.dir, { recursive: true });
  }
}

if (import.meta.main) {
  const runs = Number(Deno.args[0] ?? 20);
  try {
    // Both launch designs side by side: the two-stage fallback, then the parallel-mount default.
    Deno.env.set("DOCKER_TS_LAUNCH", "two-stage");
    await stages(runs, true);
    Deno.env.delete("DOCKER_TS_LAUNCH");
    await stages(runs, false);
    await stages(runs, true);
    await runcPeer(runs);
  } finally {
    removeCgroup();
  }
} else if (Deno.uid() === 0) {
  const root = makeBusyboxRoot();
  Deno.bench({
    name: "launch: busybox true (whole run, reaped)",
    async fn() {
      await runTrue(root);
    },
  });
  globalThis.addEventListener("unload", () => {
    Deno.removeSync(root.dir, { recursive: true });
    removeCgroup();
  });
}
