import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { sh, spawn } from "../_helpers/spawn.ts";
import { createStdio } from "../../src/runtime/stdio.ts";
import { reaper } from "../../src/runtime/reaper.ts";
import { forwardSignals, isForwarding } from "../../src/runtime/signal_forward.ts";
import { forwardResize } from "../../src/runtime/terminal.ts";
import { kill } from "../../ffi/wait.ts";

const dec = new TextDecoder();

async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pattern: RegExp,
  sofar: { text: string },
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pattern.test(sofar.text)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}: ${sofar.text}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${pattern}: ${sofar.text}`);
    sofar.text += dec.decode(value);
  }
}

Deno.test({
  name: "signals: USR1, USR2, HUP and TERM received by the engine reach the container",
  ...requires("busybox"),
  async fn() {
    const io = createStdio({ stdin: "null", stdout: "pipe", stderr: "pipe" });
    const pid = spawn({
      argv: sh(
        'for s in USR1 USR2 HUP TERM; do trap "echo got-$s" $s; done; echo ready; ' +
          "while :; do /bin/busybox usleep 5000; done",
      ),
      fds: io.childFds,
    });
    io.closeChildEnds();
    const exited = reaper().watch(pid);
    const fwd = forwardSignals(pid);
    try {
      const reader = io.stdout!.getReader();
      const seen = { text: "" };
      await readUntil(reader, /ready/, seen);
      for (const sig of ["SIGUSR1", "SIGUSR2", "SIGHUP", "SIGTERM"] as const) {
        assert.equal(isForwarding(sig), true);
        Deno.kill(Deno.pid, sig);
        await readUntil(reader, new RegExp(`got-${sig.slice(3)}`), seen);
      }
      reader.releaseLock();
    } finally {
      fwd.dispose();
      kill(pid, 9);
      await exited;
      io.close({ streams: true });
    }
    assert.equal(isForwarding("SIGUSR1"), false);
    assert.equal(isForwarding("SIGTERM"), false);
  },
});

Deno.test({
  name: "signals: SIGINT to the CLI is forwarded as SIGINT (sig-proxy) and the code is 130",
  ...requires("busybox"),
  async fn() {
    const root = new URL("../../", import.meta.url).href;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(
        file,
        `import { reaper } from "${root}src/runtime/reaper.ts";
         import { forwardSignals } from "${root}src/runtime/signal_forward.ts";
         import { spawn } from "${root}tests/_helpers/spawn.ts";
         const pid = spawn({ argv: ["/bin/busybox", "sleep", "30"], fds: [0, 1, 2] });
         const fwd = forwardSignals(pid);
         setTimeout(() => Deno.kill(Deno.pid, "SIGINT"), 50);
         const st = await reaper().watch(pid);
         fwd.dispose();
         console.log(JSON.stringify(st));`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-prompt", file],
        stdin: "null",
      }).output();
      assert.equal(out.code, 0, dec.decode(out.stderr));
      assert.deepEqual(JSON.parse(dec.decode(out.stdout)), { exitCode: 130, signal: "SIGINT" });
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name: "signals: with a pty, SIGWINCH resizes the pty instead of being forwarded",
  ...requires("busybox"),
  async fn() {
    const io = createStdio({
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      tty: { rows: 10, cols: 20 },
    });
    const pid = spawn({
      argv: sh("trap 'stty size' WINCH; echo ready; while :; do /bin/busybox usleep 5000; done"),
      ttyPath: io.tty!.slavePath,
    });
    io.closeChildEnds();
    const exited = reaper().watch(pid);
    let size = { rows: 41, cols: 99 };
    const fwd = forwardSignals(pid, { signals: ["SIGWINCH"], pty: io.pty, size: () => size });
    const resize = forwardResize(io.pty!, () => size); // the terminal.ts flavour: applies at once
    try {
      const reader = io.stdout!.getReader();
      const seen = { text: "" };
      await readUntil(reader, /ready/, seen);
      assert.deepEqual(io.pty!.size(), { rows: 41, cols: 99 });
      size = { rows: 30, cols: 77 };
      Deno.kill(Deno.pid, "SIGWINCH");
      await readUntil(reader, /30 77/, seen);
      reader.releaseLock();
    } finally {
      fwd.dispose();
      resize.dispose();
      kill(pid, 9);
      await exited;
      io.close({ streams: true });
    }
  },
});

Deno.test({
  name: "signals: a container that is already gone is not an error",
  ...requires("busybox"),
  async fn() {
    const pid = spawn({ argv: sh("exit 0"), fds: [0, 1, 2] });
    await reaper().watch(pid);
    const errors: unknown[] = [];
    const fwd = forwardSignals(pid, { signals: ["SIGUSR2"], onError: (e) => errors.push(e) });
    try {
      Deno.kill(Deno.pid, "SIGUSR2");
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      fwd.dispose();
    }
    assert.deepEqual(errors, []);
  },
});
