/**
 * Regressions found driving the CLI as a new user:
 * - `ps --filter` in the CLI filtered on its own with AND between repeated keys, no `status`
 *   check and no `before`/`since`; it now shares the daemon's docker semantics.
 * - `exec` on an unknown or stopped container exited 126; docker exits 1 (126/127 stay for a
 *   command that cannot run).
 * - `daemon --root DIR --runroot DIR` (the README's form) was refused as an unknown flag.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { tempEngine, until } from "./_engine.ts";

const needs = requires("root", "overlay", "cgroup-v1");
const MOD = path.join(import.meta.dirname!, "../../mod.ts");

async function cli(
  t: { root: string; runroot: string },
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MOD, "--root", t.root, "--runroot", t.runroot, ...args],
    env: { DOCKER_TS_AUTOSTART: "0", DOCKER_TS_DEFAULT_NETWORK: "none" },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test({
  name: "regression: ps filters OR within a key, check status, know before; exec exits 1",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const mk = async (name: string): Promise<string> => {
        const r = await cli(t, "create", "--network", "none", "--name", name, "busybox", "true");
        assert.equal(r.code, 0, r.err);
        return r.out.trim().slice(0, 12);
      };
      const first = await mk("first");
      // Distinct creation seconds, so before/since have something to tell apart.
      await new Promise((r) => setTimeout(r, 1100));
      const second = await mk("second");
      const ran = await cli(t, "start", "-a", "second");
      assert.equal(ran.code, 0, ran.err);
      await until(async () =>
        (await cli(t, "ps", "-aq", "--filter", "status=exited")).out.trim() === second
      );

      const or = await cli(
        t,
        "ps",
        "-aq",
        "--filter",
        "status=exited",
        "--filter",
        "status=created",
      );
      assert.equal(or.code, 0, or.err);
      assert.deepEqual(or.out.trim().split("\n").sort(), [first, second].sort());

      const bad = await cli(t, "ps", "-a", "--filter", "status=bogus");
      assert.equal(bad.code, 1);
      assert.match(bad.err, /Invalid filter 'status=bogus'/);

      const before = await cli(t, "ps", "-q", "--filter", "before=second");
      assert.equal(before.code, 0, before.err);
      assert.equal(before.out.trim(), first);

      const missing = await cli(t, "exec", "nosuch", "true");
      assert.equal(missing.code, 1);
      assert.match(missing.err, /No such container: nosuch/);
      const stopped = await cli(t, "exec", "first", "true");
      assert.equal(stopped.code, 1);
      assert.match(stopped.err, /is not running/);
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "regression: daemon takes --root and --runroot after the verb",
  ...needs,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dts-daemon-flags-" });
    const runroot = path.join(dir, "run");
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MOD,
        "daemon",
        "--root",
        path.join(dir, "root"),
        "--runroot",
        runroot,
        "--bridge",
        "none",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      // The socket defaults under the --runroot given after the verb.
      await until(() => {
        try {
          return Deno.statSync(path.join(runroot, "docker-ts.sock")).isSocket === true;
        } catch {
          return false;
        }
      }, 20_000);
    } finally {
      proc.kill("SIGTERM");
      await proc.stderr.cancel();
      await proc.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
