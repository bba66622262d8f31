/**
 * Regression: `kill -9` of the daemon used to end `run -di` containers (their stdin read EOF:
 * the daemon held the pipe) and hang up `run -dt`/`-dit` ones (the daemon held the pty master),
 * whose output was then lost. The container now keeps a copy of that end (KEPT_FD), and the
 * restarted daemon takes it back: input, terminal, attach and logs carry on.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { startTestDaemon, until } from "./api_harness.ts";

const needs = requires("root", "overlay", "cgroup-v1", "docker-cli");

Deno.test({
  name:
    "regression: interactive detached containers survive a daemon kill -9, input and output intact",
  ...needs,
  async fn() {
    const d = await startTestDaemon();
    try {
      for (
        const args of [
          ["run", "-dit", "--name", "ttysh", "busybox", "sh"],
          ["run", "-di", "--name", "icat", "busybox", "cat"],
          [
            "run",
            "-dt",
            "--name",
            "ticker",
            "busybox",
            "sh",
            "-c",
            "i=0; while :; do echo tick$i; i=$((i+1)); sleep 0.1; done",
          ],
        ]
      ) {
        const r = await d.docker(args);
        assert.equal(r.code, 0, r.stderr);
      }
      await until(async () => (await d.docker(["logs", "ticker"])).stdout.includes("tick3"));
      await d.kill("SIGKILL");
      // While no daemon runs, none of them gets EOF or a hangup.
      await new Promise((r) => setTimeout(r, 1000));
      await d.start();
      assert.match(d.log(), /recovered 3 running and 0 exited container/);
      const ps = await d.docker(["ps", "--format", "{{.Names}}"]);
      assert.deepEqual(ps.stdout.trim().split("\n").sort(), ["icat", "ticker", "ttysh"]);

      // The tty's output written while the daemon was down waited in the pty: no gap at all.
      await until(async () => (await d.docker(["logs", "ticker"])).stdout.includes("tick25"));
      const ticks = (await d.docker(["logs", "ticker"])).stdout.replaceAll("\r", "").trim()
        .split("\n");
      ticks.forEach((line, i) => assert.equal(line, `tick${i}`));

      // The stdin pipe is the same one: what a new attach sends reaches `cat`.
      const att = d.docker(["attach", "icat"], { stdin: "after-crash\n" });
      await until(async () => (await d.docker(["logs", "icat"])).stdout === "after-crash\n");
      assert.equal((await d.docker(["kill", "icat"])).code, 0);
      const attached = await att;
      assert.match(attached.stdout, /after-crash/);

      // The pty master is the same one: an interactive session through a real terminal.
      const sock = d.socket;
      const session = new Deno.Command("script", {
        args: ["-qec", `docker -H unix://${sock} attach ttysh`, "/dev/null"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = session.stdin.getWriter();
      await new Promise((r) => setTimeout(r, 1000));
      await w.write(new TextEncoder().encode("echo he''llo-$((6*7))\n"));
      await new Promise((r) => setTimeout(r, 700));
      await w.write(new TextEncoder().encode("exit 3\n"));
      await w.close();
      const out = await session.output();
      assert.match(new TextDecoder().decode(out.stdout), /hello-42/);
      assert.equal(
        (await d.docker(["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ttysh"]))
          .stdout,
        "exited 3\n",
      );
      assert.match((await d.docker(["logs", "ttysh"])).stdout, /hello-42/);
    } finally {
      await d.stop();
    }
  },
});
