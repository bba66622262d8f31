import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError } from "../../src/errors.ts";
import { buildSpec, prepareBindSources, resolveCommand } from "../../src/spec/build_spec.ts";
import { parseRunOptions, type RunOptionsInput } from "../../src/spec/run_options.ts";
import { DEFAULT_CAPABILITIES } from "../../src/security/capabilities.ts";

const ID = "0123456789ab" + "c".repeat(52);
const PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
const GROUP = "root:x:0:\nwheel:x:10:app\napp:x:1000:\n";

function build(
  input: Partial<RunOptionsInput>,
  image: Record<string, unknown> = { Cmd: ["sh"] },
  env: Record<string, string> = {},
) {
  return buildSpec({
    id: ID,
    options: parseRunOptions({ image: "busybox", ...input }),
    image,
    readRootfsFile: (p) => (p === "/etc/passwd" ? PASSWD : p === "/etc/group" ? GROUP : null),
    etcFiles: { hostname: "/c/hostname", hosts: "/c/hosts", resolvConf: "/c/resolv.conf" },
    rootfsPath: "/c/merged",
    lookupEnv: (n) => env[n],
    hostHostname: "thehost",
  });
}

// Docker's documented table (docs "Understand how CMD and ENTRYPOINT interact") plus run flags.
Deno.test("entrypoint/cmd merge follows Docker", () => {
  const cases: [Record<string, unknown>, { entrypoint?: string[]; cmd?: string[] }, string[]][] = [
    [{ Cmd: ["exec_cmd", "p1"] }, {}, ["exec_cmd", "p1"]],
    [{ Entrypoint: ["exec_entry", "p1_entry"] }, {}, ["exec_entry", "p1_entry"]],
    [{ Entrypoint: ["exec_entry", "p1_entry"], Cmd: ["exec_cmd", "p1"] }, {}, [
      "exec_entry",
      "p1_entry",
      "exec_cmd",
      "p1",
    ]],
    [{ Entrypoint: ["/bin/sh", "-c", "exec_entry p1_entry"], Cmd: ["exec_cmd"] }, {}, [
      "/bin/sh",
      "-c",
      "exec_entry p1_entry",
      "exec_cmd",
    ]],
    [{ Entrypoint: ["ep"], Cmd: ["c"] }, { cmd: ["a", "b"] }, ["ep", "a", "b"]],
    [{ Cmd: ["c"] }, { cmd: ["a"] }, ["a"]],
    // --entrypoint replaces and resets Cmd
    [{ Entrypoint: ["ep"], Cmd: ["c"] }, { entrypoint: ["/bin/echo"] }, ["/bin/echo"]],
    [{ Entrypoint: ["ep"], Cmd: ["c"] }, { entrypoint: ["/bin/echo"], cmd: ["x"] }, [
      "/bin/echo",
      "x",
    ]],
    // --entrypoint "" clears it; args become the command
    [{ Entrypoint: ["ep"], Cmd: ["c"] }, { entrypoint: [], cmd: ["ls"] }, ["ls"]],
  ];
  for (const [image, user, want] of cases) {
    assert.deepEqual(resolveCommand(image, user).args, want, JSON.stringify({ image, user }));
  }
  for (
    const [image, user] of [[{}, {}], [{ Entrypoint: ["ep"], Cmd: ["c"] }, {
      entrypoint: [],
    }]] as [Record<string, string[]>, { entrypoint?: string[] }][]
  ) {
    assert.throws(() => resolveCommand(image, user), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.message, "No command specified");
      return true;
    });
  }
});

Deno.test("env: default PATH, HOSTNAME, TERM, image env, -e and HOME", () => {
  const s = build({ tty: true, env: ["A=override", "FROM_CALLER", "UNSET"] }, {
    Cmd: ["sh"],
    Env: ["A=image", "B=2"],
  }, { FROM_CALLER: "v" });
  assert.deepEqual(s.process.env, [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOSTNAME=0123456789ab",
    "TERM=xterm",
    "A=override",
    "B=2",
    "FROM_CALLER=v",
    "HOME=/root",
  ]);
  const p = build({}, { Cmd: ["sh"], Env: ["PATH=/custom"] });
  assert.equal(p.process.env[0], "PATH=/custom");
  assert.ok(!p.process.env.includes("TERM=xterm"));
  assert.equal(build({ user: "app" }).process.env.at(-1), "HOME=/home/app");
  assert.equal(build({ user: "4242" }).process.env.at(-1), "HOME=/");
  assert.ok(build({ env: ["HOME=/x"] }).process.env.includes("HOME=/x"));
});

Deno.test("env file lines come before -e", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const f = path.join(dir, "env");
    fs.writeFileSync(f, "A=file\nB=file\n");
    const s = build({ envFile: [f], env: ["B=flag"] });
    assert.ok(s.process.env.includes("A=file"));
    assert.ok(s.process.env.includes("B=flag"));
    assert.ok(!s.process.env.includes("B=file"));
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

Deno.test("user, workdir, hostname, namespaces", () => {
  const s = build({ user: "app" }, { Cmd: ["sh"], WorkingDir: "/srv" });
  // moby: the primary gid leads AdditionalGids (CVE-2022-36109), then memberships.
  assert.deepEqual(s.process.user, { uid: 1000, gid: 1000, additionalGids: [1000, 10] });
  assert.equal(s.process.cwd, "/srv");
  assert.equal(s.process.createCwd, true);
  assert.equal(s.hostname, "0123456789ab");
  assert.deepEqual(s.linux.namespaces.map((n) => n.type).sort(), [
    "cgroup",
    "ipc",
    "mount",
    "network",
    "pid",
    "uts",
  ]);
  const h = build({ network: "host", workdir: "/w", hostname: "named" });
  assert.equal(h.process.cwd, "/w");
  assert.equal(h.hostname, "named");
  assert.ok(!h.linux.namespaces.some((n) => n.type === "network"));
  assert.equal(build({ network: "host" }).hostname, "thehost");
  assert.deepEqual(build({}, { Cmd: ["sh"], User: "app" }).process.user.uid, 1000);
  assert.throws(
    () => build({ user: "nosuch" }),
    /unable to find user nosuch: no matching entries in passwd file/,
  );
});

Deno.test("capabilities: default 14, add/drop/ALL, privileged", () => {
  const caps = (o: Partial<RunOptionsInput>) => build(o).process.capabilities!.bounding!;
  assert.deepEqual(caps({}), [...DEFAULT_CAPABILITIES]);
  assert.equal(caps({}).length, 14);
  assert.ok(caps({ capAdd: ["SYS_ADMIN"] }).includes("CAP_SYS_ADMIN"));
  assert.ok(!caps({ capDrop: ["chown"] }).includes("CAP_CHOWN"));
  assert.deepEqual(caps({ capDrop: ["ALL"], capAdd: ["NET_ADMIN"] }), ["CAP_NET_ADMIN"]);
  const all = caps({ capAdd: ["ALL"], capDrop: ["MKNOD"] });
  assert.ok(all.includes("CAP_SYS_ADMIN") && !all.includes("CAP_MKNOD"));
  assert.throws(() => caps({ capAdd: ["BOGUS"] }), /unknown capability: "CAP_BOGUS"/);
  const p = build({ privileged: true });
  assert.ok(p.process.capabilities!.bounding!.includes("CAP_SYS_ADMIN"));
  assert.deepEqual(p.linux.maskedPaths, []);
  assert.deepEqual(p.linux.readonlyPaths, []);
  assert.ok(!p.mounts.find((m) => m.destination === "/sys")!.options!.includes("ro"));
  assert.ok(p.linux.devices!.length > 6);
  assert.deepEqual(p.linux.resources!.devices, [{ allow: true, access: "rwm" }]);
});

Deno.test("masked and read-only paths, no_new_privs, rlimits", () => {
  const s = build({ securityOpt: ["no-new-privileges"], ulimits: ["nofile=1024:2048", "core=-1"] });
  assert.ok(s.linux.maskedPaths!.includes("/proc/kcore"));
  assert.ok(s.linux.readonlyPaths!.includes("/proc/sys"));
  assert.equal(s.process.noNewPrivileges, true);
  assert.deepEqual(s.process.rlimits, [
    { type: "RLIMIT_NOFILE", soft: 1024, hard: 2048 },
    { type: "RLIMIT_CORE", soft: -1, hard: -1 },
  ]);
  assert.ok(s.mounts.find((m) => m.destination === "/sys")!.options!.includes("ro"));
});

Deno.test("mounts: defaults, shm size, etc files, volumes, tmpfs", () => {
  const s = build({
    volumes: ["/h:/data:ro"],
    tmpfs: ["/run:size=1m"],
    mounts: ["type=tmpfs,target=/dev/shm"],
  });
  const dests = s.mounts.map((m) => m.destination);
  for (
    const d of [
      "/proc",
      "/dev",
      "/dev/pts",
      "/sys",
      "/sys/fs/cgroup",
      "/dev/mqueue",
      "/etc/resolv.conf",
      "/etc/hostname",
      "/etc/hosts",
      "/data",
      "/run",
    ]
  ) assert.ok(dests.includes(d), d);
  assert.equal(dests.filter((d) => d === "/dev/shm").length, 1);
  assert.deepEqual(s.mounts.find((m) => m.destination === "/data"), {
    destination: "/data",
    type: "bind",
    source: "/h",
    options: ["rbind", "ro", "rprivate"],
  });
  assert.ok(s.mounts.find((m) => m.destination === "/run")!.options!.includes("size=1048576"));
  assert.ok(s.mounts.find((m) => m.destination === "/etc/hosts")!.options!.includes("rw"));
  const d = build({ shmSize: "128m", readOnly: true });
  assert.ok(
    d.mounts.find((m) => m.destination === "/dev/shm")!.options!.includes(
      `size=${128 * 1024 ** 2}`,
    ),
  );
  assert.equal(d.root.readonly, true);
  assert.ok(d.mounts.find((m) => m.destination === "/etc/hosts")!.options!.includes("ro"));
  assert.ok(
    build({}).mounts.find((m) => m.destination === "/dev/shm")!.options!.includes("size=67108864"),
  );
});

Deno.test("missing bind sources: -v creates, --mount refuses", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const missing = path.join(dir, "made", "here");
    prepareBindSources(parseRunOptions({ image: "x", volumes: [`${missing}:/d`] }).mounts);
    assert.ok(fs.statSync(missing).isDirectory());
    const other = path.join(dir, "nope");
    assert.throws(
      () =>
        prepareBindSources(
          parseRunOptions({ image: "x", mounts: [`type=bind,source=${other},target=/d`] }).mounts,
        ),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.equal(
          e.message,
          `invalid mount config for type "bind": bind source path does not exist: ${other}`,
        );
        return true;
      },
    );
    assert.ok(!fs.existsSync(other));
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

Deno.test("resources: memory, swap, cpus, shares, cpuset, pids", () => {
  const r = build({ memory: "64m", cpus: "1.5", cpuShares: 512, cpusetCpus: "0", pidsLimit: 50 })
    .linux.resources!;
  assert.deepEqual(r.memory, { limit: 64 * 1024 ** 2, swap: 128 * 1024 ** 2 });
  assert.deepEqual(r.cpu, { period: 100000, quota: 150000, shares: 512, cpus: "0" });
  assert.deepEqual(r.pids, { limit: 50 });
  assert.deepEqual(build({ memory: "64m", memorySwap: "-1" }).linux.resources!.memory, {
    limit: 64 * 1024 ** 2,
    swap: -1,
  });
  assert.deepEqual(
    build({ memory: "64m", memorySwap: "100m" }).linux.resources!.memory!.swap,
    100 * 1024 ** 2,
  );
  const none = build({}).linux.resources!;
  assert.equal(none.memory, undefined);
  assert.equal(none.cpu, undefined);
  assert.equal(none.pids, undefined);
  assert.equal(none.devices![0].allow, false);
});
