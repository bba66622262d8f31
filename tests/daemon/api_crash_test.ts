/**
 * Proof: kill -9 of `docker-ts daemon` with containers running. The containers keep running;
 * after a restart `docker ps` shows them, stop/logs/exec work, output written while the daemon
 * was down is kept, and a container that exited meanwhile shows exited with an unknown code;
 * one stopped after the restart reports its own exit code (seized with ptrace, not our child).
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { startTestDaemon, until } from "./api_harness.ts";

const needs = requires("root", "overlay", "cgroup-v1", "docker-cli");

/** Whether `pid` runs (a zombie waiting for its new parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

Deno.test({
  name: "docker-ts daemon: kill -9 and restart with containers running",
  ...needs,
  async fn() {
    const d = await startTestDaemon();
    try {
      const long = await d.docker([
        "run",
        "-d",
        "--name",
        "long",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 7' TERM; i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done",
      ]);
      assert.equal(long.code, 0, long.stderr);
      const short = await d.docker([
        "run",
        "-d",
        "--name",
        "short",
        "busybox",
        "sh",
        "-c",
        "sleep 1; echo bye; exit 3",
      ]);
      assert.equal(short.code, 0, short.stderr);
      const later = await d.docker([
        "run",
        "-d",
        "--name",
        "later",
        "busybox",
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 5",
      ]);
      assert.equal(later.code, 0, later.stderr);
      const pid = Number((await d.docker(["inspect", "-f", "{{.State.Pid}}", "long"])).stdout);
      assert.ok(pid > 0);

      await until(async () => (await d.docker(["logs", "long"])).stdout.includes("line3"));
      const linesBefore = (await d.docker(["logs", "long"])).stdout.trim().split("\n").length;
      await d.kill("SIGKILL");
      // While nobody supervises: the long one keeps running and writing, the short one exits.
      await new Promise((r) => setTimeout(r, 1800));
      assert.ok(alive(pid), "the container outlived its daemon");

      await d.start();
      assert.match(d.log(), /recovered 2 running and 1 exited container/);
      // Exiting by itself after the restart (init's child, not the daemon's): the kernel's
      // process events still tell the daemon its code.
      assert.equal((await d.docker(["exec", "later", "touch", "/tmp/go"])).code, 0);
      assert.equal((await d.docker(["wait", "later"])).stdout, "5\n");
      assert.equal(
        (await d.docker(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "later"]))
          .stdout,
        "exited 5\n",
      );
      const ps = await d.docker(["ps", "--format", "{{.Names}} {{.Status}}"]);
      assert.match(ps.stdout, /^long Up/m);
      assert.doesNotMatch(ps.stdout, /short/);
      const gone = await d.docker([
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "short",
      ]);
      assert.equal(gone.stdout, "exited -1\n", "unknown exit code, not an invented one");
      const wait = await d.docker(["wait", "short"]);
      assert.equal(wait.stdout, "-1\n");
      const shortLogs = await d.docker(["logs", "short"]);
      assert.equal(shortLogs.stdout, "bye\n", "output written while the daemon was down is kept");

      // No gap in the long one's numbered lines across the downtime.
      await until(async () => {
        const out = (await d.docker(["logs", "long"])).stdout.trim().split("\n");
        return out.length > linesBefore + 15;
      });
      const lines = (await d.docker(["logs", "long"])).stdout.trim().split("\n");
      lines.forEach((l, i) => assert.equal(l, `line${i}`));

      const ex = await d.docker(["exec", "long", "echo", "exec-ok"]);
      assert.deepEqual([ex.code, ex.stdout], [0, "exec-ok\n"]);
      const stop = await d.docker(["stop", "long"]);
      assert.deepEqual([stop.code, stop.stdout], [0, "long\n"]);
      assert.equal(
        (await d.docker(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "long"])).stdout,
        // An adopted container is init's child, not the new daemon's: the daemon seizes it
        // with ptrace before signalling it, so its own exit code (the trap's 7) reaches us.
        "exited 7\n",
      );
      assert.equal((await d.docker(["wait", "long"])).stdout, "7\n");
      assert.ok(!alive(pid));
      // No trace is left behind: nothing of the daemon still traces anything.
      const tracers = [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name))
        .filter((e) => {
          try {
            const st = Deno.readTextFileSync(`/proc/${e.name}/status`);
            return Number(/^TracerPid:\s*(\d+)/m.exec(st)?.[1] ?? 0) === d.pid();
          } catch {
            return false;
          }
        });
      assert.deepEqual(tracers, []);
    } finally {
      await d.stop();
    }
  },
});

Deno.test({
  name: "docker-ts daemon: SIGTERM leaves containers running, idle exit waits for them",
  ...needs,
  async fn() {
    const d = await startTestDaemon(["--idle-exit", "1s"]);
    try {
      const run = await d.docker(["run", "-d", "--name", "sleeper", "busybox", "sleep", "600"]);
      assert.equal(run.code, 0, run.stderr);
      const pid = Number((await d.docker(["inspect", "-f", "{{.State.Pid}}", "sleeper"])).stdout);
      // Busy: a running container keeps an idle-exiting daemon alive.
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await d.docker(["ps", "-q"])).stdout.trim().length, 12);
      await d.kill("SIGTERM");
      assert.ok(alive(pid), "graceful shutdown does not stop containers");
      assert.ok(!(await Deno.stat(d.socket).then(() => true, () => false)), "socket removed");
      await d.start();
      assert.equal((await d.docker(["rm", "-f", "sleeper"])).stdout, "sleeper\n");
      // Now idle: no container, no client → the daemon exits by itself and removes its socket.
      await until(() => Deno.stat(d.socket).then(() => false, () => true), 10_000);
      assert.match(d.log(), /idle for 1s with no running container: exiting/);
    } finally {
      await d.stop();
    }
  },
});
