/**
 * Regressions from testers: `ps --format '{{json .}}'` key order and Size; `pause` of a paused
 * container; `kill` of a stopped one naming the container as typed.
 */
import assert from "node:assert/strict";
import { psRow } from "../../src/cli/verbs/ps.ts";
import type { ContainerSummary } from "../../src/engine_api.ts";
import { requires } from "../_helpers/requires.ts";
import { tempEngine } from "./_engine.ts";

Deno.test("ps row: keys sorted like docker's Go map, Size 0B", () => {
  const c: ContainerSummary = {
    Id: "a".repeat(64),
    Names: ["/web"],
    Image: "busybox",
    ImageID: "sha256:" + "b".repeat(64),
    Command: "sleep 100",
    Created: 1_700_000_000,
    State: "running",
    Status: "Up 2 seconds",
    Labels: { b: "2", a: "1" },
    Ports: [],
    Mounts: [],
  };
  const row = psRow(c, true, 1_700_000_010_000);
  const keys = Object.keys(row);
  assert.deepEqual(keys, [...keys].sort());
  assert.deepEqual(keys.slice(0, 3), ["Command", "CreatedAt", "ID"]);
  assert.equal(row.Size, "0B");
  assert.ok(JSON.stringify(row).startsWith('{"Command":"\\"sleep 100\\"","CreatedAt":'));
});

Deno.test({
  name: "pause twice: already paused; kill of a stopped container names it as typed",
  ...requires("root", "overlay", "cgroup-v1"),
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        name: "pz",
        cmd: ["sleep", "600"],
      });
      await e.start(id);
      await e.pause("pz");
      await assert.rejects(e.pause("pz"), (err: Error & { kind?: string }) => {
        assert.equal(err.message, `Container ${id} is already paused`);
        assert.equal(err.kind, "InvalidState");
        return true;
      });
      await e.unpause("pz");
      await e.stop("pz", { timeout: 0 });
      await assert.rejects(e.pause("pz"), { message: `Container ${id} is not running` });
      await assert.rejects(e.kill("pz"), {
        message: `Cannot kill container: pz: Container ${id} is not running`,
      });
      await assert.rejects(e.kill(id.slice(0, 12)), {
        message: `Cannot kill container: ${id.slice(0, 12)}: Container ${id} is not running`,
      });
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "a paused container is really gone after rm -f, kill and stop (SIGKILL thaws it)",
  ...requires("root", "overlay", "cgroup-v1"),
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const start = async (name: string): Promise<number> => {
        const { Id } = await e.create({
          image: "busybox",
          network: "none",
          name,
          cmd: ["sleep", "600"],
        });
        await e.start(Id);
        await e.pause(name);
        return (await e.inspect(name)).State.Pid;
      };
      const gone = (pid: number): boolean => {
        try {
          // A zombie still has its stat file: only a reaped process is gone.
          Deno.statSync(`/proc/${pid}`);
          return false;
        } catch {
          return true;
        }
      };
      const waitGone = async (pid: number): Promise<boolean> => {
        for (let i = 0; i < 50 && !gone(pid); i++) await new Promise((r) => setTimeout(r, 100));
        return gone(pid);
      };

      const p1 = await start("pk1");
      await e.remove("pk1", { force: true });
      assert.ok(await waitGone(p1), "rm -f left the paused container's process behind");
      assert.equal((await e.list({ all: true })).length, 0);

      const p2 = await start("pk2");
      await e.kill("pk2");
      assert.ok(await waitGone(p2), "kill left the paused container's process behind");
      assert.equal((await e.inspect("pk2")).State.Status, "exited");

      const p3 = await start("pk3");
      await e.stop("pk3", { timeout: 0 });
      assert.ok(await waitGone(p3), "stop left the paused container's process behind");
    } finally {
      await t.cleanup();
    }
  },
});
