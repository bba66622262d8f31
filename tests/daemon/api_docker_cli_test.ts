/**
 * Proof: the real docker CLI (v28) against `docker-ts daemon` on the real engine — the everyday
 * flow, asserting docker's output, not just exit codes. The daemon runs with `--bridge none`,
 * so nothing touches the host's firewall.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { startRegistry } from "../_helpers/registry.ts";
import { pushFixture } from "../_helpers/fixtures.ts";
import { runCommand, startTestDaemon, until } from "./api_harness.ts";

const needs = requires("root", "overlay", "cgroup-v1", "docker-cli", "docker-registry");

/** Runs `docker …` inside a pseudo-terminal (util-linux `script`) with `input` typed in. */
function dockerInPty(
  env: Record<string, string>,
  command: string,
  input: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCommand("script", ["-qec", command, "/dev/null"], { env, stdin: input });
}

Deno.test({
  name: "docker CLI against docker-ts daemon: the everyday flow",
  ...needs,
  async fn() {
    const reg = await startRegistry();
    const d = await startTestDaemon();
    const env = {
      DOCKER_HOST: `unix://${d.socket}`,
      DOCKER_CONFIG: `${d.dir}/docker-cli`,
      DOCKER_CLI_HINTS: "false",
    };
    try {
      const v = await d.docker([
        "version",
        "--format",
        "{{.Server.Version}} {{.Server.APIVersion}}",
      ]);
      assert.equal(v.code, 0, v.stderr);
      assert.equal(v.stdout, "0.1.0 1.41\n");
      const info = await d.docker([
        "info",
        "--format",
        "{{.Images}} {{.Driver}} {{.CgroupVersion}}",
      ]);
      assert.equal(info.stdout, "1 overlay2 1\n", info.stderr);

      // pull from the test registry, images
      const pushed = await pushFixture(reg.host, "busybox", { form: "schema2", tag: "latest" });
      const pull = await d.docker(["pull", pushed.ref]);
      assert.equal(pull.code, 0, pull.stderr);
      assert.match(
        pull.stdout,
        /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/busybox:latest/,
      );
      const images = await d.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
      assert.deepEqual(images.stdout.trim().split("\n").sort(), [
        `${reg.host}/busybox:latest`,
        "busybox:latest",
      ]);

      // run --rm: output on the right streams and the exit code
      const rm = await d.docker([
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
      ]);
      assert.deepEqual([rm.code, rm.stdout, rm.stderr], [3, "out\n", "err\n"]);
      assert.equal((await d.docker(["ps", "-aq"])).stdout, "", "--rm removed it");

      // run -d --name, ps, logs, logs -f
      const run = await d.docker([
        "run",
        "-d",
        "--name",
        "web",
        "busybox",
        "sh",
        "-c",
        "echo hello; echo oops >&2; trap 'echo bye; exit 0' TERM; while true; do sleep 0.2; done",
      ]);
      assert.equal(run.code, 0, run.stderr);
      const id = run.stdout.trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      const ps = await d.docker(["ps"]);
      assert.match(
        ps.stdout,
        /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES\n/,
      );
      assert.match(
        ps.stdout,
        new RegExp(`^${id.slice(0, 12)}\\s+busybox\\s+"sh -c .*Up .*\\s+web$`, "m"),
      );
      await until(async () => (await d.docker(["logs", "web"])).stdout === "hello\n");
      const logs = await d.docker(["logs", "web"]);
      assert.deepEqual([logs.stdout, logs.stderr], ["hello\n", "oops\n"]);
      const stamped = await d.docker(["logs", "-t", "--tail", "1", "web"]);
      assert.match(stamped.stdout + stamped.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z (hello|oops)\n$/);

      // exec (plain, exit code, env/workdir), exec -it through a pty
      const ex = await d.docker([
        "exec",
        "-e",
        "A=b",
        "-w",
        "/tmp",
        "web",
        "sh",
        "-c",
        "echo $A $(pwd)",
      ]);
      assert.deepEqual([ex.code, ex.stdout], [0, "b /tmp\n"]);
      assert.equal((await d.docker(["exec", "web", "sh", "-c", "exit 4"])).code, 4);
      const nf = await d.docker(["exec", "web", "nosuch"]);
      assert.notEqual(nf.code, 0);
      assert.match(nf.stdout + nf.stderr, /executable file not found/);
      const exi = await d.docker(["exec", "-i", "web", "sh", "-c", "cat; echo done"], {
        stdin: "piped-in\n",
      });
      assert.equal(exi.stdout, "piped-in\ndone\n");
      const exIt = await dockerInPty(env, "docker exec -it web sh", "echo in-$((2+3))\nexit 7\n");
      assert.equal(exIt.code, 7, exIt.stdout);
      assert.match(exIt.stdout, /\r\nin-5\r\n/);
      // API 1.41: the CLI sends the terminal's size right after the start, while the process
      // is being spawned; it used to be kept for a start already under way, and lost.
      const exSize = await dockerInPty(
        env,
        "stty rows 31 cols 101; docker exec -it web sh -c 'sleep 1; stty size'",
        "",
      );
      assert.match(exSize.stdout, /\b31 101\r\n/, exSize.stdout);

      // run -it through a pty
      const runIt = await dockerInPty(
        env,
        "docker run -it --rm busybox sh",
        "echo $((6*7)); tty; ls -l /dev/console\nexit 5\n",
      );
      assert.equal(runIt.code, 5, runIt.stdout);
      assert.match(runIt.stdout, /\r\n42\r\n/);
      // As with dockerd: the terminal is the container's own /dev/pts/0, also /dev/console.
      assert.match(runIt.stdout, /\r\n\/dev\/pts\/0\r\n/);
      assert.match(runIt.stdout, /136, +0 .*\/dev\/console/);

      // logs -f follows new output and ends when the container stops
      const follow = new Deno.Command("docker", {
        args: ["logs", "-f", "web"],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();

      // inspect
      const ins = await d.docker([
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.Running}} {{.HostConfig.NetworkMode}} {{.Name}}",
        "web",
      ]);
      assert.equal(ins.stdout, "running true none /web\n");

      // pause / unpause
      assert.equal((await d.docker(["pause", "web"])).stdout, "web\n");
      assert.match((await d.docker(["ps", "--format", "{{.Status}}"])).stdout, /\(Paused\)/);
      assert.equal((await d.docker(["unpause", "web"])).stdout, "web\n");
      assert.doesNotMatch((await d.docker(["ps", "--format", "{{.Status}}"])).stdout, /Paused/);

      // stop (trap → exit 0), logs -f ended with the container
      const stop = await d.docker(["stop", "-t", "5", "web"]);
      assert.deepEqual([stop.code, stop.stdout], [0, "web\n"]);
      const f = await follow;
      assert.equal(new TextDecoder().decode(f.stdout), "hello\nbye\n");
      assert.match(
        (await d.docker(["ps", "-a", "--format", "{{.Status}}"])).stdout,
        /^Exited \(0\)/,
      );

      // start, restart
      assert.equal((await d.docker(["start", "web"])).stdout, "web\n");
      assert.match(
        (await d.docker(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout,
        /^web Up/,
      );
      const restart = await d.docker(["restart", "-t", "5", "web"]);
      assert.deepEqual([restart.code, restart.stdout], [0, "web\n"]);
      assert.match(
        (await d.docker(["ps", "--format", "{{.Names}} {{.Status}}"])).stdout,
        /^web Up/,
      );

      // bad input: docker's messages and exit codes
      const missing = await d.docker(["inspect", "nosuch"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /No such (container|object): nosuch/);
      const dup = await d.docker(["run", "-d", "--name", "web", "busybox", "true"]);
      assert.equal(dup.code, 125);
      assert.match(dup.stderr, /Conflict/i);
      const rmRunning = await d.docker(["rm", "web"]);
      assert.equal(rmRunning.code, 1);
      assert.match(rmRunning.stderr, /^Error response from daemon: .*running container/m);

      // rm -f, rmi
      assert.equal((await d.docker(["rm", "-f", "web"])).stdout, "web\n");
      assert.equal((await d.docker(["ps", "-aq"])).stdout, "");
      const rmi = await d.docker(["rmi", pushed.ref]);
      assert.equal(rmi.code, 0, rmi.stderr);
      assert.match(rmi.stdout, new RegExp(`^Untagged: ${pushed.ref.replace(/\./g, "\\.")}$`, "m"));
      assert.doesNotMatch(d.log(), /Internal|TypeError/);
    } finally {
      await d.stop();
      await reg.stop();
    }
  },
});
