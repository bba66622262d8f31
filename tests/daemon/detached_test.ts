/**
 * Detached containers in-process: output goes to the log files, logs (+follow, tail, streams),
 * stop/kill/restart, pause/unpause, rename, prune. Root, overlay, cgroup v1; temp roots.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { requires } from "../_helpers/requires.ts";
import { collectLogs, tempEngine, until } from "./_engine.ts";

const needs = requires("root", "overlay", "cgroup-v1");

Deno.test({
  name: "detached: run, logs, follow, stop",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        name: "web",
        cmd: ["sh", "-c", "echo one; echo err1 >&2; sleep 0.3; echo two; sleep 600"],
      });
      await e.start(id);
      const info = await e.inspect("web");
      assert.equal(info.State.Status, "running");
      await until(async () => (await collectLogs(e.logs(id))).stdout.includes("two"));
      const all = await collectLogs(e.logs(id));
      assert.equal(all.stdout, "one\ntwo\n");
      assert.equal(all.stderr, "err1\n");
      const tail = await collectLogs(e.logs(id, { tail: 1, stderr: false }));
      assert.equal(tail.stdout, "two\n");
      // The json-file has Docker's shape.
      const logPath = (info as unknown as { LogPath: string }).LogPath;
      await e.supervisor.flush();
      const first = JSON.parse(fs.readFileSync(logPath, "utf8").split("\n")[0]);
      assert.equal(first.log, "one\n");
      assert.equal(first.stream, "stdout");
      assert.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      // follow ends when the container stops
      const following = collectLogs(e.logs(id, { follow: true, tail: 0 }));
      await e.stop(id, { timeout: 1 });
      const followed = await following;
      assert.equal(followed.stdout, "");
      const after = await e.inspect(id);
      assert.equal(after.State.Status, "exited");
      assert.equal(after.State.ExitCode, 137);
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "detached: follow sees new output, pause/unpause, rename, restart, prune",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        cmd: [
          "sh",
          "-c",
          "trap 'exit 0' TERM; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.1; done",
        ],
      });
      await e.start(id);
      const ac = new AbortController();
      const seen: string[] = [];
      const follow = (async () => {
        for await (const entry of e.logs(id, { follow: true, signal: ac.signal })) {
          seen.push(new TextDecoder().decode(entry.data));
          if (seen.length >= 5) ac.abort();
        }
      })();
      await follow;
      assert.deepEqual(seen.slice(0, 3), ["tick0\n", "tick1\n", "tick2\n"]);

      await e.pause(id);
      assert.equal((await e.inspect(id)).State.Status, "paused");
      assert.equal((await e.list())[0].State, "paused");
      await assert.rejects(e.pause(id), /is already paused/);
      const frozen = (await collectLogs(e.logs(id))).entries.length;
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await collectLogs(e.logs(id))).entries.length, frozen);
      await e.unpause(id);
      assert.equal((await e.inspect(id)).State.Status, "running");
      await until(async () => (await collectLogs(e.logs(id))).entries.length > frozen);

      await e.rename(id, "renamed");
      assert.equal((await e.inspect("renamed")).Id, id);
      const { Id: other } = await e.create({
        image: "busybox",
        network: "none",
        name: "taken",
        cmd: ["true"],
      });
      await assert.rejects(e.rename(id, "taken"), /already in use/);

      const pid1 = (await e.inspect(id)).State.Pid;
      await e.restart!(id, { timeout: 5 });
      const again = await e.inspect(id);
      assert.equal(again.State.Status, "running");
      assert.notEqual(again.State.Pid, pid1);

      const top = await e.top(id);
      assert.ok(top.Titles.includes("PID"));
      assert.ok(top.Processes.some((p) => p.at(-1)!.includes("sh -c")));
      const stats = await e.stats(id);
      assert.ok((stats.memory_stats as { usage: number }).usage > 0);
      assert.ok(stats.pids_stats.current! >= 1);

      const report = await e.prune();
      assert.deepEqual(report.ContainersDeleted, [other]);
      assert.equal((await e.list({ all: true })).length, 1);
      await e.stop(id, { timeout: 5 });
      assert.equal((await e.inspect(id)).State.ExitCode, 0);
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "detached: restart policies (on-failure:N, always with stop)",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const { Id: flaky } = await e.create({
        image: "busybox",
        network: "none",
        restart: "on-failure:2",
        cmd: ["sh", "-c", "echo run; exit 3"],
      });
      await e.start(flaky);
      // first run + 2 restarts (100 ms, 200 ms backoff), then it stays exited
      await until(async () => (await e.inspect(flaky)).RestartCount === 2, 8000);
      await until(async () => (await e.inspect(flaky)).State.Status === "exited");
      await new Promise((r) => setTimeout(r, 700));
      const info = await e.inspect(flaky);
      assert.equal(info.State.Status, "exited");
      assert.equal(info.State.ExitCode, 3);
      assert.deepEqual(info.HostConfig.RestartPolicy, { Name: "on-failure", MaximumRetryCount: 2 });
      await e.supervisor.flush();
      assert.equal((await collectLogs(e.logs(flaky))).stdout, "run\nrun\nrun\n");

      const { Id: svc } = await e.create({
        image: "busybox",
        network: "none",
        restart: "always",
        cmd: ["sh", "-c", "sleep 0.2; exit 0"],
      });
      await e.start(svc);
      await until(async () => (await e.inspect(svc)).RestartCount >= 1, 8000);
      await until(async () => (await e.inspect(svc)).State.Status === "running");
      await e.stop(svc, { timeout: 0 });
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await e.inspect(svc)).State.Status, "exited", "stop wins over always");

      await assert.rejects(
        e.create({ image: "busybox", network: "none", restart: "always", rm: true, cmd: ["true"] }),
        /Conflicting options: --restart and --rm/,
      );
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "detached: a terminal's output reaches the logs; recover cleans stale runtime state",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        tty: true,
        cmd: ["sh", "-c", "echo in-tty; sleep 0.2"],
      });
      await e.start(id);
      assert.equal(await e.wait(id), 0);
      await until(async () => (await collectLogs(e.logs(id))).stdout.includes("in-tty"));
      assert.equal((await collectLogs(e.logs(id))).stdout, "in-tty\r\n");

      // Stale leftovers of a crash: a half-created container dir and a run dir of a gone id.
      const tmp = `${t.root}/containers/.tmp-${"b".repeat(64)}`;
      const staleRun = `${t.runroot}/containers/${"c".repeat(64)}`;
      fs.mkdirSync(tmp, { recursive: true });
      fs.mkdirSync(staleRun, { recursive: true });
      const rec = await e.recover();
      assert.deepEqual(rec, { adopted: [], exited: [] });
      assert.ok(!fs.existsSync(tmp));
      assert.ok(!fs.existsSync(staleRun));
      assert.equal((await e.inspect(id)).State.Status, "exited");
    } finally {
      await t.cleanup();
    }
  },
});
