/**
 * Exit codes of processes that are not our children, from the kernel's process events: what a
 * restarted daemon uses for the containers it adopts.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { kill } from "../../ffi/wait.ts";
import { ProcExitWatcher } from "../../src/runtime/proc_exit_watcher.ts";
import { ioLoop } from "../../src/runtime/io_loop.ts";

const needs = requires("root", "busybox");

/** Starts `script` as init's child (`setsid -f` forks), returns its pid. */
async function orphan(script: (dir: string) => string): Promise<{ pid: number; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "dts-procev-" });
  const out = await new Deno.Command("/usr/bin/setsid", {
    args: ["-f", "/bin/busybox", "sh", "-c", `echo $$ > ${dir}/pid; ${script(dir)}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  assert.equal(out.code, 0);
  for (let i = 0; i < 200; i++) {
    const pid = Number(await Deno.readTextFile(`${dir}/pid`).catch(() => "")) || 0;
    if (pid) return { pid, dir };
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("the orphan did not start");
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.charAt(stat.lastIndexOf(")") + 2) !== "Z";
  } catch {
    return false;
  }
}

Deno.test({
  name: "proc exit watcher: exit codes and signal deaths of processes that are not our children",
  ...needs,
  async fn() {
    const w = new ProcExitWatcher();
    const a = await orphan((dir) => `while [ ! -e ${dir}/go ]; do sleep 0.02; done; exit 5`);
    const b = await orphan(() => "sleep 30");
    try {
      const exitA = w.watch(a.pid, () => alive(a.pid));
      const exitB = w.watch(b.pid, () => alive(b.pid));
      assert.ok(exitA && exitB, "process events are available to root here");
      assert.equal(w.size, 2);
      assert.equal(w.watch(a.pid, () => true), undefined, "one watch per pid");
      await Deno.writeTextFile(`${a.dir}/go`, "");
      assert.deepEqual(await exitA, { exitCode: 5 });
      kill(b.pid, 9);
      assert.deepEqual(await exitB, { exitCode: 137, signal: "SIGKILL" });
      assert.equal(w.size, 0);
      // Nothing watched: the socket is closed and the I/O loop lets the process exit.
      assert.equal(ioLoop().stats().armed ?? 0, 0);
    } finally {
      try {
        kill(b.pid, 9);
      } catch { /* gone */ }
      await Deno.remove(a.dir, { recursive: true });
      await Deno.remove(b.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "proc exit watcher: a process already gone is not watched; unwatch stops a watch",
  ...needs,
  async fn() {
    const w = new ProcExitWatcher();
    assert.equal(w.watch(2 ** 22 + 4321, () => false), undefined);
    assert.equal(w.size, 0);
    const c = await orphan(() => "sleep 30");
    try {
      const exit = w.watch(c.pid, () => alive(c.pid));
      assert.ok(exit);
      w.unwatch(c.pid);
      assert.equal(w.size, 0);
    } finally {
      kill(c.pid, 9);
      await Deno.remove(c.dir, { recursive: true });
    }
  },
});
