/**
 * Regression: a container that exited while the daemon was down showed the recovery time as its
 * FinishedAt ("Exited (unknown) 1 second ago"). Recovery now records the best lower bound: the
 * later of its start and its last output. Root, overlay, cgroup v1; temp roots.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { requires } from "../_helpers/requires.ts";
import { tempEngine } from "./_engine.ts";

Deno.test({
  name: "recovery: an unobserved exit is dated by its last output, not the recovery",
  ...requires("root", "overlay", "cgroup-v1"),
  async fn() {
    const t = await tempEngine();
    let host: Deno.ChildProcess | undefined;
    let engine2: Engine | undefined;
    try {
      // The host starts "short" (sleep 1; echo bye; exit 3) and "long", then is killed -9.
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
      host.kill("SIGKILL");
      await host.status;
      host = undefined;
      // "short" exits about 1 s after its start; recover well after that.
      await new Promise((r) => setTimeout(r, 2500));
      const recoveredAt = Date.now();
      engine2 = new Engine({ root: t.root, runroot: t.runroot });
      const rec = await engine2.recover();
      assert.deepEqual(rec.exited.toSorted(), [ids.short, ids.shortrm].toSorted());
      const info = await engine2.inspect(ids.short);
      assert.equal(info.State.Status, "exited");
      assert.equal(info.State.ExitCode, -1);
      const started = Date.parse(info.State.StartedAt);
      const finished = Date.parse(info.State.FinishedAt);
      assert.ok(finished >= started + 900, `FinishedAt ${info.State.FinishedAt} before "bye"`);
      assert.ok(
        finished <= recoveredAt - 1000,
        `FinishedAt ${info.State.FinishedAt} is the recovery time, not the exit`,
      );
      const row = (await engine2.list({ all: true })).find((c) => c.Id === ids.short)!;
      // Before the fix this read "Less than a second ago" (the recovery was just now).
      assert.match(row.Status, /^Exited \(unknown\) (\d+ seconds?|About a minute) ago$/);
      await engine2.remove(ids.long, { force: true });
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
