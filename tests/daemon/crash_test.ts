/**
 * kill -9 of the supervising process: running containers keep running and keep logging; a new
 * engine recovers them (ps shows them running, logs lose nothing, stop and exec work), and a
 * container that exited while nobody watched shows as exited with an unknown exit code.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { requires } from "../_helpers/requires.ts";
import { collector } from "../engine/_fakes.ts";
import { collectLogs, tempEngine, until } from "./_engine.ts";

const needs = requires("root", "overlay", "cgroup-v1");

Deno.test({
  name: "crash: kill -9 of the supervisor, then recover",
  ...needs,
  async fn() {
    const t = await tempEngine(); // loads busybox into the roots the host will use
    let host: Deno.ChildProcess | undefined;
    let engine2: Engine | undefined;
    try {
      host = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", path.join(import.meta.dirname!, "_crash_host.ts"), t.root, t.runroot],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`host exited early: ${text}`);
        text += value;
      }
      reader.releaseLock();
      host.stdout.cancel().catch(() => {});
      const ids = JSON.parse(text.trim()) as { long: string; short: string; shortrm: string };
      await new Promise((r) => setTimeout(r, 300));
      host.kill("SIGKILL");
      await host.status;
      host = undefined;
      const killedAt = Date.now();

      // While nobody supervises: the long one keeps running and writing, the short one exits.
      const e = t.engine;
      await new Promise((r) => setTimeout(r, 1500));
      const running = await e.list();
      assert.deepEqual(running.map((c) => c.Names[0]), ["/long"]);
      const short = await e.inspect("short");
      assert.equal(short.State.Status, "exited");
      assert.equal(short.State.ExitCode, -1, "exit code must not be invented");

      engine2 = new Engine({ root: t.root, runroot: t.runroot });
      const rec = await engine2.recover();
      assert.deepEqual(rec.adopted, [ids.long]);
      assert.deepEqual(rec.exited.toSorted(), [ids.short, ids.shortrm].toSorted());
      const ps = await engine2.list({ all: true });
      const byName = Object.fromEntries(ps.map((c) => [c.Names[0], c]));
      // An auto-remove container that exited while nobody watched is removed, as dockerd does.
      assert.equal(byName["/shortrm"], undefined);
      await assert.rejects(engine2.inspect(ids.shortrm), /No such container/);
      assert.equal(byName["/long"].State, "running");
      assert.match(byName["/short"].Status, /^Exited \(unknown\)/);
      const shortLogs = await collectLogs(engine2.logs(ids.short));
      assert.equal(shortLogs.stdout, "bye\n", "output written while the daemon was down");

      // No line lost or repeated across the crash.
      const logs = await collectLogs(engine2.logs(ids.long));
      const lines = logs.stdout.trim().split("\n");
      const n = lines.length;
      assert.ok(n >= (Date.now() - killedAt) / 100 * 0.5, `only ${n} lines`);
      assert.deepEqual(lines, Array.from({ length: n }, (_, i) => `line${i}`));

      // exec and stop work on the adopted container.
      const execId = await engine2.execCreate(ids.long, { cmd: ["echo", "inside"] });
      const out = collector();
      await engine2.execStart(execId, { stdout: out.stream });
      assert.equal(out.text(), "inside\n");
      await engine2.stop(ids.long, { timeout: 5 });
      await until(async () => (await engine2!.inspect(ids.long)).State.Status === "exited");
      await engine2.supervisor.flush();
      const final = await collectLogs(engine2.logs(ids.long));
      const all = final.stdout.trim().split("\n");
      assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => `line${i}`));
    } finally {
      if (host) {
        host.kill("SIGKILL");
        await host.status;
      }
      engine2?.supervisor.close();
      await t.cleanup();
    }
  },
});
