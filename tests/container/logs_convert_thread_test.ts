/**
 * The converter's hot path: splitting is linear on newline-less floods, the off-thread converter
 * writes the same json lines as the in-thread one, and batch timestamps stay strictly increasing.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { ContainerLogs, LogConverterThread, splitLines } from "../../src/container/logs.ts";

function tempLogs(): { logs: ContainerLogs; dir: string } {
  const dir = Deno.makeTempDirSync({ prefix: "dts-logconv-" });
  return {
    dir,
    logs: new ContainerLogs({ dir, id: "c", config: { maxFile: 1 }, locksDir: dir }),
  };
}

Deno.test("splitLines: 16 KiB cuts of a newline-less flood, linear time", () => {
  const chunk = new Uint8Array(4 * 1024 * 1024).fill(97);
  const t0 = performance.now();
  const { entries, consumed } = splitLines(chunk, false);
  assert.ok(performance.now() - t0 < 500, "quadratic split");
  assert.equal(entries.length, 256);
  assert.equal(consumed, chunk.length);
  // A line of exactly 16 KiB with its newline is one entry; one byte more makes two.
  const exact = new Uint8Array(16 * 1024).fill(98);
  exact[exact.length - 1] = 10;
  assert.equal(splitLines(exact, false).entries.length, 1);
  const over = new Uint8Array(16 * 1024 + 1).fill(98);
  over[over.length - 1] = 10;
  assert.deepEqual(splitLines(over, false).entries.map((e) => e.length), [16 * 1024, 1]);
  // An unterminated short tail waits unless final.
  const tail = new TextEncoder().encode("a\nbc");
  assert.equal(splitLines(tail, false).consumed, 2);
  assert.equal(splitLines(tail, true).entries.length, 2);
});

Deno.test("LogConverterThread: same json as the in-thread converter, increasing times", async () => {
  const a = tempLogs();
  const b = tempLogs();
  const thread = new LogConverterThread();
  try {
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i} "q" \\ é\t\u0001\n`).join("");
    for (const t of [a, b]) {
      fs.writeFileSync(t.logs.rawPath("stdout"), text);
      fs.writeFileSync(t.logs.rawPath("stderr"), "oops\n");
    }
    assert.equal(await a.logs.convert(), 5001);
    assert.equal(await thread.convert(b.logs), 5001);
    assert.ok(thread.running);
    const strip = (f: string): unknown[] =>
      fs.readFileSync(f, "utf8").trim().split("\n").map((l) => {
        const j = JSON.parse(l);
        return [j.log, j.stream];
      });
    assert.deepEqual(strip(b.logs.jsonPath), strip(a.logs.jsonPath));
    const lines = fs.readFileSync(a.logs.jsonPath, "utf8").trim().split("\n");
    assert.equal(JSON.parse(lines[1]).log, 'line 1 "q" \\ é\t\u0001\n');
    const times = lines.map((l) => JSON.parse(l).time as string);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] > times[i - 1], times[i]);
    assert.equal(b.logs.pendingBytes(), 0);
  } finally {
    thread.close();
    assert.equal(thread.running, false);
    fs.rmSync(a.dir, { recursive: true, force: true });
    fs.rmSync(b.dir, { recursive: true, force: true });
  }
});
