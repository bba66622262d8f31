/**
 * The v1 driver against this host's real cgroup v1 hierarchies (hybrid host). Every cgroup lives
 * under a unique `docker-ts-test-<rand>` parent; every process is one the test started.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import * as fs from "node:fs";
import { delay, readTrim, withRealCgroups } from "./_real.ts";
import { removeStoppedCgroup } from "../../src/engine_lifecycle.ts";

const ROOT = "/sys/fs/cgroup";
const MiB = 1024 * 1024;
const needs = requires("root", "cgroup-v1", "busybox");

function cgroupLine(pid: number, controller: string): string | undefined {
  return Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")
    .find((l) => l.split(":")[1]?.split(",").includes(controller));
}

Deno.test({
  name: "cgroups v1 real: limits land in the kernel, a process joins, stats and removal",
  ...needs,
  fn: () =>
    withRealCgroups(ROOT, async (fx) => {
      assert.equal(fx.driver.version, 1);
      const cg = fx.create("limits", {
        memory: { limit: 64 * MiB },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0" },
        pids: { limit: 20 },
      });
      const name = fx.name("limits");
      assert.equal(readTrim(`${ROOT}/memory/${name}/memory.limit_in_bytes`), String(64 * MiB));
      assert.equal(
        readTrim(`${ROOT}/memory/${name}/memory.memsw.limit_in_bytes`),
        String(128 * MiB),
      );
      assert.equal(readTrim(`${ROOT}/cpu/${name}/cpu.shares`), "512");
      assert.equal(readTrim(`${ROOT}/cpu/${name}/cpu.cfs_quota_us`), "50000");
      assert.equal(readTrim(`${ROOT}/cpu/${name}/cpu.cfs_period_us`), "100000");
      assert.equal(readTrim(`${ROOT}/cpuset/${name}/cpuset.cpus`), "0");
      assert.equal(readTrim(`${ROOT}/pids/${name}/pids.max`), "20");

      const child = fx.spawn(["sh", "-c", "while :; do :; done"]);
      cg.addProcess(child.pid);
      for (const ctrl of ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer"]) {
        assert.equal(cgroupLine(child.pid, ctrl)?.split(":")[2], `/${name}`, ctrl);
      }
      assert.deepEqual(cg.pids(), [child.pid]);
      // 50% quota on a busy loop: the scheduler throttles it. On a loaded machine the loop may
      // not get its half of CPU 0 in every period, so wait (bounded) for the first throttle.
      const started = Date.now();
      let s = cg.stats();
      while (s.cpu.throttling.throttledPeriods === 0 && Date.now() - started < 5000) {
        await delay(100);
        s = cg.stats();
      }
      const elapsedNs = (Date.now() - started + 100) * 1e6;
      assert.ok(s.cpu.usageNs > 20_000_000, `cpu usage ${s.cpu.usageNs}`);
      assert.ok(s.cpu.throttling.throttledPeriods > 0, JSON.stringify(s.cpu.throttling));
      // Never more than the quota (plus one period of slack).
      assert.ok(
        s.cpu.usageNs < elapsedNs * 0.5 + 100_000_000,
        `quota not enforced: ${s.cpu.usageNs} in ${elapsedNs}`,
      );
      assert.equal(s.memory.limit, 64 * MiB);
      assert.equal(s.pids.current, 1);
      assert.equal(s.pids.limit, 20);
      assert.equal(cg.oomKilled(), false);

      cg.apply({ memory: { limit: 32 * MiB, swap: 48 * MiB }, pids: { limit: 0 } });
      assert.equal(readTrim(`${ROOT}/memory/${name}/memory.limit_in_bytes`), String(32 * MiB));
      assert.equal(
        readTrim(`${ROOT}/memory/${name}/memory.memsw.limit_in_bytes`),
        String(48 * MiB),
      );
      assert.equal(readTrim(`${ROOT}/pids/${name}/pids.max`), "max");

      await cg.killAll();
      assert.equal((await child.status).signal, "SIGKILL");
      await cg.remove();
      for (const dir of Object.values(cg.paths)) assert.ok(!exists(dir), dir);
      await cg.remove(); // idempotent
    }),
});

Deno.test({
  name: "cgroups v1 real: freeze stops a busy process, thaw resumes it",
  ...needs,
  fn: () =>
    withRealCgroups(ROOT, async (fx) => {
      const cg = fx.create("freeze");
      const child = fx.spawn(["sh", "-c", "while :; do :; done"]);
      cg.addProcess(child.pid);
      await delay(100);
      await cg.freeze();
      assert.equal(readTrim(`${ROOT}/freezer/${fx.name("freeze")}/freezer.state`), "FROZEN");
      const frozenAt = cg.stats().cpu.usageNs;
      await delay(250);
      assert.equal(cg.stats().cpu.usageNs, frozenAt, "a frozen task used CPU");
      await cg.thaw();
      await delay(150);
      assert.ok(cg.stats().cpu.usageNs > frozenAt, "the thawed task did not run");
    }),
});

Deno.test({
  name: "cgroups v1 real: a memory hog over a 20 MiB limit is OOM-killed and oomKilled() says so",
  ...needs,
  fn: () =>
    withRealCgroups(ROOT, async (fx) => {
      const cg = fx.create("oom", { memory: { limit: 20 * MiB } });
      // The shell waits for a line on stdin so it only allocates once inside the cgroup.
      const child = fx.spawn(
        ["sh", "-c", "read go; x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"],
        { stdin: "piped", stdout: "piped" },
      );
      cg.addProcess(child.pid);
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
      const [status, out] = await Promise.all([
        child.status,
        new Response(child.stdout).text(),
      ]);
      assert.equal(status.signal, "SIGKILL");
      assert.equal(out, "");
      assert.equal(cg.oomKilled(), true);
      assert.ok(cg.stats().memory.failcnt > 0);
    }),
});

Deno.test({
  name: "cgroups v1 real: a fork loop stops at the pids limit",
  ...needs,
  fn: () =>
    withRealCgroups(ROOT, async (fx) => {
      const cg = fx.create("pids", { pids: { limit: 5 } });
      const child = fx.spawn(
        [
          "sh",
          "-c",
          // ash gives up on the first failed fork, so the loop runs in a subshell and the
          // outer shell reports when it is over.
          "read go; (i=0; while [ $i -lt 20 ]; do /bin/busybox sleep 30 & i=$((i+1)); done); " +
          "echo spawned; exec /bin/busybox sleep 30",
        ],
        { stdin: "piped", stdout: "piped", stderr: "piped" },
      );
      cg.addProcess(child.pid);
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
      const reader = child.stdout.getReader();
      let out = "";
      while (!out.includes("spawned")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      assert.match(out, /spawned/);
      const s = cg.stats();
      assert.equal(s.pids.limit, 5);
      // The limit was reached (outer shell, subshell, 3 sleeps); the failed subshell has left.
      assert.ok(s.pids.current >= 3 && s.pids.current <= 5, `pids.current ${s.pids.current}`);
      assert.equal(cg.pids().length, s.pids.current);
      const events = readTrim(`${ROOT}/pids/${fx.name("pids")}/pids.events`);
      assert.ok(Number(events.split(/\s+/)[1]) > 0, events);
      await cg.killAll();
      assert.deepEqual(cg.pids(), []);
      const [status, err] = await Promise.all([child.status, new Response(child.stderr).text()]);
      assert.equal(status.signal, "SIGKILL");
      assert.match(err, /can't fork/);
    }),
});

Deno.test({
  name: "cgroups v1 real: remove waits for the last process, open and list find cgroups",
  ...needs,
  fn: () =>
    withRealCgroups(ROOT, async (fx) => {
      const cg = fx.create("restart");
      const child = fx.spawn(["sleep", "30"]);
      cg.addProcess(child.pid);
      // A "restarted daemon": a fresh driver finds and opens the cgroup.
      const { detectCgroupDriver } = await import("../../src/cgroups/mod.ts");
      const fresh = detectCgroupDriver({ root: ROOT, parent: fx.parent });
      assert.deepEqual(fresh.list(), [fx.name("restart")]);
      const reopened = fresh.open(fx.name("restart"));
      assert.deepEqual(reopened.pids(), [child.pid]);
      // remove retries EBUSY while the process is still there, then succeeds once it exits.
      const removing = reopened.remove();
      await delay(50);
      child.kill("SIGKILL");
      await child.status;
      await removing;
      assert.deepEqual(fresh.list(), []);
    }),
});

Deno.test({
  name: "cgroups v1 real: addThread moves a thread so its later children start inside",
  ...needs,
  fn: () =>
    withRealCgroups(ROOT, (fx) => {
      const cg = fx.create("thread", { pids: { limit: 10 } });
      // A single-threaded process: its pid is its only tid.
      const child = fx.spawn(["sleep", "30"]);
      cg.addThread(child.pid);
      assert.equal(cgroupLine(child.pid, "pids")?.split(":")[2], `/${fx.name("thread")}`);
      assert.deepEqual(cg.pids(), [child.pid]);
    }),
});

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "cgroups v1 real: a stopped container's cgroup with a leftover process is emptied, removed",
  ...needs,
  fn: () =>
    withRealCgroups(ROOT, async (fx) => {
      // An init left waiting by a dead engine: plain remove() would fail with EBUSY.
      const cg = fx.create("leftover");
      const child = fx.spawn(["sleep", "600"]);
      cg.addProcess(child.pid);
      assert.deepEqual(cg.pids(), [child.pid]);
      await removeStoppedCgroup(cg);
      assert.equal((await child.status).signal, "SIGKILL");
      for (const dir of Object.values(cg.paths)) assert.equal(fs.existsSync(dir), false, dir);
      // Removing a cgroup that is already gone is not an error.
      await removeStoppedCgroup(cg);
    }),
});
