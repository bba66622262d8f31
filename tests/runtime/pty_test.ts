import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { sh, spawn } from "../_helpers/spawn.ts";
import { createStdio, type Stdio } from "../../src/runtime/stdio.ts";
import { type ExitStatus, reaper } from "../../src/runtime/reaper.ts";
import { kill } from "../../ffi/wait.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Reads the pty output until `pattern` shows up; returns everything read so far. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pattern: RegExp,
  sofar = { text: "" },
): Promise<string> {
  const deadline = Date.now() + 5000;
  while (!pattern.test(sofar.text)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${sofar.text}`);
    const { value, done } = await reader.read();
    if (done) break;
    sofar.text += dec.decode(value);
  }
  return sofar.text;
}

async function withTty(
  script: string,
  size: { rows: number; cols: number },
  fn: (io: Stdio, exited: Promise<ExitStatus>) => Promise<void>,
): Promise<void> {
  const io = createStdio({ stdin: "pipe", stdout: "pipe", stderr: "pipe", tty: size });
  const pid = spawn({ argv: sh(script), ttyPath: io.tty!.slavePath });
  io.closeChildEnds();
  const exited = reaper().watch(pid);
  try {
    await fn(io, exited);
  } finally {
    try {
      kill(pid, 9);
    } catch { /* already gone */ }
    await exited;
    io.close({ streams: true });
  }
}

Deno.test({
  name: "pty: the child sees a terminal of the requested size; stderr is merged",
  ...requires("busybox"),
  async fn() {
    await withTty(
      "tty; stty size; echo oops >&2; exit 4",
      { rows: 33, cols: 101 },
      async (io, exited) => {
        assert.equal(io.stderr, undefined);
        assert.match(io.tty!.slavePath, /^\/dev\/pts\/\d+$/);
        const [out, st] = await Promise.all([new Response(io.stdout).text(), exited]);
        assert.equal(out, `${io.tty!.slavePath}\r\n33 101\r\noops\r\n`);
        assert.deepEqual(st, { exitCode: 4 });
      },
    );
  },
});

Deno.test({
  name: "pty: resize() changes the size the child sees and delivers SIGWINCH",
  ...requires("busybox"),
  async fn() {
    await withTty(
      "trap 'echo winch' WINCH; echo ready; read x; stty size",
      { rows: 24, cols: 80 },
      async (io, exited) => {
        const reader = io.stdout!.getReader();
        const seen = { text: "" };
        await readUntil(reader, /ready/, seen);
        io.pty!.resize(50, 132);
        assert.deepEqual(io.pty!.size(), { rows: 50, cols: 132 });
        await readUntil(reader, /winch/, seen);
        const w = io.stdin!.getWriter();
        await w.write(enc.encode("go\r"));
        await readUntil(reader, /50 132/, seen);
        assert.equal((await exited).exitCode, 0);
        w.releaseLock();
      },
    );
  },
});

Deno.test({
  name: "pty: ^C written to the pty kills the foreground sleep (130)",
  ...requires("busybox"),
  async fn() {
    await withTty(
      "echo ready; exec /bin/busybox sleep 30",
      { rows: 24, cols: 80 },
      async (io, exited) => {
        const reader = io.stdout!.getReader();
        await readUntil(reader, /ready/);
        await new Promise((r) => setTimeout(r, 50)); // let exec happen
        const w = io.stdin!.getWriter();
        await w.write(new Uint8Array([3]));
        const st = await exited;
        assert.deepEqual(st, { exitCode: 130, signal: "SIGINT" });
        w.releaseLock();
        reader.releaseLock();
      },
    );
  },
});

Deno.test({
  name: "pty: output written just before exit is not lost, and the stream ends",
  ...requires("busybox"),
  async fn() {
    await withTty("/bin/busybox seq 1 20000", { rows: 24, cols: 80 }, async (io, exited) => {
      const [out, st] = await Promise.all([new Response(io.stdout).text(), exited]);
      assert.equal(st.exitCode, 0);
      const lines = out.split("\r\n");
      assert.equal(lines[0], "1");
      assert.equal(lines[19999], "20000");
    });
  },
});

Deno.test("pty: an invalid size is an InvalidArgument error", () => {
  assert.throws(
    () =>
      createStdio({ stdin: "null", stdout: "pipe", stderr: "pipe", tty: { rows: -1, cols: 80 } }),
    { name: "InvalidArgumentError" },
  );
});
