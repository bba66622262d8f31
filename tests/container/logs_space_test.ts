/**
 * Raw output files are written by the kernel with no backpressure, so conversion must keep their
 * disk use bounded: converted bytes are released (hole-punched, offsets unchanged), an
 * unconverted backlog past its cap is dropped with a note, and no json file outgrows max-size by
 * a whole conversion pass.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { withLogs as withLogsAt } from "./_logs.ts";
import { backlogCap, type ContainerLogs } from "../../src/container/logs.ts";

const ID = "b".repeat(64);
const MiB = 1024 * 1024;

function withLogs(
  opts: string[],
  fn: (logs: ContainerLogs, dir: string) => Promise<void>,
): Promise<void> {
  return withLogsAt(ID, opts, fn);
}

function appendLines(file: string, bytes: number): void {
  const line = "x".repeat(1023) + "\n";
  const block = line.repeat(1024); // 1 MiB
  const fd = fs.openSync(file, "a");
  try {
    for (let done = 0; done < bytes; done += MiB) fs.writeSync(fd, block);
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes the file really occupies on disk. */
function allocated(file: string): number {
  return Deno.statSync(file).blocks! * 512;
}

Deno.test("logs space: converted raw output is released, offsets stay valid", async () => {
  await withLogs(["max-size=1m", "max-file=2"], async (logs) => {
    const raw = logs.rawPath("stdout");
    for (let round = 0; round < 4; round++) {
      appendLines(raw, 8 * MiB);
      await logs.convert();
    }
    assert.equal(Deno.statSync(raw).size, 32 * MiB, "the size (the writer's offset) is kept");
    assert.ok(allocated(raw) < 2 * MiB, `raw file still occupies ${allocated(raw)} bytes`);
    for (const f of logs.jsonFiles()) {
      assert.ok(Deno.statSync(f).size <= MiB, `${f} outgrew max-size: ${Deno.statSync(f).size}`);
    }
    assert.ok(logs.jsonFiles().length <= 2);
  });
});

Deno.test("logs space: without max-size a big backlog is all converted, nothing dropped", async () => {
  await withLogs([], async (logs, dir) => {
    // Docker's json-file would block the writer and keep everything: so does the converter.
    appendLines(logs.rawPath("stdout"), 40 * MiB);
    await logs.convert();
    assert.equal(logs.pending(), false);
    const file = path.join(dir, `${ID}-json.log`);
    const text = Deno.readTextFileSync(file);
    assert.doesNotMatch(text, /dropped/);
    assert.equal(text.split("\n").length - 1, 40 * 1024, "every 1 KiB line is one json line");
    assert.ok(allocated(logs.rawPath("stdout")) < 2 * MiB);
  });
});

Deno.test("logs space: the backlog cap drops only what rotation could never keep", () => {
  assert.equal(backlogCap({ maxFile: 1 }), Infinity);
  assert.equal(backlogCap({ maxSize: MiB, maxFile: 2 }), 16 * MiB);
  assert.equal(backlogCap({ maxSize: 20 * MiB, maxFile: 3 }), 60 * MiB);
});

Deno.test("logs space: with max-size, a backlog past the cap is dropped with a note", async () => {
  await withLogs(["max-size=1m", "max-file=2"], async (logs) => {
    // 40 MiB against a 16 MiB cap: 24 MiB never reach the json files, which rotate at 1 MiB.
    appendLines(logs.rawPath("stdout"), 40 * MiB);
    const before = logs.jsonFiles().length;
    await logs.convert();
    assert.equal(logs.pending(), false, "everything was converted or dropped");
    assert.ok(logs.jsonFiles().length <= 2 && before <= 2);
    for (const f of logs.jsonFiles()) assert.ok(Deno.statSync(f).size <= MiB);
    assert.ok(allocated(logs.rawPath("stdout")) < 2 * MiB);
  });
});
