/**
 * json-file conversion without a container: raw files → `<id>-json.log` lines, partial lines,
 * 16 KiB splitting, rotation with max-size/max-file, crash recovery (a json file longer than
 * recorded is cut back, so nothing is duplicated), and reads with tail/since/follow.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { withLogs as withLogsAt } from "./_logs.ts";
import {
  type ContainerLogs,
  parseLogOptions,
  parseRfc3339Nano,
  readLogs,
  splitLines,
} from "../../src/container/logs.ts";

const ID = "a".repeat(64);

function withLogs(
  opts: string[],
  fn: (logs: ContainerLogs, dir: string) => Promise<void>,
): Promise<void> {
  return withLogsAt(ID, opts, fn);
}

function jsonLines(file: string): { log: string; stream: string; time: string }[] {
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

async function text(logs: ContainerLogs, opts = {}): Promise<string> {
  let s = "";
  for await (const e of readLogs(logs, opts)) s += new TextDecoder().decode(e.data);
  return s;
}

Deno.test("logs: options parse like docker's json-file driver", () => {
  assert.deepEqual(parseLogOptions(["max-size=10k", "max-file=3"]), { maxSize: 10240, maxFile: 3 });
  assert.deepEqual(parseLogOptions({ "max-size": "1m" }), { maxSize: 1048576, maxFile: 1 });
  assert.throws(() => parseLogOptions(["max-file=2"]), /max-file cannot be set without max-size/);
  assert.throws(() => parseLogOptions(["bogus=1"]), /Unknown log opt 'bogus'/);
  assert.throws(() => parseLogOptions(["max-size=lots"]), /Invalid log option max-size/);
});

Deno.test("logs: splitLines keeps partial lines and cuts at 16 KiB", () => {
  const enc = new TextEncoder();
  const r = splitLines(enc.encode("a\nb\npart"), false);
  assert.equal(r.entries.length, 2);
  assert.equal(r.consumed, 4);
  assert.equal(splitLines(enc.encode("a\npart"), true).entries.length, 2);
  const long = splitLines(enc.encode("x".repeat(16 * 1024 * 2 + 5) + "\n"), false);
  assert.deepEqual(long.entries.map((e) => e.length), [16384, 16384, 6]);
});

Deno.test("logs: convert writes docker's json lines; partial lines wait; final flushes", async () => {
  await withLogs([], async (logs) => {
    logs.appendRaw("stdout", new TextEncoder().encode("hello\nwor"));
    logs.appendRaw("stderr", new TextEncoder().encode("oops\n"));
    assert.equal(await logs.convert(), 2);
    let lines = jsonLines(logs.jsonPath);
    assert.deepEqual(lines.map((l) => [l.log, l.stream]), [["hello\n", "stdout"], [
      "oops\n",
      "stderr",
    ]]);
    assert.match(lines[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    // The unconverted partial line is still visible to readers.
    assert.equal(await text(logs), "hello\noops\nwor");
    logs.appendRaw("stdout", new TextEncoder().encode("ld\n"));
    await logs.convert();
    assert.equal(jsonLines(logs.jsonPath)[2].log, "world\n");
    logs.appendRaw("stdout", new TextEncoder().encode("bye"));
    await logs.convert({ final: true });
    lines = jsonLines(logs.jsonPath);
    assert.equal(lines.at(-1)!.log, "bye");
    assert.equal(await text(logs, { tail: 2 }), "world\nbye");
  });
});

Deno.test("logs: a converter that died mid-pass leaves no duplicate", async () => {
  await withLogs([], async (logs) => {
    logs.appendRaw("stdout", new TextEncoder().encode("one\n"));
    await logs.convert();
    // Simulate a crash after appending json but before recording offsets.
    const good = fs.readFileSync(logs.jsonPath);
    logs.appendRaw("stdout", new TextEncoder().encode("two\n"));
    fs.appendFileSync(logs.jsonPath, '{"log":"two\\n","stream":"stdout","time":"x"}\n');
    await logs.convert();
    const lines = jsonLines(logs.jsonPath);
    assert.deepEqual(lines.map((l) => l.log), ["one\n", "two\n"]);
    assert.ok(fs.readFileSync(logs.jsonPath).length > good.length);
  });
});

Deno.test("logs: rotation keeps max-file files of about max-size", async () => {
  await withLogs(["max-size=1k", "max-file=3"], async (logs, dir) => {
    for (let i = 0; i < 100; i++) {
      logs.appendRaw(
        "stdout",
        new TextEncoder().encode(`line ${String(i).padStart(3, "0")} ${"x".repeat(40)}\n`),
      );
      await logs.convert();
    }
    const files = fs.readdirSync(dir).filter((f) => f.startsWith(ID)).sort();
    assert.deepEqual(files, [`${ID}-json.log`, `${ID}-json.log.1`, `${ID}-json.log.2`]);
    for (const f of files) assert.ok(fs.statSync(path.join(dir, f)).size <= 1024, f);
    // Readers see the kept files oldest first, ending with the newest line.
    const all = (await text(logs)).trim().split("\n");
    assert.match(all.at(-1)!, /^line 099 /);
    const nums = all.map((l) => Number(l.slice(5, 8)));
    assert.deepEqual(nums, [...nums].sort((a, b) => a - b));
    assert.ok(nums[0] > 0, "oldest lines rotated away");
    // The raw files are untouched: conversion never loses source bytes.
    assert.equal(fs.statSync(logs.rawPath("stdout")).size, 100 * 50);
  });
});

Deno.test("logs: since/until filter by time; follow stops when not running", async () => {
  await withLogs([], async (logs) => {
    logs.appendRaw("stdout", new TextEncoder().encode("old\n"));
    await logs.convert();
    await new Promise((r) => setTimeout(r, 20));
    const mid = BigInt(Date.now()) * 1_000_000n;
    await new Promise((r) => setTimeout(r, 20));
    logs.appendRaw("stdout", new TextEncoder().encode("new\n"));
    await logs.convert();
    assert.equal(await text(logs, { sinceNs: mid }), "new\n");
    assert.equal(await text(logs, { untilNs: mid }), "old\n");
    assert.ok(parseRfc3339Nano("2024-01-02T03:04:05.123456789Z") % 1_000_000_000n === 123456789n);
    let running = true;
    const got: string[] = [];
    const follow = (async () => {
      for await (
        const e of readLogs(logs, {
          follow: true,
          tail: 0,
          running: () => running,
          pollMs: 10,
        })
      ) {
        got.push(new TextDecoder().decode(e.data));
      }
    })();
    await new Promise((r) => setTimeout(r, 30));
    logs.appendRaw("stdout", new TextEncoder().encode("live\nlast"));
    await new Promise((r) => setTimeout(r, 50));
    running = false;
    await follow;
    assert.deepEqual(got, ["live\n", "last"]);
  });
});
