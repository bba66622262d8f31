/**
 * The warm-init launch path end to end (root, real namespaces, cgroup v1, the busybox fixture):
 * an Engine with `prewarm: true` keeps one container init spawned ahead of time in its own
 * pid/mount/uts/ipc/net namespaces and `docker-ts/warm-<pid>` cgroup; a compatible start claims
 * it, others start cold. Every test runs its own engine on temp roots and, after `close()`,
 * checks that nothing is left: no warm init, no warm cgroup, no thread of this process in a
 * foreign namespace, no mount under the temp root.
 *
 * Other engines on this host may have warm inits and `docker-ts/warm-*` cgroups of their own:
 * these tests only look at inits that are children of this process (or of their own daemon) and
 * at cgroups named after those pids, and only remove cgroups they created.
 *
 * The launcher's warm state is per process, so one prewarmed engine exists at a time here.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { warmInitSettled } from "../../src/runtime/launcher.ts";
import { V1Driver } from "../../src/cgroups/v1.ts";
import { requires } from "../_helpers/requires.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { collector } from "./_fakes.ts";
import { startTestDaemon } from "../daemon/api_harness.ts";

const needs = requires("root", "overlay", "cgroup-v1", "busybox");
const CG = "/sys/fs/cgroup";
/** The v1 hierarchies a container joins on this host (those mounted). */
const HIERARCHIES = ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices", "blkio"]
  .filter((h) => exists(`${CG}/${h}/cgroup.procs`));
const NS_KINDS = ["mnt", "net", "uts", "ipc", "pid", "pid_for_children"];

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`Timed out after ${ms} ms waiting for: ${what}`);
    await sleep(20);
  }
}

/** Parent pid and state of a process, or undefined when it is gone. */
function procStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const st = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** Live (not zombie) warm inits that are children of `parent`. */
function warmInits(parent = Deno.pid): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    const st = procStat(pid);
    if (!st || st.ppid !== parent || st.state === "Z") continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
      if (argv.includes("--warm") && argv.some((a) => a.endsWith("/runtime/init.ts"))) {
        out.push(pid);
      }
    } catch { /* exited meanwhile */ }
  }
  return out.sort((a, b) => a - b);
}

function warmCgroupDirs(pid: number): string[] {
  return HIERARCHIES.map((h) => `${CG}/${h}/docker-ts/warm-${pid}`).filter(exists);
}

function cgroupProcs(dir: string): number[] {
  return Deno.readTextFileSync(`${dir}/cgroup.procs`).split("\n").filter((l) => l).map(Number);
}

function nsOf(pid: number | "self", kind: string): string {
  return Deno.readLinkSync(`/proc/${pid}/ns/${kind}`);
}

/**
 * Threads of this process whose namespaces differ from the process's own, except those in the
 * namespaces of `warm` (the Worker that spawned a warm init waits there to mount its tree).
 */
function foreignThreads(warm?: number): string[] {
  const own = Object.fromEntries(NS_KINDS.map((k) => [k, nsOf("self", k)]));
  const warmNs = warm === undefined ? {} : Object.fromEntries(
    NS_KINDS.map((k) => [k, k.startsWith("pid") ? "" : nsOf(warm, k)]),
  );
  const out: string[] = [];
  for (const t of Deno.readDirSync("/proc/self/task")) {
    for (const k of NS_KINDS) {
      try {
        const ns = Deno.readLinkSync(`/proc/self/task/${t.name}/ns/${k}`);
        if (ns !== own[k] && ns !== warmNs[k]) {
          out.push(`thread ${t.name} ${k} ${ns} (engine ${own[k]})`);
        }
      } catch { /* thread gone */ }
    }
  }
  return out;
}

/** The single warm init of this process (waits for it). */
async function theWarmInit(seen: Set<number>, not?: number): Promise<number> {
  let pid = 0;
  await until(`a warm init${not ? ` other than ${not}` : ""}`, async () => {
    await warmInitSettled();
    const w = warmInits().filter((p) => p !== not);
    if (w.length > 1) throw new Error(`more than one warm init: ${w}`);
    pid = w[0] ?? 0;
    return pid !== 0 && warmCgroupDirs(pid).length === HIERARCHIES.length;
  });
  seen.add(pid);
  return pid;
}

interface Ctx {
  engine: Engine;
  dir: string;
  /** Every warm init pid the test saw: none may survive the engine, nor its cgroup. */
  seen: Set<number>;
  /** Containers to force-remove at the end (detached ones). */
  containers: string[];
  /** Every container id the test made (their cgroups must be gone at the end). */
  ids: Set<string>;
}

let current: Ctx | undefined;

/** A prewarmed engine on temp roots; closes it and checks that nothing is left. */
async function withWarmEngine(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const fx = await ensureFixtures();
  const dir = await Deno.makeTempDir({ prefix: "dts-warm-" });
  const engine = new Engine({
    root: path.join(dir, "root"),
    runroot: path.join(dir, "run"),
    defaultNetwork: "none",
    prewarm: true,
  });
  const ctx: Ctx = { engine, dir, seen: new Set(), containers: [], ids: new Set() };
  current = ctx;
  let leftover: unknown;
  try {
    await engine.load(fx.dockerArchive("busybox"));
    await engine.prewarm();
    await fn(ctx);
  } finally {
    current = undefined;
    for (const id of ctx.containers) await engine.remove(id, { force: true }).catch(() => {});
    for (const id of ctx.containers) ctx.ids.add(id);
    for (const p of warmInits()) ctx.seen.add(p);
    await engine.close();
    engine.supervisor.close();
    // A failure of the test itself is the one reported; the leftover check only when it passed.
    leftover = await assertNothingLeft(ctx).then(() => undefined, (err) => err);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (leftover) throw leftover;
}

async function assertNothingLeft(ctx: Ctx): Promise<void> {
  // close() resolves once the warm init is reaped.
  assert.deepEqual(warmInits(), [], "a warm init survived close()");
  for (const pid of ctx.seen) {
    const st = procStat(pid);
    assert.ok(!st || st.ppid !== Deno.pid, `warm init ${pid} still a child of ours (${st?.state})`);
    assert.deepEqual(warmCgroupDirs(pid), [], `warm cgroup of ${pid} left`);
  }
  // A terminated Worker's thread may take a moment to exit.
  await until("no thread in a container's namespaces", () => foreignThreads().length === 0, 3000)
    .catch(() => assert.deepEqual(foreignThreads(), []));
  for (const id of ctx.ids) {
    const left = HIERARCHIES.map((h) => `${CG}/${h}/docker-ts/${id}`).filter(exists);
    assert.deepEqual(left, [], `container cgroup of ${id} left`);
  }
  const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .filter((l) => l.includes(ctx.dir));
  assert.deepEqual(mounts, [], "mounts left under the temp root");
}

/** Runs a container to the end (removed afterwards) and reports output and launch stages. */
async function run(
  e: Engine,
  opts: Omit<Parameters<Engine["run"]>[0], "image">,
): Promise<{ code: number; out: string; err: string; id: string; stages: string[] }> {
  const out = collector();
  const err = collector();
  const stages: string[] = [];
  let id = "";
  const code = await e.run({ image: "busybox", rm: true, ...opts }, {
    stdout: out.stream,
    stderr: err.stream,
    onCreated: (i) => {
      id = i;
      current?.ids.add(i);
    },
    onTiming: (s) => stages.push(s),
  });
  return { code, out: out.text(), err: err.text(), id, stages };
}

function claimed(stages: string[]): boolean {
  const warm = stages.includes("launch.claim");
  const cold = stages.includes("launch.worker");
  assert.ok(warm !== cold, `exactly one of launch.claim/launch.worker: ${stages.join(",")}`);
  return warm;
}

// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "warm init: prewarm spawns one init in its own namespaces and warm cgroup",
  ...needs,
  fn: () =>
    withWarmEngine(async ({ engine, seen }) => {
      const pid = await theWarmInit(seen);
      assert.equal(procStat(pid)?.ppid, Deno.pid, "a child of the engine");
      for (const k of ["pid", "mnt", "net", "uts", "ipc"]) {
        assert.notEqual(nsOf(pid, k), nsOf("self", k), `own ${k} namespace`);
      }
      // The cgroup namespace is made after the claim.
      assert.equal(nsOf(pid, "cgroup"), nsOf("self", "cgroup"));
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      assert.match(status, /^NSpid:\s+\d+\s+1$/m, "PID 1 of its pid namespace");
      for (const fd of [0, 1, 2]) {
        assert.equal(Deno.readLinkSync(`/proc/${pid}/fd/${fd}`), "/dev/null", `fd ${fd}`);
      }
      for (const dir of warmCgroupDirs(pid)) assert.deepEqual(cgroupProcs(dir), [pid], dir);
      for (const line of Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")) {
        const [, ctrls, p] = line.split(":");
        if (ctrls && HIERARCHIES.some((h) => ctrls.split(",").includes(h))) {
          assert.equal(p, `/docker-ts/warm-${pid}`, line);
        }
      }
      // Idempotent: a second prewarm keeps the same init.
      await engine.prewarm();
      await warmInitSettled();
      assert.deepEqual(warmInits(), [pid]);
    }),
});

Deno.test({
  name: "warm init: a run claims it: output, exit code, hostname, pid 1, cgroup, memory, user, env",
  ...needs,
  fn: () =>
    withWarmEngine(async ({ engine, seen }) => {
      const w1 = await theWarmInit(seen);
      const r = await run(engine, {
        memory: "64m",
        env: ["FOO=bar baz"],
        cmd: [
          "sh",
          "-c",
          'echo hello; echo oops >&2; hostname; echo pid=$$; echo "FOO=$FOO"; ' +
          "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exit 3",
        ],
      });
      assert.ok(claimed(r.stages), `claimed: ${r.stages.join(",")}`);
      assert.equal(r.code, 3);
      assert.equal(r.err, "oops\n");
      const lines = r.out.split("\n");
      assert.deepEqual(lines.slice(0, 4), ["hello", r.id.slice(0, 12), "pid=1", "FOO=bar baz"]);
      const cgLines = lines.filter((l) => /^\d+:/.test(l));
      assert.ok(cgLines.length >= HIERARCHIES.length, r.out);
      for (const l of cgLines) assert.match(l, /:\/$/, `cgroup namespace root: ${l}`);
      assert.equal(lines[4 + cgLines.length], String(64 * 1024 * 1024), r.out);
      // The claimed init became the container and is gone with it, cgroup included.
      assert.ok(!warmInits().includes(w1));
      assert.deepEqual(warmCgroupDirs(w1), []);
      for (const h of HIERARCHIES) assert.ok(!exists(`${CG}/${h}/docker-ts/${r.id}`), h);

      const w2 = await theWarmInit(seen, w1);
      const u = await run(engine, {
        user: "1000",
        cmd: ["sh", "-c", "grep -E '^(Uid|Gid|Groups):' /proc/self/status; id -u; id -g"],
      });
      assert.ok(claimed(u.stages), `claimed: ${u.stages.join(",")}`);
      assert.equal(u.code, 0, u.err);
      assert.match(u.out, /^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
      assert.match(u.out, /^Gid:\s+1000\s+1000\s+1000\s+1000$/m);
      assert.match(u.out, /\n1000\n1000\n$/);
      assert.ok(!warmInits().includes(w2));
    }),
});

Deno.test({
  name: "warm init: back-to-back starts each claim the init that was ready",
  ...needs,
  fn: () =>
    withWarmEngine(async (ctx) => {
      const { engine, seen } = ctx;
      let prev: number | undefined;
      for (let i = 0; i < 3; i++) {
        const w = await theWarmInit(seen, prev);
        const { Id } = await engine.create({ image: "busybox", cmd: ["sleep", "30"] });
        ctx.containers.push(Id);
        const stages: string[] = [];
        await engine.start(Id, { onTiming: (s) => stages.push(s) });
        assert.ok(claimed(stages), `start ${i}: ${stages.join(",")}`);
        const info = await engine.inspect(Id) as { State: { Pid: number; Running: boolean } };
        assert.equal(info.State.Pid, w, `start ${i} runs in the warm init's process`);
        assert.ok(info.State.Running);
        // The process is the container's now: in its cgroup, no longer a warm one.
        assert.deepEqual(warmCgroupDirs(w), []);
        assert.deepEqual(cgroupProcs(`${CG}/memory/docker-ts/${Id}`), [w]);
        prev = w;
      }
      for (const id of ctx.containers.splice(0)) {
        await engine.kill(id, "KILL");
        assert.equal(await engine.wait(id), 137);
        await engine.remove(id);
      }
      // Back-to-back runs (attached, removed).
      for (let i = 0; i < 3; i++) {
        const w = await theWarmInit(seen, prev);
        const r = await run(engine, { cmd: ["echo", `run ${i}`] });
        assert.ok(claimed(r.stages), `run ${i}: ${r.stages.join(",")}`);
        assert.equal(r.out, `run ${i}\n`);
        prev = w;
      }
    }),
});

Deno.test({
  name: "warm init: incompatible requests start cold and leave the warm init alone",
  ...needs,
  fn: () =>
    withWarmEngine(async ({ engine, seen }) => {
      const w = await theWarmInit(seen);
      const host = await run(engine, { network: "host", cmd: ["sh", "-c", "echo host; exit 4"] });
      assert.equal(claimed(host.stages), false, host.stages.join(","));
      assert.equal(host.code, 4);
      assert.equal(host.out, "host\n");
      assert.deepEqual(warmInits(), [w], "the warm init is untouched");
      assert.equal(warmCgroupDirs(w).length, HIERARCHIES.length);

      const tty = await run(engine, { tty: true, cmd: ["sh", "-c", "tty; echo on-tty"] });
      assert.equal(claimed(tty.stages), false, tty.stages.join(","));
      assert.equal(tty.code, 0);
      // Docker shows the container's terminal as /dev/console.
      assert.match(tty.out, /^\/dev\/(console|pts\/\d+)\r?\non-tty\r?\n$/);
      assert.deepEqual(warmInits(), [w]);

      // The next compatible run still claims it.
      const r = await run(engine, { cmd: ["echo", "warm"] });
      assert.ok(claimed(r.stages), r.stages.join(","));
      assert.equal(r.out, "warm\n");
      assert.ok(!warmInits().includes(w));
    }),
});

Deno.test({
  name: "warm init: a claimed container gets its stdin, loopback up and its own /proc",
  ...needs,
  fn: () =>
    withWarmEngine(async ({ engine, seen }) => {
      await theWarmInit(seen);
      const out = collector();
      const stages: string[] = [];
      const code = await engine.run({
        image: "busybox",
        rm: true,
        interactive: true,
        cmd: ["sh", "-c", "cat; ip -o link show lo; ps -o pid,comm | tail -n +2"],
      }, {
        stdin: new Blob(["piped in\n"]).stream(),
        stdout: out.stream,
        onTiming: (s) => stages.push(s),
      });
      assert.ok(claimed(stages), stages.join(","));
      assert.equal(code, 0);
      const lines = out.text().trim().split("\n");
      assert.equal(lines[0], "piped in");
      assert.match(lines[1], /^1: lo: <LOOPBACK,UP,LOWER_UP>/, "loopback up");
      // Only the container's own processes, with its own small pids: /proc is its pid namespace's.
      const procs = lines.slice(2).map((l) => l.trim().split(/\s+/));
      assert.deepEqual(procs[0], ["1", "sh"], out.text());
      assert.ok(procs.length <= 4 && procs.every(([p]) => Number(p) < 100), out.text());
    }),
});

Deno.test({
  name:
    "warm init: a claimed start that fails (127, 126, bad workdir) leaves nothing; the next claims",
  ...needs,
  fn: () =>
    withWarmEngine(async ({ engine, seen }) => {
      let prev: number | undefined;
      const cases: [Omit<Parameters<Engine["run"]>[0], "image">, number][] = [
        [{ cmd: ["nosuchcmd"] }, 127],
        [{ cmd: ["/etc/passwd"] }, 126],
        [{ cmd: ["true"], workdir: "/etc/passwd/sub" }, 125],
      ];
      for (const [opts, expected] of cases) {
        const w = await theWarmInit(seen, prev);
        let id = "";
        await assert.rejects(
          engine.run({ image: "busybox", rm: true, ...opts }, { onCreated: (i) => id = i }),
          (err: unknown) => {
            assert.equal((err as { exitCode?: number }).exitCode, expected, String(err));
            assert.ok(!String((err as Error).message).includes("\n"), "one-line error");
            return true;
          },
        );
        // Launch stages are reported only on success: that the warm init is gone proves the claim.
        await until("the claimed init gone with the failed container", () =>
          procStat(w) === undefined);
        assert.deepEqual(warmCgroupDirs(w), []);
        for (const h of HIERARCHIES) {
          assert.ok(!exists(`${CG}/${h}/docker-ts/${id}`), h);
        }
        assert.ok(!exists(engine.paths.container(id)), "container removed");
        prev = w;
      }
      await theWarmInit(seen, prev);
      const r = await run(engine, { cmd: ["echo", "fine"] });
      assert.ok(claimed(r.stages), r.stages.join(","));
      assert.equal(r.out, "fine\n");
    }),
});

Deno.test({
  name: "warm init: concurrent runs all work, at most one claims the warm init",
  ...needs,
  fn: () =>
    withWarmEngine(async ({ engine, seen }) => {
      await theWarmInit(seen);
      const rs = await Promise.all(
        [0, 1, 2, 3].map((i) => run(engine, { cmd: ["sh", "-c", `echo c${i}; exit ${i}`] })),
      );
      rs.forEach((r, i) => {
        assert.equal(r.code, i, r.err);
        assert.equal(r.out, `c${i}\n`);
      });
      assert.ok(rs.filter((r) => claimed(r.stages)).length <= 1, "one warm init, one claim");
      for (const r of rs) {
        for (const h of HIERARCHIES) assert.ok(!exists(`${CG}/${h}/docker-ts/${r.id}`), h);
      }
      await theWarmInit(seen);
    }),
});

Deno.test({
  name: "warm init: joining another container's network starts cold and leaves the warm init alone",
  ...needs,
  fn: async () => {
    let runId = "";
    try {
      await withWarmEngine(async (ctx) => {
        const { engine, seen } = ctx;
        const w1 = await theWarmInit(seen);
        const { Id } = await engine.create({ image: "busybox", cmd: ["sleep", "30"] });
        ctx.containers.push(Id);
        await engine.start(Id);
        const w2 = await theWarmInit(seen, w1);
        const t0 = Date.now();
        const r = await run(engine, {
          network: `container:${Id}`,
          cmd: ["sh", "-c", "readlink /proc/self/ns/net"],
        });
        runId = r.id;
        assert.equal(claimed(r.stages), false, r.stages.join(","));
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out.trim(), nsOf(w1, "net"), "in the first container's netns");
        // Regression: the engine once adopted the warm cgroup before the spec got its netns
        // path, then launched cold: the warm init sat in this container's cgroup.
        assert.ok(Date.now() - t0 < 1500, `the run took ${Date.now() - t0} ms`);
        for (const h of HIERARCHIES) assert.ok(!exists(`${CG}/${h}/docker-ts/${r.id}`), h);
        assert.deepEqual(warmInits(), [w2]);
        assert.equal(warmCgroupDirs(w2).length, HIERARCHIES.length, "warm init in its own cgroup");
        const next = await run(engine, { cmd: ["true"] });
        assert.ok(claimed(next.stages), "the warm init is still claimable");
      });
    } finally {
      // Should the regression come back, it leaks this container's cgroup: remove it.
      for (const h of HIERARCHIES) {
        try {
          if (runId) Deno.removeSync(`${CG}/${h}/docker-ts/${runId}`);
        } catch { /* gone, as it should be */ }
      }
    }
  },
});

Deno.test({
  name: "warm init: SIGKILLed before a run: the run starts cold, its cgroup goes, a new one comes",
  ...needs,
  fn: () =>
    withWarmEngine(async ({ engine, seen }) => {
      // Reaped before the run.
      const w1 = await theWarmInit(seen);
      Deno.kill(w1, "SIGKILL");
      await until("the killed warm init reaped", () => procStat(w1) === undefined);
      const r1 = await run(engine, { cmd: ["echo", "after kill"] });
      assert.equal(r1.code, 0, r1.err);
      assert.equal(r1.out, "after kill\n");
      await until("its warm cgroup removed", () => warmCgroupDirs(w1).length === 0);
      // A replacement appears (after the run, or at once).
      const w2 = await theWarmInit(seen, w1);
      assert.notEqual(w2, w1);
      const r2 = await run(engine, { cmd: ["echo", "claimed"] });
      assert.ok(claimed(r2.stages), r2.stages.join(","));
    }),
});

Deno.test({
  name: "warm init: SIGKILLed right before a run (not yet reaped): the run still works",
  ...needs,
  fn: () =>
    withWarmEngine(async ({ engine, seen }) => {
      let prev: number | undefined;
      for (let i = 0; i < 3; i++) {
        const w = await theWarmInit(seen, prev);
        Deno.kill(w, "SIGKILL");
        const r = await run(engine, { cmd: ["echo", `run ${i}`] });
        assert.equal(r.code, 0, `run ${i}: ${r.err}`);
        assert.equal(r.out, `run ${i}\n`);
        await until("its warm cgroup removed", () => warmCgroupDirs(w).length === 0);
        prev = w;
      }
    }),
});

/** A warm-<n> name no process can have (above pid_max) and no one uses. */
function unusedWarmName(): string {
  const pidMax = Number(Deno.readTextFileSync("/proc/sys/kernel/pid_max").trim());
  for (let n = Math.max(999_999, pidMax + 1);; n++) {
    if (!HIERARCHIES.some((h) => exists(`${CG}/${h}/docker-ts/warm-${n}`))) {
      return `docker-ts/warm-${n}`;
    }
  }
}

Deno.test({
  name: "warm init: prewarm sweeps empty stale warm cgroups and keeps populated ones",
  ...needs,
  fn: async () => {
    const driver = new V1Driver();
    const empty = unusedWarmName();
    const cgEmpty = driver.create(empty);
    const busy = unusedWarmName();
    let cgBusy = driver.create(busy);
    const sleeper = new Deno.Command("/bin/busybox", {
      args: ["sleep", "60"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      cgBusy.addProcess(sleeper.pid);
      assert.equal(Object.keys(cgEmpty.paths).length, HIERARCHIES.length);
      await withWarmEngine(async ({ engine, seen }) => {
        // prewarm() ran in withWarmEngine: the empty one is gone in every hierarchy.
        for (const h of HIERARCHIES) {
          assert.ok(!exists(`${CG}/${h}/${empty}`), `${h}: empty stale cgroup swept`);
          assert.deepEqual(cgroupProcs(`${CG}/${h}/${busy}`), [sleeper.pid], `${h}: kept`);
        }
        await theWarmInit(seen);
        // Our own warm cgroup survives a sweep too (it is populated).
        await engine.prewarm();
        assert.equal(warmInits().length, 1);
        assert.equal(warmCgroupDirs(warmInits()[0]).length, HIERARCHIES.length);
      });
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
      cgBusy = driver.open(busy);
      await cgBusy.remove();
      try {
        await driver.open(empty).remove();
      } catch { /* swept, as expected */ }
    }
    for (const h of HIERARCHIES) {
      assert.ok(!exists(`${CG}/${h}/${busy}`) && !exists(`${CG}/${h}/${empty}`), h);
    }
  },
});

Deno.test({
  name: "warm init: close() ends it, removes its cgroup, leaves no thread in its namespaces",
  ...needs,
  fn: async () => {
    let w = 0;
    let dir = "";
    await withWarmEngine(async (ctx) => {
      dir = ctx.dir;
      w = await theWarmInit(ctx.seen);
      // Some cold and warm launches first, so launch Workers have been reused and parked.
      await run(ctx.engine, { network: "host", cmd: ["true"] });
      await run(ctx.engine, { cmd: ["true"] });
      const w2 = await theWarmInit(ctx.seen, w);
      // Every launch Worker but the new warm init's is back home (or gone) before close.
      await until("threads back home", () => foreignThreads(w2).length === 0, 3000)
        .catch(() => assert.deepEqual(foreignThreads(w2), []));
      // withWarmEngine's teardown closes and asserts; here the explicit checks of close().
    });
    assert.ok(w > 0 && dir !== "");
    assert.deepEqual(warmInits(), []);
    assert.deepEqual(warmCgroupDirs(w), []);
    assert.deepEqual(foreignThreads(), []);
  },
});

// ---------------------------------------------------------------------------------------------
// Daemon

Deno.test({
  name: "warm init (daemon): CLI runs claim it; a SIGKILLed daemon's init exits; restart sweeps",
  ...needs,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const hadTrace = Deno.env.get("DOCKER_TS_TRACE");
    Deno.env.set("DOCKER_TS_TRACE", "1");
    const d = await startTestDaemon().finally(() => {
      if (hadTrace === undefined) Deno.env.delete("DOCKER_TS_TRACE");
      else Deno.env.set("DOCKER_TS_TRACE", hadTrace);
    });
    const orphans: number[] = [];
    try {
      const host = ["-H", `unix://${d.socket}`];
      const daemonWarm = async (not?: number): Promise<number> => {
        let pid = 0;
        await until(`a warm init of the daemon${not ? ` other than ${not}` : ""}`, () => {
          const w = warmInits(d.pid()).filter((p) => p !== not);
          pid = w[0] ?? 0;
          return w.length === 1 && warmCgroupDirs(pid).length === HIERARCHIES.length;
        }, 10_000);
        return pid;
      };
      const w1 = await daemonWarm();
      let prev = w1;
      for (let i = 0; i < 2; i++) {
        const claimsBefore = d.log().split("[trace] launch.claim").length;
        const r = await d.cli([
          ...host,
          "run",
          "--rm",
          "busybox",
          "sh",
          "-c",
          `echo run${i}; exit 5`,
        ]);
        assert.equal(r.code, 5, r.stderr);
        assert.equal(r.stdout, `run${i}\n`);
        await until(
          "the claim traced",
          () => d.log().split("[trace] launch.claim").length > claimsBefore,
        )
          .catch(() => assert.fail(`run ${i} did not claim; daemon log:\n${d.log().slice(-2000)}`));
        prev = await daemonWarm(prev);
      }
      // SIGKILL the daemon: its warm init reads end of file on its socket and exits by itself.
      const orphan = prev;
      orphans.push(orphan);
      await d.kill("SIGKILL");
      const t0 = Date.now();
      await until("the orphaned warm init exits", () => {
        const st = procStat(orphan);
        return st === undefined || st.state === "Z";
      }, 2000);
      const took = Date.now() - t0;
      assert.ok(took < 2000, `took ${took} ms`);
      // Nobody removed its cgroup (the daemon is dead)...
      assert.equal(warmCgroupDirs(orphan).length, HIERARCHIES.length, "stale warm cgroup");
      // ... the restarted daemon's prewarm sweeps it.
      await d.start();
      await until("the stale warm cgroup swept", () => warmCgroupDirs(orphan).length === 0);
      const w3 = await daemonWarm();
      orphans.push(w3);
      const r = await d.cli([...host, "run", "--rm", "busybox", "echo", "again"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "again\n");
      // A graceful stop discards the warm init and removes its cgroup.
      const w4 = await daemonWarm(w3);
      orphans.push(w4);
      await d.kill("SIGTERM");
      await until("the warm init of a stopped daemon gone", () => {
        const st = procStat(w4);
        return st === undefined || st.state === "Z";
      }, 3000);
      assert.deepEqual(warmCgroupDirs(w4), [], "graceful stop removed the warm cgroup");
    } finally {
      await d.stop();
      // A daemon killed mid-test leaves its warm init to exit by itself; then its cgroup is ours.
      for (const p of orphans) {
        await until(`${p} gone`, () => {
          const st = procStat(p);
          return st === undefined || st.state === "Z";
        }, 3000).catch(() => {});
        for (const dir of warmCgroupDirs(p)) {
          try {
            Deno.removeSync(dir);
          } catch { /* still populated: reported by the assertions */ }
        }
      }
    }
  },
});
