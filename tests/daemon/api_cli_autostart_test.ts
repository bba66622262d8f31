/**
 * The docker-ts CLI and the daemon: with no daemon, `run -d` starts one (detached, idle-exiting)
 * and every later verb goes through it; `-H` names a socket explicitly; once nothing runs the
 * daemon exits by itself and removes its socket.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { requires } from "../_helpers/requires.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { runCommand, until } from "./api_harness.ts";

const needs = requires("root", "overlay", "cgroup-v1");
const MOD = path.join(import.meta.dirname!, "../../mod.ts");

Deno.test({
  name: "cli: run -d auto-starts the daemon, verbs go through it, it exits when idle",
  ...needs,
  async fn() {
    const fx = await ensureFixtures();
    const dir = await Deno.makeTempDir({ prefix: "dts-autostart-" });
    const root = path.join(dir, "root");
    const runroot = path.join(dir, "run");
    const socket = path.join(runroot, "docker-ts.sock");
    const pidFile = path.join(runroot, "docker-ts.pid");
    {
      const loader = new Engine({ root, runroot });
      await loader.load(fx.dockerArchive("busybox"));
    }
    const env = { DOCKER_TS_DEFAULT_NETWORK: "none", DOCKER_TS_DAEMON_IDLE_EXIT: "1s" };
    const cli = (...args: string[]) =>
      runCommand(
        Deno.execPath(),
        ["run", "-A", MOD, "--root", root, "--runroot", runroot, ...args],
        {
          env,
        },
      );
    let daemonPid = 0;
    try {
      assert.ok(!fs.existsSync(socket));
      const run = await cli(
        "run",
        "-d",
        "--name",
        "auto",
        "busybox",
        "sh",
        "-c",
        "echo hi; exec sleep 600",
      );
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^[0-9a-f]{64}\n$/);
      assert.ok(fs.existsSync(socket), "the daemon was started on the default socket");
      daemonPid = Number(fs.readFileSync(pidFile, "utf8"));
      assert.ok(daemonPid > 0);
      // Detached: its own session, not a child of the CLI (which has exited).
      const stat = fs.readFileSync(`/proc/${daemonPid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      assert.equal(Number(fields[3]), daemonPid, "session leader (setsid)");

      await until(async () => (await cli("logs", "auto")).stdout === "hi\n");
      const ps = await cli("ps", "--format", "{{.Names}} {{.Status}}");
      assert.match(ps.stdout, /^auto Up/);
      const ex = await cli("exec", "auto", "echo", "via-daemon");
      assert.deepEqual([ex.code, ex.stdout], [0, "via-daemon\n"]);
      const explicit = await cli("-H", `unix://${socket}`, "ps", "-q");
      assert.equal(explicit.stdout.trim().length, 12);
      const wrong = await cli("-H", `unix://${dir}/nope.sock`, "ps");
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /Cannot connect to the docker-ts daemon at unix:\/\/.*nope\.sock/);

      // A second `run -d` reuses the running daemon.
      const again = await cli("run", "-d", "busybox", "true");
      assert.equal(again.code, 0, again.stderr);
      assert.equal(Number(fs.readFileSync(pidFile, "utf8")), daemonPid);

      assert.equal((await cli("rm", "-f", "auto")).code, 0);
      // Nothing runs, nobody connects: it exits by itself after the idle period.
      await until(() => !fs.existsSync(socket), 15_000);
      await until(
        () =>
          !fs.existsSync(`/proc/${daemonPid}`) ||
          fs.readFileSync(`/proc/${daemonPid}/stat`, "utf8").includes(") Z"),
        5000,
      );
      const log = fs.readFileSync(path.join(runroot, "docker-ts-daemon.log"), "utf8");
      assert.match(log, /idle for 1s with no running container: exiting/);
      daemonPid = 0;
    } finally {
      if (daemonPid) {
        try {
          Deno.kill(daemonPid, "SIGKILL");
        } catch {
          // gone
        }
      }
      const engine = new Engine({ root, runroot, defaultNetwork: "none" });
      for (const c of await engine.list({ all: true })) {
        await engine.remove(c.Id, { force: true }).catch(() => {});
      }
      engine.supervisor.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
});
