/**
 * Regressions found by using seccomp profiles as a new user would.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { killThreadAsProcess } from "../../src/runtime/seccomp_load.ts";

const RET_K = 0x06;

function prog(...ks: [code: number, k: number][]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(ks.length * 8);
  const v = new DataView(out.buffer);
  ks.forEach(([code, k], i) => {
    v.setUint16(i * 8, code, true);
    v.setUint32(i * 8 + 4, k, true);
  });
  return out;
}

function ks(p: Uint8Array<ArrayBuffer>): number[] {
  const v = new DataView(p.buffer);
  return Array.from({ length: p.length / 8 }, (_, i) => v.getUint32(i * 8 + 4, true));
}

Deno.test("kill-thread returns become kill-process at load (a killed init thread hung the engine)", () => {
  const p = prog(
    [0x20, 0], // ld arch: k=0 but not a return, untouched
    [RET_K, 0x00000000], // KILL_THREAD
    [RET_K, 0x7fff0000], // ALLOW
    [RET_K, 0x00050001], // ERRNO(1)
    [RET_K, 0x80000000], // KILL_PROCESS
  );
  const before = ks(p);
  const out = killThreadAsProcess(p);
  assert.deepEqual(ks(out), [0, 0x80000000, 0x7fff0000, 0x00050001, 0x80000000]);
  assert.deepEqual(ks(p), before, "input left unchanged");
});

Deno.test({
  name: "a profile with defaultAction SCMP_ACT_KILL ends the container with 159, not a hang",
  ...requires("root"),
  async fn() {
    const fixture = new URL("../../.fixtures/busybox.tar", import.meta.url).pathname;
    try {
      Deno.statSync(fixture);
    } catch {
      console.error("[skip] busybox fixture missing: run scripts/build_fixtures.ts");
      return;
    }
    const dir = await Deno.makeTempDir({ prefix: "seccomp-reg-" });
    const cli = new URL("../../cli.ts", import.meta.url).pathname;
    const profile = `${dir}/kill.json`;
    await Deno.writeTextFile(
      profile,
      JSON.stringify({ defaultAction: "SCMP_ACT_KILL", syscalls: [] }),
    );
    const run = async (...args: string[]): Promise<Deno.CommandOutput> =>
      await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", cli, "--root", `${dir}/root`, "--runroot", `${dir}/run`, ...args],
        // In-process engine: no daemon outlives the test.
        env: { DOCKER_TS_DEFAULT_NETWORK: "none", DOCKER_TS_AUTOSTART: "0" },
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(30_000),
      }).output();
    try {
      assert.equal((await run("load", "-i", fixture)).code, 0);
      for (const extra of [[], ["--security-opt", "no-new-privileges"]]) {
        const r = await run(
          "run",
          "--rm",
          ...extra,
          "--security-opt",
          `seccomp=${profile}`,
          "busybox",
          "true",
        );
        assert.equal(r.code, 159, new TextDecoder().decode(r.stderr));
      }
      const ps = await run("ps", "-aq");
      assert.equal(new TextDecoder().decode(ps.stdout).trim(), "", "--rm left a container");
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => undefined);
    }
  },
});
