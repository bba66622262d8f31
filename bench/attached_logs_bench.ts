/**
 * Cost of logging an attached container's output: latency of a small attached run and
 * throughput of a large one (client sink discards). Root; temp roots; busybox fixture.
 * Usage: deno run -A bench/attached_logs_bench.ts
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Engine } from "../src/engine.ts";
import { ensureFixtures } from "../tests/_helpers/fixtures.ts";

const fx = await ensureFixtures();
const dir = await Deno.makeTempDir({ prefix: "dts-bench-attlog-" });
const engine = new Engine({ root: path.join(dir, "root"), runroot: path.join(dir, "run") });
try {
  await engine.load(fx.dockerArchive("busybox"));
  const discard = (): WritableStream<Uint8Array> => new WritableStream({ write() {} });
  const small: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    await engine.run(
      { image: "busybox", network: "none", rm: true, cmd: ["echo", "hi"] },
      { stdout: discard(), stderr: discard() },
    );
    small.push(performance.now() - t0);
  }
  small.sort((a, b) => a - b);
  const mb = 256;
  const t0 = performance.now();
  await engine.run(
    {
      image: "busybox",
      network: "none",
      name: "big",
      cmd: ["sh", "-c", `head -c ${mb * 1024 * 1024} /dev/zero | tr '\\0' 'a' | fold -w 99`],
    },
    { stdout: discard(), stderr: discard() },
  );
  const s = (performance.now() - t0) / 1000;
  console.log(
    `attached echo: median ${small[7].toFixed(1)} ms; ${mb} MiB attached: ${
      (mb / s).toFixed(0)
    } MiB/s`,
  );
  await engine.remove("big", { force: true });
} finally {
  engine.supervisor.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
