import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { requires } from "../_helpers/requires.ts";
import { sh, spawn } from "../_helpers/spawn.ts";
import { createStdio, readableFromFd, writableToFd } from "../../src/runtime/stdio.ts";
import { ioLoop } from "../../src/runtime/io_loop.ts";
import { type ExitStatus, reaper } from "../../src/runtime/reaper.ts";
import { kill } from "../../ffi/wait.ts";
import { pipe2, setNonblocking } from "../../ffi/io.ts";

const enc = new TextEncoder();

async function text(stream: ReadableStream<Uint8Array> | undefined): Promise<string> {
  assert.ok(stream);
  return await new Response(stream).text();
}

/** Spawns with the plan's fds, closes the child ends, and kills the child if the test fails. */
async function withChild<T>(
  script: string,
  io: ReturnType<typeof createStdio>,
  fn: (exited: Promise<ExitStatus>, pid: number) => Promise<T>,
): Promise<T> {
  const pid = spawn({ argv: sh(script), fds: io.childFds });
  io.closeChildEnds();
  const exited = reaper().watch(pid);
  try {
    return await fn(exited, pid);
  } finally {
    try {
      kill(pid, 9);
    } catch { /* already gone */ }
    await exited;
    io.close({ streams: true });
  }
}

Deno.test({
  name: "stdio: stdout and stderr stay apart and in order",
  ...requires("busybox"),
  async fn() {
    const io = createStdio({ stdin: "null", stdout: "pipe", stderr: "pipe" });
    await withChild(
      "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; exit 3",
      io,
      async (exited) => {
        const [out, err, st] = await Promise.all([
          text(io.stdout),
          text(io.stderr),
          exited,
        ]);
        assert.equal(out, "out1\nout2\nout3\nout4\nout5\n");
        assert.equal(err, "err1\nerr2\nerr3\nerr4\nerr5\n");
        assert.deepEqual(st, { exitCode: 3 });
      },
    );
  },
});

Deno.test({
  name: "stdio: piped stdin delivers the bytes, then EOF when the writer closes",
  ...requires("busybox"),
  async fn() {
    const io = createStdio({ stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    await withChild("/bin/busybox wc -c", io, async (exited) => {
      const w = io.stdin!.getWriter();
      const block = new Uint8Array(1 << 20).fill(0x61);
      for (let i = 0; i < 3; i++) await w.write(block); // > pipe size: exercises EAGAIN waits
      await w.write(enc.encode("tail"));
      await w.close();
      const [out, st] = await Promise.all([text(io.stdout), exited]);
      assert.equal(out.trim(), String(3 * (1 << 20) + 4));
      assert.equal(st.exitCode, 0);
    });
  },
});

Deno.test({
  name: "stdio: cat echoes stdin back through a round trip",
  ...requires("busybox"),
  async fn() {
    const io = createStdio({ stdin: "pipe", stdout: "pipe", stderr: "null" });
    await withChild("/bin/busybox cat", io, async () => {
      const w = io.stdin!.getWriter();
      const reader = io.stdout!.getReader();
      await w.write(enc.encode("ping\n"));
      const first = await reader.read();
      assert.equal(new TextDecoder().decode(first.value), "ping\n");
      await w.close();
      const end = await reader.read();
      assert.equal(end.done, true);
    });
  },
});

Deno.test({
  name: "stdio: 50 MB of output arrives complete with bounded memory",
  ...requires("busybox"),
  async fn() {
    const n = 6_000_000; // `seq 1 6000000` is ~47 MB
    const expected = new Deno.Command("/bin/busybox", {
      args: ["sh", "-c", `/bin/busybox seq 1 ${n} | /bin/busybox sha256sum`],
    }).outputSync();
    const want = new TextDecoder().decode(expected.stdout).split(" ")[0];
    const io = createStdio({ stdin: "null", stdout: "pipe", stderr: "pipe" });
    await withChild(`/bin/busybox seq 1 ${n}`, io, async (exited) => {
      const hash = createHash("sha256");
      let bytes = 0;
      const rssBefore = Deno.memoryUsage().rss;
      let rssPeak = rssBefore;
      for await (const chunk of io.stdout!) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        if ((bytes & 0xfffff) < chunk.byteLength) {
          rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss);
        }
      }
      const st = await exited;
      assert.equal(st.exitCode, 0);
      assert.ok(bytes > 45_000_000, `only ${bytes} bytes`);
      assert.equal(hash.digest("hex"), want);
      const growth = (rssPeak - rssBefore) / 1048576;
      assert.ok(growth < 64, `RSS grew ${growth.toFixed(1)} MiB while streaming`);
    });
  },
});

Deno.test({
  name: "stdio: a reader that stops reading throttles the child (backpressure)",
  ...requires("busybox"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "docker-ts-io-" });
    try {
      const io = createStdio({ stdin: "null", stdout: "pipe", stderr: "pipe" });
      // 20 MiB: far more than the stream's 1 MiB high-water mark plus the 256 KiB pipe.
      await withChild(
        `/bin/busybox dd if=/dev/zero bs=65536 count=320 2>/dev/null; touch ${dir}/done`,
        io,
        async (exited) => {
          let finished = false;
          exited.then(() => finished = true);
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(finished, false, "the child ran ahead of its reader");
          assert.throws(() => Deno.statSync(`${dir}/done`));
          let bytes = 0;
          for await (const chunk of io.stdout!) bytes += chunk.byteLength;
          assert.equal(bytes, 320 * 65536);
          const st = await exited;
          assert.equal(st.exitCode, 0);
          Deno.statSync(`${dir}/done`);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "stdio: writing to a child that exited fails with EPIPE instead of hanging",
  ...requires("busybox"),
  async fn() {
    const io = createStdio({ stdin: "pipe", stdout: "null", stderr: "null" });
    await withChild("exit 0", io, async (exited) => {
      await exited;
      const w = io.stdin!.getWriter();
      await assert.rejects(
        async () => {
          for (let i = 0; i < 4; i++) await w.write(new Uint8Array(65536));
        },
        (err: Error) => /EPIPE/.test(err.message),
      );
    });
  },
});

Deno.test({
  name: "stdio: null and inherit modes hand out no streams",
  ...requires("busybox"),
  async fn() {
    const io = createStdio({ stdin: "null", stdout: "inherit", stderr: "null" });
    assert.equal(io.stdin, undefined);
    assert.equal(io.stdout, undefined);
    assert.equal(io.stderr, undefined);
    assert.equal(io.childFds[1], 1);
    assert.notEqual(io.childFds[0], 0);
    await withChild('read x; echo -n "[$x]" >&2; exit 0', io, async (exited) => {
      assert.deepEqual(await exited, { exitCode: 0 });
    });
  },
});

Deno.test("stdio: an invalid mode is an InvalidArgument error and leaks nothing", () => {
  const before = [...Deno.readDirSync("/proc/self/fd")].length;
  assert.throws(
    () => createStdio({ stdin: "pipe", stdout: "pipe", stderr: "bogus" as "pipe" }),
    { name: "InvalidArgumentError" },
  );
  assert.equal([...Deno.readDirSync("/proc/self/fd")].length, before);
});

Deno.test("io loop: many pipes are served by a single wait at a time", async () => {
  const pairs = Array.from({ length: 100 }, () => pipe2());
  const readers = pairs.map(([r]) => {
    setNonblocking(r);
    return readableFromFd(r);
  });
  const writers = pairs.map(([, w]) => {
    setNonblocking(w);
    return writableToFd(w);
  });
  const results = Promise.all(readers.map((s) => text(s)));
  await new Promise((r) => setTimeout(r, 20));
  const stats = ioLoop().stats();
  assert.ok(stats.armed >= 100, `armed ${stats.armed}`);
  assert.equal(stats.inFlight, true);
  // 100 parked reads hold one pool thread, so async fs ops still get threads at once.
  const t = performance.now();
  await Deno.readTextFile("/proc/self/status");
  const ms = performance.now() - t;
  assert.ok(ms < 100, `readTextFile took ${ms.toFixed(1)} ms with 100 parked reads`);
  await Promise.all(writers.map(async (w, i) => {
    const writer = w.getWriter();
    await writer.write(enc.encode(`pipe ${i}`));
    await writer.close();
  }));
  const got = await results;
  got.forEach((s, i) => assert.equal(s, `pipe ${i}`));
  assert.equal(ioLoop().stats().armed, 0);
});

async function runScript(code: string): Promise<{ ms: number; code: number; out: string }> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, code);
    const t = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", file],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const res = await child.output();
    clearTimeout(timer);
    return {
      ms: performance.now() - t,
      code: res.code,
      out: new TextDecoder().decode(res.stdout) + new TextDecoder().decode(res.stderr),
    };
  } finally {
    await Deno.remove(file);
  }
}

const root = new URL("../../", import.meta.url).href;

Deno.test({
  name: "io loop: does not keep the process alive once everything is closed or cancelled",
  ...requires("busybox"),
  async fn() {
    const res = await runScript(`
      import { createStdio } from "${root}src/runtime/stdio.ts";
      import { reaper } from "${root}src/runtime/reaper.ts";
      import { spawn, sh } from "${root}tests/_helpers/spawn.ts";
      const io = createStdio({ stdin: "pipe", stdout: "pipe", stderr: "pipe" });
      const pid = spawn({ argv: sh("cat; echo done >&2"), fds: io.childFds });
      io.closeChildEnds();
      const w = io.stdin.getWriter();
      await w.write(new TextEncoder().encode("x"));
      await w.close();
      const [out, err, st] = await Promise.all([
        new Response(io.stdout).text(), new Response(io.stderr).text(), reaper().watch(pid)]);
      // A second stream, cancelled while its wait is in flight, must not hold the process.
      const io2 = createStdio({ stdin: "null", stdout: "pipe", stderr: "null" });
      const r = io2.stdout.getReader();
      const pending = r.read();
      await new Promise((res) => setTimeout(res, 20));
      await r.cancel();
      await pending;
      io2.close();
      console.log(JSON.stringify({ out, err, st }));
    `);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /"out":"x","err":"done\\n","st":\{"exitCode":0\}/);
    assert.ok(res.ms < 3000, `took ${res.ms} ms`);
  },
});
