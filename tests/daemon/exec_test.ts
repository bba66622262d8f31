/**
 * exec into a running container: same namespaces, capabilities, cgroup and user as its first
 * process; 126/127 for commands that cannot run; -u, -w, -e, --privileged, -d. Root, cgroup v1.
 */
import assert from "node:assert/strict";
import { ContainerExecError } from "../../src/engine_api.ts";
import type { Engine } from "../../src/engine.ts";
import { requires } from "../_helpers/requires.ts";
import { collector } from "../engine/_fakes.ts";
import { tempEngine, until } from "./_engine.ts";

const needs = requires("root", "overlay", "cgroup-v1");

async function execOut(
  e: Engine,
  id: string,
  cmd: string[],
  extra: { user?: string; workdir?: string; env?: string[]; privileged?: boolean } = {},
): Promise<{ code: number; out: string; err: string }> {
  const execId = await e.execCreate(id, { cmd, ...extra });
  const out = collector();
  const err = collector();
  await e.execStart(execId, { stdout: out.stream, stderr: err.stream });
  const code = (await e.execInspect(execId)).ExitCode!;
  return { code, out: out.text(), err: err.text() };
}

Deno.test({
  name: "exec: same namespaces, caps and cgroup as pid 1; exit codes; user/workdir/env",
  ...needs,
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        capDrop: ["NET_RAW"],
        env: ["FOO=bar"],
        cmd: ["sleep", "600"],
      });
      await e.start(id);
      const pid = (await e.inspect(id)).State.Pid;
      const probe = [
        "sh",
        "-c",
        "for n in ipc mnt net pid uts cgroup; do echo $n $(readlink /proc/self/ns/$n); done; grep CapEff /proc/self/status; grep CapBnd /proc/self/status; cat /proc/self/cgroup | grep memory; echo FOO=$FOO",
      ];
      const r = await execOut(e, id, probe);
      assert.equal(r.code, 0, r.err);
      for (const n of ["ipc", "mnt", "net", "pid", "uts", "cgroup"]) {
        const theirs = Deno.readLinkSync(`/proc/${pid}/ns/${n}`);
        assert.ok(r.out.includes(`${n} ${theirs}`), `${n}: ${r.out}`);
      }
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      const capEff = /CapEff:\s*(\w+)/.exec(status)![1];
      const capBnd = /CapBnd:\s*(\w+)/.exec(status)![1];
      assert.ok(r.out.includes(`CapEff:\t${capEff}`), r.out);
      assert.ok(r.out.includes(`CapBnd:\t${capBnd}`), r.out);
      const cg = Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n").find((l) =>
        l.includes("memory")
      )!;
      assert.ok(r.out.includes(cg.split(":").slice(0, 2).join(":")), r.out);
      // The host sees the exec in the container's memory cgroup.
      assert.ok(r.out.includes("FOO=bar"));

      // pid namespace: the exec sees the container's pid 1
      const ps = await execOut(e, id, ["cat", "/proc/1/cmdline"]);
      assert.equal(ps.out.replaceAll("\0", " ").trim(), "sleep 600");

      const nf = await e.execCreate(id, { cmd: ["nosuch"] });
      await assert.rejects(e.execStart(nf), (err: unknown) => {
        assert.ok(err instanceof ContainerExecError);
        assert.equal(err.exitCode, 127);
        assert.match(err.message, /executable file not found/);
        return true;
      });
      assert.equal((await e.execInspect(nf)).ExitCode, 127);
      const ne = await e.execCreate(id, { cmd: ["/etc/passwd"] });
      await assert.rejects(e.execStart(ne), (err: unknown) => {
        assert.ok(err instanceof ContainerExecError);
        assert.equal(err.exitCode, 126);
        return true;
      });
      const ex = await execOut(e, id, ["sh", "-c", "exit 7"]);
      assert.equal(ex.code, 7);

      const u = await execOut(e, id, [
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $X; grep CapEff /proc/self/status",
      ], {
        user: "nobody",
        workdir: "/tmp",
        env: ["X=y"],
      });
      assert.equal(u.out.split("\n").slice(0, 4).join(","), "65534,65534,/tmp,y");
      assert.match(u.out, /CapEff:\s*0000000000000000/);
      const priv = await execOut(e, id, ["grep", "CapEff", "/proc/self/status"], {
        privileged: true,
      });
      assert.doesNotMatch(priv.out, new RegExp(capEff));

      // -d: returns at once; the process runs in the container
      const d = await e.execCreate(id, { cmd: ["sh", "-c", "echo bg > /tmp/bg; sleep 0.2"] });
      await e.execStart(d, { detach: true });
      assert.equal((await e.execInspect(d)).Running, true);
      await e.execWait(d);
      const bg = await execOut(e, id, ["cat", "/tmp/bg"]);
      assert.equal(bg.out, "bg\n");

      await e.stop(id, { timeout: 0 });
      await assert.rejects(e.execCreate(id, { cmd: ["true"] }), /is not running/);
      await until(() => true);
    } finally {
      await t.cleanup();
    }
  },
});
