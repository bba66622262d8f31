/**
 * I/O loop benchmarks: pipe → ReadableStream throughput (MB/s) from a real child, and the wake
 * latency of the single in-flight epoll_wait.
 *
 *   deno run -A bench/io_bench.ts        prints a report (MB/s, latency percentiles)
 *   deno bench -A bench/io_bench.ts      the same paths as Deno.bench cases
 *
 * @module
 */
import { createStdio, readableFromFd, writableToFd } from "../src/runtime/stdio.ts";
import { ioLoop } from "../src/runtime/io_loop.ts";
import { reaper } from "../src/runtime/reaper.ts";
import { pipe2, setNonblocking } from "../ffi/io.ts";
import { spawn } from "../tests/_helpers/spawn.ts";

const MIB = 1024 * 1024;

/** Streams `mib` MiB of zeros from `dd` through a pipe into a ReadableStream; returns MB/s. */
async function childThroughput(mib: number, pipeSize?: number): Promise<number> {
  const io = createStdio({ stdin: "null", stdout: "pipe", stderr: "null", pipeSize });
  const t = performance.now();
  const pid = spawn({
    argv: ["/bin/busybox", "dd", "if=/dev/zero", "bs=1048576", `count=${mib}`],
    fds: io.childFds,
  });
  io.closeChildEnds();
  let bytes = 0;
  for await (const chunk of io.stdout!) bytes += chunk.byteLength;
  await reaper().watch(pid);
  const s = (performance.now() - t) / 1000;
  if (bytes !== mib * MIB) throw new Error(`lost data: ${bytes} of ${mib * MIB}`);
  return bytes / 1e6 / s;
}

/** The same through Deno.Command's own piped stdout, for reference. */
async function denoCommandThroughput(mib: number): Promise<number> {
  const t = performance.now();
  const child = new Deno.Command("/bin/busybox", {
    args: ["dd", "if=/dev/zero", "bs=1048576", `count=${mib}`],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let bytes = 0;
  for await (const chunk of child.stdout) bytes += chunk.byteLength;
  await child.status;
  return bytes / 1e6 / ((performance.now() - t) / 1000);
}

/** Time from a 1-byte write to the waiting reader getting it, through the loop (µs). */
async function wakeLatencies(rounds: number): Promise<number[]> {
  const [r, w] = pipe2();
  setNonblocking(r);
  setNonblocking(w);
  const reader = readableFromFd(r, { highWaterMark: 0 }).getReader();
  const writer = writableToFd(w).getWriter();
  const one = new Uint8Array([1]);
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const pending = reader.read();
    // Let the read park in epoll first, so each round measures a real wake-up.
    await new Promise((res) => setTimeout(res, 0));
    const t = performance.now();
    await writer.write(one);
    await pending;
    out.push((performance.now() - t) * 1000);
  }
  await writer.close();
  await reader.cancel();
  return out;
}

/** Round trip through a child `cat`: stdin pipe → child → stdout pipe (µs). */
async function catRoundTrips(rounds: number): Promise<number[]> {
  const io = createStdio({ stdin: "pipe", stdout: "pipe", stderr: "null" });
  const pid = spawn({ argv: ["/bin/busybox", "cat"], fds: io.childFds });
  io.closeChildEnds();
  const writer = io.stdin!.getWriter();
  const reader = io.stdout!.getReader();
  const out: number[] = [];
  const one = new Uint8Array([0x61]);
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await writer.write(one);
    await reader.read();
    out.push((performance.now() - t) * 1000);
  }
  await writer.close();
  await reader.read();
  await reaper().watch(pid);
  return out;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function median(fn: () => Promise<number>, runs: number): Promise<number> {
  return (async () => {
    const xs: number[] = [];
    for (let i = 0; i < runs; i++) xs.push(await fn());
    return pct(xs, 50);
  })();
}

// `deno run` prints the report; under `deno bench` the module is not main and only the
// Deno.bench cases below run.
if (import.meta.main) {
  const mib = 200;
  const mbs = async (pipeSize?: number): Promise<string> =>
    (await median(() => childThroughput(mib, pipeSize), 3)).toFixed(0);
  console.log(`pipe → ReadableStream, ${mib} MiB from busybox dd (median of 3):`);
  console.log(`  64 KiB pipe (kernel default) : ${await mbs(64 * 1024)} MB/s`);
  console.log(`  256 KiB pipe (createStdio)   : ${await mbs()} MB/s`);
  console.log(`  1 MiB pipe                   : ${await mbs(MIB)} MB/s`);
  const ref = (await median(() => denoCommandThroughput(mib), 3)).toFixed(0);
  console.log(`  Deno.Command piped (ref.)    : ${ref} MB/s`);
  const lat = await wakeLatencies(500);
  const fmt = (xs: number[]): string =>
    `p50 ${pct(xs, 50).toFixed(0)}, p90 ${pct(xs, 90).toFixed(0)}, p99 ${pct(xs, 99).toFixed(0)}`;
  console.log(`wake latency (write → parked reader), µs: ${fmt(lat)}`);
  console.log(`round trip via child cat, µs: ${fmt(await catRoundTrips(500))}`);
  console.log(`loop stats: ${JSON.stringify(ioLoop().stats())}`);
}

Deno.bench({ name: "io: 64 MiB child → stream (default pipe)", n: 5 }, async () => {
  await childThroughput(64);
});
Deno.bench({ name: "io: 64 MiB child → stream (1 MiB pipe)", n: 5 }, async () => {
  await childThroughput(64, MIB);
});
Deno.bench({ name: "io: 64 MiB Deno.Command piped (reference)", n: 5 }, async () => {
  await denoCommandThroughput(64);
});
Deno.bench({ name: "io: wake latency, 100 parked reads", n: 5 }, async () => {
  await wakeLatencies(100);
});
