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
import type { ContainerLogs } from "../../src/container/logs.ts";

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

Deno.test("logs space: a backlog past the cap is dropped with a note on stderr", async () => {
  await withLogs([], async (logs, dir) => {
    appendLines(logs.rawPath("stdout"), 80 * MiB);
    await logs.convert();
    assert.equal(logs.pending(), false, "everything was converted or dropped");
    const file = path.join(dir, `${ID}-json.log`);
    const fd = fs.openSync(file, "r");
    const head = new Uint8Array(4096);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    const first = JSON.parse(new TextDecoder().decode(head).split("\n")[0]);
    assert.equal(first.stream, "stderr");
    assert.match(
      first.log,
      /^docker-ts: 67108864 bytes of stdout dropped: the log could not keep up\n$/,
    );
    // The last 16 MiB of 1 KiB lines were kept, each one json line.
    assert.ok(Deno.statSync(file).size > 16 * MiB);
    assert.ok(allocated(logs.rawPath("stdout")) < 2 * MiB);
  });
});
