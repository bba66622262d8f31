/**
 * The parallel-mount launch (Linux ≥ 6.18): the launch Worker mounts the container's tree while
 * the init boots, /proc mounted with `pidns=`. Checked from inside a busybox container: /proc
 * shows only the container's pids, masks hold, nothing reaches the host — also while the
 * container waits at its start gate — and a mount failure leaves nothing behind.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { launch, LaunchError, workerMountsTree } from "../../src/runtime/launcher.ts";
import { cgroupViewBinds } from "../../src/runtime/init_mounts.ts";
import { reaper } from "../../src/runtime/reaper.ts";
import { createStdio } from "../../src/runtime/stdio.ts";
import {
  childProcesses,
  dockerLikeSpec,
  hostMounts,
  makeBusyboxRoot,
  runContainer,
  type RunResult,
  type TestRoot,
} from "./_launch_helpers.ts";

const need = requires("root", "busybox", "cgroup-v1");

/**
 * Runs like the engine does: a pids cgroup joined in onSpawn and its path handed to the launch,
 * so the Worker mounts the tree (with a new cgroup namespace) instead of the init.
 */
async function run(root: TestRoot, script: string): Promise<RunResult> {
  const cg = `/sys/fs/cgroup/pids/docker-ts-premount-${crypto.randomUUID().slice(0, 8)}`;
  Deno.mkdirSync(cg);
  try {
    Deno.writeTextFileSync(`${cg}/pids.max`, "50");
    const r = await runContainer(root, dockerLikeSpec(root, ["sh", "-c", script]), {
      onSpawn: (pid) => Deno.writeTextFileSync(`${cg}/cgroup.procs`, String(pid)),
      cgroupPaths: { pids: cg },
    });
    assert.ok(r.timings.mountWait !== undefined, "the Worker did not mount the tree");
    return r;
  } finally {
    Deno.removeSync(cg);
  }
}

function kernelAtLeast(major: number, minor: number): boolean {
  const [a, b] = Deno.osRelease().split(".").map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
}

function ptest(name: string, fn: (root: TestRoot) => Promise<void>): void {
  Deno.test({
    name: `launch (worker mounts): ${name}`,
    ...need,
    ignore: need.ignore || !kernelAtLeast(6, 18) ||
      Deno.env.get("DOCKER_TS_LAUNCH") === "two-stage",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const before = hostMounts();
      const root = makeBusyboxRoot();
      try {
        await fn(root);
        assert.deepEqual(hostMounts(), before, "a mount leaked to the host");
        assert.deepEqual(childProcesses(), [], "a container process is still alive or unreaped");
      } finally {
        Deno.removeSync(root.dir, { recursive: true });
      }
    },
  });
}

Deno.test("launch: the Worker mounts unless forced two-stage or the cgroup view needs the init", () => {
  const spec = {
    mounts: [{ destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup" }],
  } as unknown as Parameters<typeof workerMountsTree>[0];
  const saved = Deno.env.get("DOCKER_TS_LAUNCH");
  try {
    Deno.env.delete("DOCKER_TS_LAUNCH");
    assert.equal(workerMountsTree(spec, true, { memory: "/x" }), kernelAtLeast(6, 18));
    assert.equal(workerMountsTree(spec, false, undefined), kernelAtLeast(6, 18));
    // A fresh cgroup mount from the Worker would be rooted at the engine's cgroup namespace.
    assert.equal(workerMountsTree(spec, true, undefined), false);
    Deno.env.set("DOCKER_TS_LAUNCH", "two-stage");
    assert.equal(workerMountsTree(spec, true, { memory: "/x" }), false);
  } finally {
    if (saved === undefined) Deno.env.delete("DOCKER_TS_LAUNCH");
    else Deno.env.set("DOCKER_TS_LAUNCH", saved);
  }
});

Deno.test("launch: cgroupViewBinds binds managed dirs and the caller's cgroup elsewhere", () => {
  const hier = [
    { name: "memory", fstype: "cgroup", options: "memory" },
    { name: "cpu,cpuacct", fstype: "cgroup", options: "cpu,cpuacct" },
    { name: "systemd", fstype: "cgroup", options: "name=systemd" },
    { name: "unified", fstype: "cgroup2", options: "" },
  ];
  const self = "5:memory:/engine\n4:cpu,cpuacct:/\n1:name=systemd:/user.slice\n0::/u\n";
  assert.deepEqual(
    cgroupViewBinds(hier, { memory: "/sys/fs/cgroup/memory/docker-ts/c1" }, self),
    {
      memory: "/sys/fs/cgroup/memory/docker-ts/c1",
      "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
      systemd: "/sys/fs/cgroup/systemd/user.slice",
      unified: "/sys/fs/cgroup/unified/u",
    },
  );
  // A pure v2 host: one hierarchy keyed "".
  assert.deepEqual(
    cgroupViewBinds([{ name: "", fstype: "cgroup2", options: "" }], {}, "0::/a/b\n"),
    { "": "/sys/fs/cgroup/a/b" },
  );
});

function noCgroupNs(root: TestRoot): ReturnType<typeof dockerLikeSpec>["linux"] {
  const linux = dockerLikeSpec(root, ["true"]).linux;
  return { ...linux, namespaces: linux.namespaces.filter((n) => n.type !== "cgroup") };
}

ptest(
  "the cgroup view is the container's own, read-only, from a cgroup namespace",
  async (root) => {
    const r = await run(
      root,
      "grep pids /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max; " +
        "touch /sys/fs/cgroup/pids/x 2>/dev/null && echo rw || echo ro",
    );
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^\d+:pids:\/\n50\nro\n$/);
  },
);

ptest("/proc shows only the container's pids, and pid 1 is the command", async (root) => {
  const script = "ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; echo; cat /proc/1/comm; " +
    "grep ' /proc ' /proc/self/mountinfo | cut -d' ' -f5,9";
  const r = await run(root, script);
  assert.equal(r.exitCode, 0, r.stderr);
  const [pids, comm, procLine] = r.stdout.trim().split("\n");
  const list = pids.trim().split(" ").map(Number);
  assert.ok(list.includes(1), `pid 1 missing from ${pids}`);
  // sh (1) and its pipeline children only: nothing near the host's pid range.
  assert.ok(list.every((p) => p < 20), `host pids visible: ${pids}`);
  assert.ok(!list.includes(Deno.pid) || Deno.pid < 20);
  assert.equal(comm, "sh");
  assert.equal(procLine, "/proc proc");
});

ptest("masks and read-only paths hold; /dev is populated", async (root) => {
  const script = [
    "echo timer=$(cat /proc/timer_list | wc -c)",
    "echo keys=$(cat /proc/keys | wc -c)",
    "echo acpi=$(ls -A /proc/acpi | wc -l)",
    "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo procsys=rw || echo procsys=ro",
    "touch /proc/fs/x 2>/dev/null && echo procfs=rw || echo procfs=ro",
    "ls -l /dev/null | cut -c1",
    "readlink /dev/stdout",
    "readlink /dev/ptmx",
  ].join("; ");
  const r = await run(root, script);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(
    r.stdout,
    "timer=0\nkeys=0\nacpi=0\nprocsys=ro\nprocfs=ro\nc\n/proc/self/fd/1\npts/ptmx\n",
  );
});

ptest(
  "nothing of the tree is visible on the host while the init waits at the gate",
  async (root) => {
    const before = hostMounts();
    const stdio = createStdio({ stdin: "null", stdout: "pipe", stderr: "null" });
    const out = new Response(stdio.stdout).text();
    const proc = await launch({
      id: "premount-gate",
      // No cgroup namespace: the Worker mounts (a fresh cgroup mount there shows the same).
      spec: dockerLikeSpec(root, ["sh", "-c", "echo ok"], { linux: noCgroupNs(root) }),
      rootfs: { type: "bind", source: root.rootfs, options: ["rbind"] },
      runDir: root.runDir,
      stdio,
      reaper: reaper(),
    });
    try {
      assert.ok(proc.timings.mountWait !== undefined, "the Worker should have mounted the tree");
      assert.deepEqual(hostMounts(), before, "the container's mounts are visible on the host");
      // The init's mount namespace has them (it shares the Worker's).
      const inside = Deno.readTextFileSync(`/proc/${proc.pid}/mountinfo`);
      assert.match(inside, / \/proc rw.* - proc proc /m);
      assert.match(inside, / \/dev rw.* - tmpfs tmpfs /m);
      await proc.start();
    } catch (err) {
      proc.kill("SIGKILL");
      throw err;
    } finally {
      const exit = await proc.exited;
      stdio.close();
      assert.equal(exit.exitCode, 0);
    }
    assert.equal(await out, "ok\n");
  },
);

ptest("a mount failure in the Worker is a 125 launch error and leaves nothing", async (root) => {
  const stdio = createStdio({ stdin: "null", stdout: "null", stderr: "null" });
  try {
    await assert.rejects(
      launch({
        id: "premount-fail",
        spec: dockerLikeSpec(root, ["true"], { linux: noCgroupNs(root) }),
        rootfs: { type: "bind", source: `${root.dir}/missing`, options: ["rbind"] },
        runDir: root.runDir,
        stdio,
        reaper: reaper(),
      }),
      (err: unknown) => {
        assert.ok(err instanceof LaunchError);
        assert.equal(err.exitCode, 125);
        assert.match(err.message, /Cannot launch container "premount-fail": Cannot mount/);
        assert.ok(!err.message.includes("\n"));
        return true;
      },
    );
  } finally {
    stdio.close();
  }
  // The reaper resolved the killed init; give it a tick to be collected.
  await new Promise((r) => setTimeout(r, 20));
});
