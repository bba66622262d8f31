/**
 * End-to-end Engine.run on the busybox fixture image (root, overlay, cgroup v1). Each test uses
 * temp roots and checks that nothing of the container is left: directory, cgroup, run dir.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Engine } from "../../src/engine.ts";
import { ContainerExecError, type RunOptionsInput } from "../../src/engine_api.ts";
import { requires } from "../_helpers/requires.ts";
import { ensureFixtures } from "../_helpers/fixtures.ts";
import { collector } from "./_fakes.ts";

const needs = requires("root", "overlay", "cgroup-v1");

let shared: { engine: Engine; dir: string } | undefined;
async function engine(): Promise<Engine> {
  if (!shared) {
    const fx = await ensureFixtures();
    const dir = await Deno.makeTempDir({ prefix: "dts-e2e-" });
    const e = new Engine({
      root: path.join(dir, "root"),
      runroot: path.join(dir, "run"),
      defaultNetwork: "none",
    });
    await e.load(fx.dockerArchive("busybox"));
    shared = { engine: e, dir };
  }
  return shared.engine;
}

async function run(opts: Omit<RunOptionsInput, "image">, stdin?: string) {
  const e = await engine();
  const out = collector();
  const err = collector();
  let id = "";
  const code = await e.run({ image: "busybox", rm: true, ...opts }, {
    stdout: out.stream,
    stderr: err.stream,
    stdin: stdin === undefined ? undefined : new Blob([stdin]).stream(),
    onCreated: (i) => id = i,
  });
  assertNothingLeft(e, id);
  return { code, out: out.text(), err: err.text(), id };
}

function assertNothingLeft(e: Engine, id: string): void {
  assert.ok(!fs.existsSync(e.paths.container(id)), "container dir left");
  assert.ok(!fs.existsSync(e.paths.runContainer(id)), "run dir left");
  for (const ctrl of ["memory", "pids", "cpu,cpuacct"]) {
    assert.ok(!fs.existsSync(`/sys/fs/cgroup/${ctrl}/docker-ts/${id}`), `cgroup ${ctrl} left`);
  }
  const mounts = Deno.readTextFileSync("/proc/self/mountinfo");
  assert.ok(!mounts.includes(id), "mount left");
}

Deno.test({
  name: "e2e: echo, exit codes, pid 1, hostname",
  ...needs,
  async fn() {
    const r = await run({
      cmd: ["sh", "-c", "echo hello; echo oops >&2; echo pid=$$; hostname; exit 3"],
    });
    assert.equal(r.code, 3);
    assert.equal(r.out, `hello\npid=1\n${r.id.slice(0, 12)}\n`);
    assert.equal(r.err, "oops\n");
    assert.equal((await run({ cmd: ["true"] })).code, 0);
    // A signal's death is 128+N (a shell child, since PID 1 ignores unhandled signals).
    assert.equal((await run({ cmd: ["sh", "-c", "sh -c 'kill -TERM $$'; exit $?"] })).code, 143);
    const e = await engine();
    const { Id } = await e.create({ image: "busybox", cmd: ["sleep", "30"] });
    await e.start(Id);
    await e.kill(Id, "KILL");
    assert.equal(await e.wait(Id), 137);
    await e.remove(Id);
    assertNothingLeft(e, Id);
  },
});

Deno.test({
  name: "e2e: 127 not found and 126 cannot execute, container removed",
  ...needs,
  async fn() {
    const e = await engine();
    for (const [cmd, code] of [[["nosuchcmd"], 127], [["/etc/passwd"], 126]] as const) {
      let id = "";
      await assert.rejects(
        e.run({ image: "busybox", rm: true, cmd: [...cmd] }, { onCreated: (i) => id = i }),
        (err: unknown) => {
          assert.ok(err instanceof ContainerExecError, String(err));
          assert.equal(err.exitCode, code);
          return true;
        },
      );
      assertNothingLeft(e, id);
    }
  },
});

Deno.test({
  name: "e2e: user, groups, env, workdir, stdin",
  ...needs,
  async fn() {
    const r = await run({
      user: "user",
      env: ["FOO=bar"],
      workdir: "/made/here",
      cmd: ["sh", "-c", "id; echo $FOO $HOME; pwd"],
    });
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      "uid=1000(user) gid=1000(user) groups=50(staff),1000(user)\nbar /home/user\n/made/here\n",
    );
    const s = await run({ interactive: true, cmd: ["cat"] }, "piped in\n");
    assert.equal(s.out, "piped in\n");
  },
});

Deno.test({
  name: "e2e: capabilities, masked paths, read-only /proc/sys",
  ...needs,
  async fn() {
    const r = await run({
      cmd: [
        "sh",
        "-c",
        "grep CapBnd /proc/self/status; cat /proc/kcore | wc -c; echo 1 > /proc/sys/kernel/domainname && echo rw || echo ro",
      ],
    });
    assert.match(r.out, /CapBnd:\t00000000a80425fb\n0\nro\n/);
    const p = await run({ capDrop: ["ALL"], cmd: ["grep", "CapEff", "/proc/self/status"] });
    assert.equal(p.out, "CapEff:\t0000000000000000\n");
  },
});

Deno.test({
  name: "e2e: pids limit stops a fork loop; memory hog is OOM-killed with 137",
  ...needs,
  async fn() {
    const r = await run({
      pidsLimit: 10,
      cmd: ["sh", "-c", "i=0; while [ $i -lt 30 ]; do sleep 5 & i=$((i+1)); done; echo all forked"],
    });
    assert.notEqual(r.code, 0);
    assert.match(r.err, /can't fork|Resource temporarily unavailable/);
    assert.ok(!r.out.includes("all forked"));
    const e = await engine();
    const { Id } = await e.create({
      image: "busybox",
      memory: "16m",
      memorySwap: "16m",
      cmd: ["sh", "-c", "x=a; while true; do x=$x$x; done"],
    });
    await e.start(Id);
    assert.equal(await e.wait(Id), 137);
    const info = await e.inspect(Id);
    assert.equal(info.State.OOMKilled, true);
    assert.equal(info.State.ExitCode, 137);
    await e.remove(Id);
    assertNothingLeft(e, Id);
  },
});

Deno.test({
  name: "e2e: cleanup of the shared engine root",
  ...needs,
  async fn() {
    if (shared) {
      assert.deepEqual((await shared.engine.list({ all: true })).length, 0);
      await Deno.remove(shared.dir, { recursive: true });
      shared = undefined;
    }
  },
});
