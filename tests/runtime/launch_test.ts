/**
 * The launch path on the real kernel (root): namespaces, rootfs, /proc, /dev, /sys, masks,
 * credentials, capabilities, exit codes — looked at from inside a busybox container — and
 * nothing left on the host afterwards (mounts, processes).
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { launch, LaunchError } from "../../src/runtime/launcher.ts";
import { reaper } from "../../src/runtime/reaper.ts";
import { createStdio } from "../../src/runtime/stdio.ts";
import type { OciSpec } from "../../src/runtime/oci_spec.ts";
import {
  childProcesses,
  dockerLikeSpec,
  hostMounts,
  makeBusyboxRoot,
  runContainer,
  type TestRoot,
} from "./_launch_helpers.ts";

const need = requires("root", "busybox");

/** Runs `fn` with a fresh busybox root; afterwards asserts no mount and no process is left. */
function ctest(name: string, fn: (root: TestRoot) => Promise<void>): void {
  Deno.test({
    name: `launch: ${name}`,
    ...need,
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

function sh(root: TestRoot, script: string, patch: Partial<OciSpec> = {}): OciSpec {
  return dockerLikeSpec(root, ["sh", "-c", script], patch);
}

function threadNamespaces(): string[] {
  return ["pid", "mnt", "uts", "ipc", "net", "cgroup"].map((n) =>
    Deno.readLinkSync(`/proc/thread-self/ns/${n}`)
  );
}

ctest("the engine's main thread keeps its namespaces and root", async (root) => {
  const before = threadNamespaces();
  const r = await runContainer(root, sh(root, "true"));
  assert.equal(r.exitCode, 0);
  assert.deepEqual(threadNamespaces(), before);
  assert.equal(Deno.readLinkSync("/proc/thread-self/root"), "/");
  // The test runner can still create threads (it would abort after a stray CLONE_NEWPID).
  const w = new Worker(new URL("data:text/javascript,postMessage(1)"), { type: "module" });
  await new Promise((res) => (w.onmessage = res));
  w.terminate();
});

ctest("pid 1, hostname, exit code 3 and stdout/stderr apart", async (root) => {
  const r = await runContainer(
    root,
    sh(root, "echo pid=$$; hostname; echo oops >&2; exit 3", { hostname: "box1" }),
  );
  assert.equal(r.error, undefined);
  assert.equal(r.exitCode, 3);
  assert.equal(r.stdout, "pid=1\nbox1\n");
  assert.equal(r.stderr, "oops\n");
  assert.equal(await Deno.stat(`/proc/${r.pid}`).catch(() => null), null, "pid still exists");
});

ctest("exit code 0 and the environment exactly as given", async (root) => {
  const env = ["PATH=/bin", "FOO=bar baz", "EMPTY="];
  const spec = dockerLikeSpec(root, ["env"]);
  spec.process.env = env;
  const r = await runContainer(root, spec);
  assert.equal(r.exitCode, 0);
  assert.deepEqual(r.stdout.trim().split("\n").sort(), [...env].sort());
});

ctest("the mount table inside is Docker's", async (root) => {
  const r = await runContainer(root, sh(root, "cat /proc/self/mountinfo"));
  assert.equal(r.exitCode, 0, r.stderr);
  const mounts = new Map<string, { opts: string; fstype: string; superOpts: string }>();
  for (const line of r.stdout.trim().split("\n")) {
    const [left, right] = line.split(" - ");
    const f = left.split(" ");
    const [fstype, , superOpts] = right.split(" ");
    mounts.set(f[4], { opts: f[5], fstype, superOpts });
  }
  assert.equal(mounts.get("/")?.fstype, "ext4");
  assert.equal(mounts.get("/proc")?.fstype, "proc");
  assert.match(mounts.get("/proc")!.opts, /nosuid,nodev,noexec/);
  assert.equal(mounts.get("/dev")?.fstype, "tmpfs");
  assert.match(mounts.get("/dev")!.superOpts, /mode=755/);
  assert.match(mounts.get("/dev")!.opts, /nosuid/);
  assert.equal(mounts.get("/dev/pts")?.fstype, "devpts");
  assert.match(mounts.get("/dev/pts")!.superOpts, /gid=5,mode=620,ptmxmode=666/);
  assert.equal(mounts.get("/dev/shm")?.fstype, "tmpfs");
  assert.match(mounts.get("/dev/shm")!.superOpts, /size=65536k/);
  assert.equal(mounts.get("/dev/mqueue")?.fstype, "mqueue");
  assert.equal(mounts.get("/sys")?.fstype, "sysfs");
  assert.match(mounts.get("/sys")!.opts, /^ro,/);
  assert.match(mounts.get("/sys/fs/cgroup")!.opts, /^ro,/);
  assert.equal(mounts.get("/sys/fs/cgroup/memory")?.fstype, "cgroup");
  assert.match(mounts.get("/sys/fs/cgroup/memory")!.opts, /^ro,/);
  assert.match(mounts.get("/proc/sys")!.opts, /^ro,nosuid,nodev,noexec/);
  // The host's own mounts are gone after the pivot.
  for (const mp of mounts.keys()) assert.ok(!mp.startsWith(root.dir), `host path visible: ${mp}`);
});

ctest("masked paths read empty; /proc/sys and /sys are read-only", async (root) => {
  const script = [
    "echo keys=$(cat /proc/keys | wc -c)",
    "echo timer=$(cat /proc/timer_list | wc -c)",
    "echo acpi=$(ls -A /proc/acpi | wc -l)",
    "echo firmware=$(ls -A /sys/firmware | wc -l)",
    "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo procsys=rw || echo procsys=ro",
    "touch /sys/x 2>/dev/null && echo sys=rw || echo sys=ro",
    "touch /sys/fs/cgroup/memory/x 2>/dev/null && echo cg=rw || echo cg=ro",
    "touch /x && echo root=rw",
  ].join("; ");
  const r = await runContainer(root, sh(root, script));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(
    r.stdout,
    "keys=0\ntimer=0\nacpi=0\nfirmware=0\nprocsys=ro\nsys=ro\ncg=ro\nroot=rw\n",
  );
});

ctest("devices and /dev links are present", async (root) => {
  const r = await runContainer(
    root,
    sh(
      root,
      "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done; " +
        "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; head -c 4 /dev/zero | wc -c",
    ),
  );
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "/dev/null character special file 1:3 666",
      "/dev/zero character special file 1:5 666",
      "/dev/full character special file 1:7 666",
      "/dev/random character special file 1:8 666",
      "/dev/urandom character special file 1:9 666",
      "/dev/tty character special file 5:0 666",
      "/proc/self/fd",
      "/proc/self/fd/0",
      "/proc/self/fd/1",
      "/proc/self/fd/2",
      "pts/ptmx",
      "4",
      "",
    ].join("\n"),
  );
});

ctest("capabilities match Docker's default 14 (root)", async (root) => {
  const r = await runContainer(root, sh(root, "grep -E '^(Cap|NoNewPrivs)' /proc/self/status"));
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /CapInh:\t0000000000000000/);
  assert.match(r.stdout, /CapPrm:\t00000000a80425fb/);
  assert.match(r.stdout, /CapEff:\t00000000a80425fb/);
  assert.match(r.stdout, /CapBnd:\t00000000a80425fb/);
  assert.match(r.stdout, /CapAmb:\t0000000000000000/);
  assert.match(r.stdout, /NoNewPrivs:\t0/);
});

ctest("user, groups, no_new_privs and a created working directory", async (root) => {
  const spec = sh(
    root,
    "id -u; id -g; id -G; pwd; stat -c %u:%g /work/deep; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status",
  );
  spec.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20] };
  spec.process.cwd = "/work/deep";
  // Created root-owned whatever the user, as Docker's SetupWorkingDirectory does.
  spec.process.createCwd = true;
  spec.process.noNewPrivileges = true;
  const r = await runContainer(root, spec);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(
    r.stdout,
    "1000\n1000\n1000 10 20\n/work/deep\n0:0\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t1\n",
  );
});

ctest("a missing command is 127 with Docker's message", async (root) => {
  const r = await runContainer(root, dockerLikeSpec(root, ["nosuch"]));
  assert.equal(r.exitCode, 127);
  assert.ok(r.error instanceof LaunchError);
  assert.equal(r.error.message, 'exec: "nosuch": executable file not found in $PATH');
  const r2 = await runContainer(root, dockerLikeSpec(root, ["/bin/nosuch"]));
  assert.equal(r2.exitCode, 127);
  assert.equal(r2.error?.message, 'exec: "/bin/nosuch": no such file or directory');
});

ctest("a non-executable file or a directory is 126", async (root) => {
  const r = await runContainer(root, dockerLikeSpec(root, ["/etc/passwd"]));
  assert.equal(r.exitCode, 126);
  assert.equal(r.error?.message, 'exec: "/etc/passwd": permission denied');
  const r2 = await runContainer(root, dockerLikeSpec(root, ["/etc"]));
  assert.equal(r2.exitCode, 126);
  assert.equal(r2.error?.message, 'exec: "/etc": is a directory');
});

ctest("execve refusing a file after the gate is 126 (exec format error)", async (root) => {
  Deno.writeFileSync(path.join(root.rootfs, "bin/garbage"), new Uint8Array([1, 2, 3, 4]), {
    mode: 0o755,
  });
  const r = await runContainer(root, dockerLikeSpec(root, ["garbage"]));
  assert.equal(r.exitCode, 126);
  assert.equal(r.error?.message, 'exec: "garbage": exec format error');
});

ctest("a setup error is one line and exit 125", async (root) => {
  const spec = dockerLikeSpec(root, ["true"]);
  spec.mounts.push({
    destination: "/data",
    type: "bind",
    source: path.join(root.dir, "missing"),
    options: ["rbind"],
  });
  const r = await runContainer(root, spec);
  assert.equal(r.exitCode, 125);
  assert.match(r.error!.message, /^Cannot mount ".*missing" on "\/data": ENOENT/);
  assert.ok(!r.error!.message.includes("\n"));
});

ctest("binds: read-only, and a symlinked destination stays inside the rootfs", async (root) => {
  const hostData = path.join(root.dir, "data");
  Deno.mkdirSync(hostData);
  Deno.writeTextFileSync(path.join(hostData, "f"), "hello");
  // /escape -> <host dir>: resolved on the host it would leave the rootfs.
  const outside = path.join(root.dir, "outside");
  Deno.mkdirSync(outside);
  Deno.symlinkSync(outside, path.join(root.rootfs, "escape"));
  const spec = sh(
    root,
    "cat /data/f; echo; touch /data/g 2>/dev/null || echo ro; cat " + outside + "/m/f",
  );
  spec.mounts.push(
    { destination: "/data", type: "bind", source: hostData, options: ["rbind", "ro"] },
    { destination: "/escape/m", type: "bind", source: hostData, options: ["rbind"] },
  );
  const r = await runContainer(root, spec);
  assert.equal(r.exitCode, 0, r.error?.message ?? r.stderr);
  assert.equal(r.stdout, "hello\nro\nhello");
  assert.deepEqual([...Deno.readDirSync(outside)], [], "the bind escaped to the host");
  assert.ok(Deno.statSync(path.join(root.rootfs, outside, "m")).isDirectory);
});

ctest("read-only rootfs, tmpfs mounts and rlimits", async (root) => {
  const spec = sh(
    root,
    "touch /x 2>/dev/null || echo rootro; touch /scratch/y && echo tmpfs; ulimit -n; ulimit -Hn",
  );
  spec.root.readonly = true;
  spec.mounts.push({
    destination: "/scratch",
    type: "tmpfs",
    source: "tmpfs",
    options: ["size=1m"],
  });
  spec.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 100, hard: 200 }];
  const r = await runContainer(root, spec);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, "rootro\ntmpfs\n100\n200\n");
});

ctest(
  "raising an rlimit above the hard limit fails clearly (no CAP_SYS_RESOURCE)",
  async (root) => {
    const caps = Deno.readTextFileSync("/proc/self/status").match(/CapEff:\s*([0-9a-f]+)/)![1];
    if ((BigInt("0x" + caps) & (1n << 24n)) !== 0n) return; // this host's root can raise it
    const spec = dockerLikeSpec(root, ["true"]);
    spec.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 1 << 30, hard: 1 << 30 }];
    const r = await runContainer(root, spec);
    assert.equal(r.exitCode, 125);
    assert.match(r.error!.message, /^Cannot set RLIMIT_NOFILE .*CAP_SYS_RESOURCE/);
  },
);

ctest("create then start keeps one pid; the init waits on the gate", async (root) => {
  const stdio = createStdio({ stdin: "null", stdout: "pipe", stderr: "null" });
  const out = new Response(stdio.stdout).text();
  const proc = await launch({
    id: "gate",
    spec: dockerLikeSpec(root, ["sh", "-c", "echo started"]),
    rootfs: { type: "bind", source: root.rootfs, options: ["rbind"] },
    runDir: root.runDir,
    stdio,
    reaper: reaper(),
  });
  await new Promise((r) => setTimeout(r, 100));
  const before = Deno.readTextFileSync(`/proc/${proc.pid}/cmdline`);
  assert.match(before, /init\.ts/, "the init must still wait before start()");
  assert.ok(proc.startTime > 0);
  await proc.start();
  const exit = await proc.exited;
  assert.equal(exit.exitCode, 0);
  assert.equal(await out, "started\n");
});

ctest("kill before start ends the init (143)", async (root) => {
  const stdio = createStdio({ stdin: "null", stdout: "null", stderr: "null" });
  const proc = await launch({
    id: "kill",
    spec: dockerLikeSpec(root, ["true"]),
    rootfs: { type: "bind", source: root.rootfs, options: ["rbind"] },
    runDir: root.runDir,
    stdio,
    reaper: reaper(),
  });
  proc.kill("SIGKILL");
  const exit = await proc.exited;
  assert.equal(exit.exitCode, 137);
  await assert.rejects(proc.start());
});

ctest("network none: only loopback, and it is up", async (root) => {
  const r = await runContainer(
    root,
    sh(root, "cat /proc/net/dev | tail -n +3 | cut -d: -f1; cat /sys/class/net/lo/flags"),
  );
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split(/\s+/), ["lo", "0x9"]);
});

ctest("a terminal: setsid, controlling tty on 0-2 and /dev/console bound to it", async (root) => {
  const stdio = createStdio({
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    tty: { rows: 24, cols: 80 },
  });
  const out = new Response(stdio.stdout).text();
  const spec = sh(
    root,
    "test -t 0 && test -t 1 && echo tty; stat -c %F /dev/console; " +
      "[ $(stat -c %t:%T /dev/console) = $(stat -L -c %t:%T /proc/self/fd/0) ] && echo same",
  );
  spec.process.terminal = true;
  const proc = await launch({
    id: "tty",
    spec,
    rootfs: { type: "bind", source: root.rootfs, options: ["rbind"] },
    runDir: root.runDir,
    stdio,
    reaper: reaper(),
  });
  await proc.start();
  const exit = await proc.exited;
  await stdio.stdin?.close().catch(() => undefined);
  stdio.close();
  assert.equal(exit.exitCode, 0);
  assert.equal((await out).replaceAll("\r", ""), "tty\ncharacter special file\nsame\n");
});

ctest("onSpawn joins a v1 cgroup; the cgroup namespace starts there", async (root) => {
  const cg = `/sys/fs/cgroup/pids/docker-ts-launch-test-${crypto.randomUUID().slice(0, 8)}`;
  Deno.mkdirSync(cg);
  try {
    Deno.writeTextFileSync(`${cg}/pids.max`, "50");
    const r = await runContainer(
      root,
      sh(root, "grep pids /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max"),
      {
        onSpawn: (pid) => Deno.writeTextFileSync(`${cg}/cgroup.procs`, String(pid)),
      },
    );
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^\d+:pids:\/\n50\n$/);
  } finally {
    Deno.removeSync(cg);
  }
});

ctest("a failing onSpawn aborts the launch and leaves nothing", async (root) => {
  const r = await runContainer(root, dockerLikeSpec(root, ["true"]), {
    onSpawn: () => {
      throw new Error("no cgroup for you");
    },
  });
  assert.equal(r.exitCode, 125);
  assert.match(r.error!.message, /no cgroup for you/);
});

ctest(
  "per-container /etc/hostname, /etc/hosts and /etc/resolv.conf are bound files",
  async (root) => {
    const files: Record<string, string> = {
      hostname: "box2\n",
      hosts: "127.0.0.1 localhost\n",
      "resolv.conf": "nameserver 127.0.0.53\n",
    };
    const spec = sh(
      root,
      "cat /etc/hostname /etc/hosts /etc/resolv.conf; echo x >> /etc/hosts && echo rw",
    );
    for (const [name, text] of Object.entries(files)) {
      const src = path.join(root.dir, name);
      Deno.writeTextFileSync(src, text);
      spec.mounts.push({
        destination: `/etc/${name}`,
        type: "bind",
        source: src,
        options: ["rbind", "rprivate"],
      });
    }
    const r = await runContainer(root, spec);
    assert.equal(r.exitCode, 0, r.error?.message ?? r.stderr);
    assert.equal(r.stdout, Object.values(files).join("") + "rw\n");
    assert.equal(Deno.readTextFileSync(path.join(root.dir, "hosts")), files.hosts + "x\n");
    // In the rootfs only an empty mount point was created (in the upper dir with overlay).
    assert.equal(Deno.statSync(path.join(root.rootfs, "etc/hostname")).size, 0);
  },
);

ctest("sysctls are written inside the container's namespaces", async (root) => {
  const spec = sh(root, "cat /proc/sys/kernel/shm_rmid_forced");
  spec.linux.sysctl = { "kernel.shm_rmid_forced": "1" };
  const r = await runContainer(root, spec);
  assert.equal(r.exitCode, 0, r.error?.message ?? r.stderr);
  assert.equal(r.stdout, "1\n");
  assert.equal(Deno.readTextFileSync("/proc/sys/kernel/shm_rmid_forced").trim(), "0");
});

ctest("network host: no network namespace, the host's interfaces", async (root) => {
  const spec = sh(root, "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | wc -l");
  spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== "network");
  const r = await runContainer(root, spec);
  assert.equal(r.exitCode, 0, r.error?.message ?? r.stderr);
  const hostCount = Deno.readTextFileSync("/proc/net/dev").trim().split("\n").length - 2;
  assert.equal(Number(r.stdout.trim()), hostCount);
});

ctest("a namespace with a path is joined (uts of another container)", async (root) => {
  // A first container holds a uts namespace with hostname "first" while we join it.
  const stdio = createStdio({ stdin: "null", stdout: "null", stderr: "null" });
  const first = await launch({
    id: "first",
    spec: dockerLikeSpec(root, ["sleep", "30"], { hostname: "first" }),
    rootfs: { type: "bind", source: root.rootfs, options: ["rbind"] },
    runDir: root.runDir,
    stdio,
    reaper: reaper(),
  });
  try {
    await first.start();
    const second = makeBusyboxRoot();
    try {
      const spec = sh(second, "hostname", { hostname: undefined });
      spec.linux.namespaces = spec.linux.namespaces.map((n) =>
        n.type === "uts" ? { type: "uts", path: `/proc/${first.pid}/ns/uts` } : n
      );
      const r = await runContainer(second, spec);
      assert.equal(r.exitCode, 0, r.error?.message ?? r.stderr);
      assert.equal(r.stdout, "first\n");
    } finally {
      Deno.removeSync(second.dir, { recursive: true });
    }
  } finally {
    first.kill("SIGKILL");
    await first.exited;
  }
});

Deno.test({
  name: "launch: an overlay rootfs is mounted in the container only; writes land in upper",
  ...requires("root", "busybox", "overlay"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const before = hostMounts();
    const root = makeBusyboxRoot();
    try {
      const upper = path.join(root.dir, "upper");
      const work = path.join(root.dir, "work");
      Deno.mkdirSync(upper);
      Deno.mkdirSync(work);
      const stdio = createStdio({ stdin: "null", stdout: "pipe", stderr: "pipe" });
      const out = new Response(stdio.stdout).text();
      const err = new Response(stdio.stderr).text();
      const proc = await launch({
        id: "overlay",
        spec: sh(root, "echo new > /created; head -n 1 /proc/self/mountinfo | cut -d' ' -f8"),
        rootfs: {
          type: "overlay",
          source: "overlay",
          options: [`lowerdir=${root.rootfs}`, `upperdir=${upper}`, `workdir=${work}`],
        },
        runDir: root.runDir,
        stdio,
        reaper: reaper(),
      });
      await proc.start();
      assert.equal((await proc.exited).exitCode, 0, await err);
      assert.equal(await out, "overlay\n");
      assert.equal(Deno.readTextFileSync(path.join(upper, "created")), "new\n");
      assert.throws(() => Deno.statSync(path.join(root.rootfs, "created")));
      assert.deepEqual(hostMounts(), before, "a mount leaked to the host");
    } finally {
      Deno.removeSync(root.dir, { recursive: true });
    }
  },
});

ctest(
  "without a cgroup namespace, cgroupPaths are bound read-only at /sys/fs/cgroup",
  async (root) => {
    const cg = `/sys/fs/cgroup/pids/docker-ts-launch-test-${crypto.randomUUID().slice(0, 8)}`;
    Deno.mkdirSync(cg);
    try {
      Deno.writeTextFileSync(`${cg}/pids.max`, "42");
      const stdio = createStdio({ stdin: "null", stdout: "pipe", stderr: "pipe" });
      const out = new Response(stdio.stdout).text();
      const err = new Response(stdio.stderr).text();
      const spec = sh(
        root,
        "cat /sys/fs/cgroup/pids/pids.max; echo 1 > /sys/fs/cgroup/pids/pids.max || echo ro",
      );
      spec.linux.namespaces = spec.linux.namespaces.filter((n) => n.type !== "cgroup");
      const stages: string[] = [];
      const proc = await launch({
        id: "cgbind",
        spec,
        rootfs: { type: "bind", source: root.rootfs, options: ["rbind"] },
        runDir: root.runDir,
        stdio,
        cgroupPaths: { pids: cg },
        onSpawn: (pid) => Deno.writeTextFileSync(`${cg}/cgroup.procs`, String(pid)),
        onTiming: (stage) => stages.push(stage),
      });
      await proc.start();
      assert.equal((await proc.exited).exitCode, 0);
      assert.match(await out, /^42\nro\n$/);
      assert.match(await err, /Read-only file system/);
      assert.ok(
        stages.includes("launch.initBoot") && stages.includes("launch.exec"),
        String(stages),
      );
    } finally {
      Deno.removeSync(cg);
    }
  },
);
