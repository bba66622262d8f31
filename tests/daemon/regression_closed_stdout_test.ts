/**
 * Regression (fresh-user pass on the daemon client): `docker-ts run … | head -1`. When the
 * reader of the CLI's stdout goes away, docker's CLI prints `write /dev/stdout: broken pipe`
 * and exits 1 (the container runs on in dockerd). Through a docker-ts daemon the same; in-process
 * (no daemon to hand the container to) the container is killed and, with --rm, removed. Before
 * the fix the daemon path died of an unhandled rejection with a stack trace, and the in-process
 * path never ended.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { startTestDaemon, until } from "./api_harness.ts";

const needs = requires("root", "overlay", "cgroup-v1");
const MOD = path.join(import.meta.dirname!, "../../mod.ts");

/** Spawns the CLI, reads the first chunk of its stdout, then closes the pipe's read end. */
async function runThenCloseStdout(
  globalArgs: string[],
  runArgs: string[],
): Promise<{ code: number; stderr: string; first: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", MOD, ...globalArgs, "run", ...runArgs],
    env: { DOCKER_TS_DEFAULT_NETWORK: "none", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A run that never ends is the bug: fail (and reap) instead of hanging the suite.
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const reader = child.stdout.getReader();
    const first = await reader.read();
    await reader.cancel();
    const stderr = new TextDecoder().decode(
      new Uint8Array(await new Response(child.stderr).arrayBuffer()),
    );
    const { code } = await child.status;
    return { code, stderr, first: new TextDecoder().decode(first.value ?? new Uint8Array()) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "regression: closed stdout, in-process — one line, exit 1, the container killed and removed",
  ...needs,
  async fn() {
    const fx = await ensureFixtures();
    const dir = await Deno.makeTempDir({ prefix: "dts-closed-stdout-" });
    const g = ["--root", path.join(dir, "root"), "--runroot", path.join(dir, "run")];
    try {
      const load = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MOD, ...g, "load", "-i", fx.dockerArchive("busybox")],
      }).output();
      assert.equal(load.code, 0, new TextDecoder().decode(load.stderr));
      const r = await runThenCloseStdout(g, ["--rm", "busybox", "yes"]);
      assert.match(r.first, /^y\n/);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, "docker-ts: write /dev/stdout: broken pipe\n");
      assert.deepEqual(fs.readdirSync(path.join(dir, "root", "containers")), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "regression: closed stdout, through a daemon — one line, exit 1, the container runs on",
  ...needs,
  async fn() {
    const d = await startTestDaemon();
    try {
      const r = await runThenCloseStdout(
        ["-H", `unix://${d.socket}`],
        ["--rm", "--name", "yes", "busybox", "yes"],
      );
      assert.match(r.first, /^y\n/);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, "docker-ts: write /dev/stdout: broken pipe\n");
      // As with dockerd: the container keeps running; --rm removes it once it is stopped.
      const ps = await d.cli(["ps", "--format", "{{.Names}}"]);
      assert.equal(ps.stdout, "yes\n");
      const k = await d.cli(["kill", "yes"]);
      assert.equal(k.code, 0, k.stderr);
      await until(async () => (await d.cli(["ps", "-aq"])).stdout === "");
    } finally {
      await d.stop();
    }
  },
});
