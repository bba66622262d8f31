import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { sh, spawn } from "../_helpers/spawn.ts";
import { exitStatusOf, Reaper, reaper } from "../../src/runtime/reaper.ts";
import { decodeWaitStatus, kill, signalName, signalNumber } from "../../ffi/wait.ts";

const devnull = (): [number, number, number] => [0, 1, 2];

Deno.test("reaper: wait statuses decode to Docker's exit codes", () => {
  assert.deepEqual(exitStatusOf(decodeWaitStatus(0)), { exitCode: 0 });
  assert.deepEqual(exitStatusOf(decodeWaitStatus(3 << 8)), { exitCode: 3 });
  assert.deepEqual(exitStatusOf(decodeWaitStatus(9)), { exitCode: 137, signal: "SIGKILL" });
  assert.deepEqual(exitStatusOf(decodeWaitStatus(15 | 0x80)), { exitCode: 143, signal: "SIGTERM" });
  assert.equal(signalName(40), "SIGRTMIN+6");
  assert.equal(signalNumber("kill"), 9);
  assert.equal(signalNumber("SIGWINCH"), 28);
  assert.equal(signalNumber("15"), 15);
  assert.equal(signalNumber("RTMIN+2"), 36);
  assert.equal(signalNumber("NOPE"), undefined);
});

Deno.test({
  name: "reaper: exit codes 0 and 3, and 137/143 for SIGKILL/SIGTERM deaths",
  ...requires("busybox"),
  async fn() {
    const r = new Reaper();
    const ok = spawn({ argv: sh("exit 0"), fds: devnull() });
    const three = spawn({ argv: sh("exit 3"), fds: devnull() });
    const killed = spawn({ argv: ["/bin/busybox", "sleep", "30"], fds: devnull() });
    const termed = spawn({ argv: ["/bin/busybox", "sleep", "30"], fds: devnull() });
    const waits = [ok, three, killed, termed].map((pid) => r.watch(pid));
    kill(killed, 9);
    kill(termed, 15);
    assert.deepEqual(await Promise.all(waits), [
      { exitCode: 0 },
      { exitCode: 3 },
      { exitCode: 137, signal: "SIGKILL" },
      { exitCode: 143, signal: "SIGTERM" },
    ]);
    assert.equal(r.size, 0);
  },
});

Deno.test({
  name: "reaper: a child that exited before watch() is still reaped (poll at watch time)",
  ...requires("busybox"),
  async fn() {
    const pid = spawn({ argv: sh("exit 7"), fds: devnull() });
    await new Promise((res) => setTimeout(res, 100)); // exits and its SIGCHLD goes unheard
    const r = new Reaper();
    assert.deepEqual(await r.watch(pid), { exitCode: 7 });
    // Reaped now, so no longer our child: a clear InternalError, not a hang.
    await assert.rejects(r.watch(pid), { name: "InternalError" });
    assert.equal(r.size, 0);
  },
});

Deno.test({
  name: "reaper: 200 concurrent children are all reaped with their own codes",
  ...requires("busybox"),
  async fn() {
    const r = reaper();
    const pids: number[] = [];
    for (let i = 0; i < 200; i++) {
      // Staggered exits so SIGCHLDs both coalesce and arrive separately.
      pids.push(spawn({ argv: sh(`/bin/busybox usleep ${(i % 10) * 2000}; exit ${i % 256}`) }));
    }
    const results = await Promise.all(pids.map((pid) => r.watch(pid)));
    results.forEach((st, i) => assert.deepEqual(st, { exitCode: i % 256 }));
    assert.equal(r.size, 0);
    for (const pid of pids) assert.throws(() => Deno.statSync(`/proc/${pid}`), "zombie left");
  },
});

Deno.test({
  name: "reaper: Deno.Command children keep working while the reaper is active",
  ...requires("busybox"),
  async fn() {
    const r = new Reaper();
    const sleeper = spawn({ argv: ["/bin/busybox", "sleep", "30"], fds: devnull() });
    const watched = r.watch(sleeper);
    try {
      const outputs = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) => new Deno.Command("/bin/busybox", { args: ["sh", "-c", `exit ${i}`] }).output(),
        ),
      );
      outputs.forEach((o, i) => assert.equal(o.code, i));
      // A FFI child exiting meanwhile must not disturb Deno's own reaping either.
      const quick = spawn({ argv: sh("exit 1"), fds: devnull() });
      const [q, cmd] = await Promise.all([
        r.watch(quick),
        new Deno.Command("/bin/busybox", { args: ["true"] }).output(),
      ]);
      assert.equal(q.exitCode, 1);
      assert.equal(cmd.code, 0);
    } finally {
      kill(sleeper, 9);
      assert.equal((await watched).exitCode, 137);
    }
  },
});

Deno.test({
  name: "reaper: keeps the process alive while watching, and not after",
  ...requires("busybox"),
  async fn() {
    const root = new URL("../../", import.meta.url).href;
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(
        file,
        `import { reaper } from "${root}src/runtime/reaper.ts";
         import { spawn, sh } from "${root}tests/_helpers/spawn.ts";
         const pid = spawn({ argv: sh("/bin/busybox usleep 300000; exit 4"), fds: [0, 1, 2] });
         reaper().watch(pid).then((st) => console.log("exit", st.exitCode, reaper().size));`,
      );
      const t = performance.now();
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-prompt", file],
      }).output();
      const ms = performance.now() - t;
      assert.equal(new TextDecoder().decode(out.stdout).trim(), "exit 4 0");
      assert.ok(ms >= 300 && ms < 1500, `took ${ms} ms`);
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test("reaper: ptrace stops decode as stops, not exits", () => {
  // 0x137f: stopped by signal 19 (SIGSTOP); 0x80057f: group-stop event of a seized process.
  assert.deepEqual(decodeWaitStatus(0x137f), { kind: "stopped", signal: 19, event: 0 });
  assert.deepEqual(decodeWaitStatus(0x80057f), { kind: "stopped", signal: 5, event: 0x80 });
  assert.deepEqual(decodeWaitStatus(0xffff), { kind: "running" });
  assert.throws(() => exitStatusOf({ kind: "stopped", signal: 19, event: 0 }), /stopped/);
});

Deno.test({
  name: "exit tracer: the exit code of a process that is not our child, signal delivered",
  ...requires("root", "busybox"),
  async fn() {
    // `setsid -f` forks: the shell is init's child, like a container adopted after a restart.
    const dir = await Deno.makeTempDir({ prefix: "dts-trace-" });
    const pidFile = `${dir}/pid`;
    try {
      const out = await new Deno.Command("/usr/bin/setsid", {
        args: [
          "-f",
          "/bin/busybox",
          "sh",
          "-c",
          `echo $$ > ${pidFile}; trap 'exit 7' TERM; while :; do sleep 0.05; done`,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      assert.equal(out.code, 0);
      let pid = 0;
      for (let i = 0; i < 100 && !pid; i++) {
        pid = Number(await Deno.readTextFile(pidFile).catch(() => "0")) || 0;
        if (!pid) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(pid > 0);
      const { traceExit } = await import("../../src/runtime/exit_tracer.ts");
      const exit = traceExit(pid);
      assert.ok(exit, "seized");
      // Seized once: a second seize is refused (already traced), not an error.
      assert.equal(traceExit(pid), undefined);
      kill(pid, 15);
      const status = await exit;
      assert.deepEqual(status, { exitCode: 7 });
      assert.equal(reaper().size, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "exit tracer: a process that is gone cannot be seized",
  ...requires("root"),
  async fn() {
    const { traceExit } = await import("../../src/runtime/exit_tracer.ts");
    assert.equal(traceExit(2 ** 22 + 12345), undefined);
  },
});
