/**
 * One conformance suite, run against both drivers over a fake cgroupfs: the same cases, with
 * per-driver expectations of the files written.
 */
import assert from "node:assert/strict";
import { detectCgroupDriver } from "../../src/cgroups/mod.ts";
import type { CgroupDriver } from "../../src/cgroups/mod.ts";
import {
  ConflictError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  NotImplementedError,
} from "../../src/errors.ts";
import { FakeCgroupSys, type FakeOptions } from "./_fake_cgroupfs.ts";

const MiB = 1024 * 1024;
const NAME = "docker-ts/abc123";

/** What differs between the drivers: where things live and how values are spelled. */
interface Flavor {
  label: string;
  version: 1 | 2;
  make(root: string, opts?: FakeOptions): FakeCgroupSys;
  /** Expected files (relative to the root) after a memory limit with this memory+swap total. */
  memory(limit: number | -1, total: number | -1 | undefined): Record<string, string>;
  cpu(shares: number, quota: number, period: number): Record<string, string>;
  cpuset(cpus: string): Record<string, string>;
  pids(limit: number | "max"): Record<string, string>;
  /** cgroup.procs files a joined process appears in. */
  procs(name: string): string[];
  /** Writes fixture counters and returns the stats the driver must report. */
  statsFixture(fake: FakeCgroupSys, name: string): unknown;
  /** Marks an OOM kill in the fixture. */
  markOom(fake: FakeCgroupSys, name: string): void;
  /** Driver-specific structure right after create. */
  checkCreated(fake: FakeCgroupSys, name: string): void;
  /** Whether the container directory exists (in every hierarchy on v1). */
  exists(fake: FakeCgroupSys, name: string): boolean;
}

const V1_HIERARCHIES = ["cpu,cpuacct", "cpuset", "devices", "freezer", "memory", "pids"];

const v1: Flavor = {
  label: "v1",
  version: 1,
  make: (root, opts) => FakeCgroupSys.v1(root, opts),
  memory: (limit, total) => ({
    [`memory/${NAME}/memory.limit_in_bytes`]: String(limit),
    ...(total === undefined
      ? {}
      : { [`memory/${NAME}/memory.memsw.limit_in_bytes`]: String(total) }),
  }),
  cpu: (shares, quota, period) => ({
    [`cpu,cpuacct/${NAME}/cpu.shares`]: String(shares),
    [`cpu,cpuacct/${NAME}/cpu.cfs_quota_us`]: String(quota),
    [`cpu,cpuacct/${NAME}/cpu.cfs_period_us`]: String(period),
  }),
  cpuset: (cpus) => ({ [`cpuset/${NAME}/cpuset.cpus`]: cpus }),
  pids: (limit) => ({ [`pids/${NAME}/pids.max`]: String(limit) }),
  procs: (name) => V1_HIERARCHIES.map((h) => `${h}/${name}/cgroup.procs`),
  statsFixture(fake, name) {
    fake.set(`memory/${name}/memory.usage_in_bytes`, "1048576\n");
    fake.set(`memory/${name}/memory.max_usage_in_bytes`, "2097152\n");
    fake.set(`memory/${name}/memory.failcnt`, "3\n");
    fake.set(`memory/${name}/memory.stat`, "cache 4096\nrss 8192\ntotal_inactive_file 4096\n");
    fake.set(`cpu,cpuacct/${name}/cpuacct.usage`, "5000000\n");
    fake.set(`cpu,cpuacct/${name}/cpuacct.usage_user`, "3000000\n");
    fake.set(`cpu,cpuacct/${name}/cpuacct.usage_sys`, "2000000\n");
    fake.set(`cpu,cpuacct/${name}/cpuacct.usage_percpu`, "4000000 1000000 \n");
    fake.set(`cpu,cpuacct/${name}/cpu.stat`, "nr_periods 10\nnr_throttled 2\nthrottled_time 700\n");
    fake.set(`pids/${name}/pids.current`, "4\n");
    return {
      memory: {
        usage: MiB,
        maxUsage: 2 * MiB,
        limit: 64 * MiB,
        failcnt: 3,
        stats: { cache: 4096, rss: 8192, total_inactive_file: 4096 },
      },
      cpu: {
        usageNs: 5_000_000,
        userNs: 3_000_000,
        systemNs: 2_000_000,
        perCpuNs: [4_000_000, 1_000_000],
        throttling: { periods: 10, throttledPeriods: 2, throttledTimeNs: 700 },
      },
      pids: { current: 4, limit: 50 },
    };
  },
  markOom(fake, name) {
    fake.set(`memory/${name}/memory.oom_control`, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  },
  checkCreated(fake, name) {
    // cpuset values were copied down level by level, so tasks can join.
    assert.equal(fake.get("cpuset/docker-ts/cpuset.cpus").trim(), "0-3");
    assert.equal(fake.get(`cpuset/${name}/cpuset.mems`).trim(), "0");
    // cpu and cpuacct are one mount reached through two symlinks: created once.
    const mkdirs = fake.calls.filter((c) => c.op === "mkdir" && c.path.endsWith(name));
    assert.deepEqual(mkdirs.map((c) => c.path.split("/")[0]).sort(), V1_HIERARCHIES);
    // The cgroup2 mount of a hybrid host is left alone.
    assert.ok(!fake.exists(`${fake.root}/unified/docker-ts`));
  },
  exists: (fake, name) => V1_HIERARCHIES.every((h) => fake.exists(`${fake.root}/${h}/${name}`)),
};

const v2: Flavor = {
  label: "v2",
  version: 2,
  make: (root, opts) => FakeCgroupSys.v2(root, opts),
  memory: (limit, total) => ({
    [`${NAME}/memory.max`]: limit === -1 ? "max" : String(limit),
    ...(total === undefined ? {} : {
      [`${NAME}/memory.swap.max`]: total === -1 ? "max" : String(total - (limit as number)),
    }),
  }),
  cpu: (shares, quota, period) => ({
    [`${NAME}/cpu.weight`]: String(1 + Math.floor(((shares - 2) * 9999) / 262142)),
    [`${NAME}/cpu.max`]: `${quota} ${period}`,
  }),
  cpuset: (cpus) => ({ [`${NAME}/cpuset.cpus`]: cpus }),
  pids: (limit) => ({ [`${NAME}/pids.max`]: String(limit) }),
  procs: (name) => [`${name}/cgroup.procs`],
  statsFixture(fake, name) {
    fake.set(`${name}/memory.current`, "1048576\n");
    fake.set(`${name}/memory.peak`, "2097152\n");
    fake.set(`${name}/memory.events`, "low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n");
    fake.set(`${name}/memory.stat`, "anon 8192\nfile 4096\ninactive_file 4096\n");
    fake.set(
      `${name}/cpu.stat`,
      "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 7\n",
    );
    fake.set(`${name}/pids.current`, "4\n");
    return {
      memory: {
        usage: MiB,
        maxUsage: 2 * MiB,
        limit: 64 * MiB,
        failcnt: 3,
        stats: { anon: 8192, file: 4096, inactive_file: 4096 },
      },
      cpu: {
        usageNs: 5_000_000,
        userNs: 3_000_000,
        systemNs: 2_000_000,
        throttling: { periods: 10, throttledPeriods: 2, throttledTimeNs: 7000 },
      },
      pids: { current: 4, limit: 50 },
    };
  },
  markOom(fake, name) {
    fake.set(`${name}/memory.events`, "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n");
  },
  checkCreated(fake, name) {
    // Controllers enabled top-down; hugetlb/rdma/misc left alone; the leaf enables nothing.
    const wanted = ["cpuset", "cpu", "io", "memory", "pids"];
    assert.deepEqual(fake.get("cgroup.subtree_control").trim().split(" ").sort(), wanted.sort());
    assert.deepEqual(
      fake.get("docker-ts/cgroup.subtree_control").trim().split(" ").sort(),
      wanted.sort(),
    );
    assert.equal(fake.get(`${name}/cgroup.subtree_control`).trim(), "");
  },
  exists: (fake, name) => fake.exists(`${fake.root}/${name}`),
};

/** Each case gets a fresh fake tree and driver; the temp dir is removed afterwards. */
function conformance(
  flavor: Flavor,
  name: string,
  fn: (ctx: { fake: FakeCgroupSys; driver: CgroupDriver }) => void | Promise<void>,
  opts?: FakeOptions,
): void {
  Deno.test(`cgroups ${flavor.label}: ${name}`, async () => {
    const root = await Deno.makeTempDir({ prefix: "docker-ts-cgfake-" });
    try {
      const fake = flavor.make(root, opts);
      const driver = detectCgroupDriver({ root, sys: fake });
      await fn({ fake, driver });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

function assertFiles(fake: FakeCgroupSys, expected: Record<string, string>): void {
  for (const [rel, value] of Object.entries(expected)) {
    assert.equal(fake.get(rel).trim(), value, rel);
  }
}

for (const f of [v1, v2]) {
  conformance(f, "detects its version and creates the container cgroup", ({ fake, driver }) => {
    assert.equal(driver.version, f.version);
    const cg = driver.create(NAME);
    assert.equal(cg.version, f.version);
    assert.equal(cg.name, NAME);
    assert.ok(f.exists(fake, NAME));
    for (const dir of Object.values(cg.paths)) assert.ok(dir.startsWith(fake.root + "/"));
    assert.deepEqual(cg.warnings, []);
    f.checkCreated(fake, NAME);
  });

  conformance(
    f,
    "--memory alone gets memory+swap = 2 x memory (Docker default)",
    ({ fake, driver }) => {
      const cg = driver.create(NAME, { memory: { limit: 64 * MiB } });
      assertFiles(fake, f.memory(64 * MiB, 128 * MiB));
      assert.deepEqual(cg.warnings, []);
    },
  );

  conformance(f, "--memory-swap total and -1 (unlimited swap)", ({ fake, driver }) => {
    const cg = driver.create(NAME, { memory: { limit: 64 * MiB, swap: 100 * MiB } });
    assertFiles(fake, f.memory(64 * MiB, 100 * MiB));
    cg.apply({ memory: { limit: 64 * MiB, swap: -1 } });
    assertFiles(fake, f.memory(64 * MiB, -1));
  });

  conformance(
    f,
    "memory limits are raised and lowered in a kernel-acceptable order",
    ({ fake, driver }) => {
      const cg = driver.create(NAME, { memory: { limit: 64 * MiB, swap: 80 * MiB } });
      cg.apply({ memory: { limit: 512 * MiB, swap: 600 * MiB } }); // raise past the old memsw
      assertFiles(fake, f.memory(512 * MiB, 600 * MiB));
      cg.apply({ memory: { limit: 16 * MiB, swap: 20 * MiB } }); // lower below the old limit
      assertFiles(fake, f.memory(16 * MiB, 20 * MiB));
      cg.apply({ memory: { limit: -1 } }); // unlimited memory implies unlimited swap
      assertFiles(fake, f.memory(-1, -1));
    },
  );

  conformance(
    f,
    "no swap accounting: memory limited without swap, with Docker's warning",
    ({ fake, driver }) => {
      const cg = driver.create(NAME, { memory: { limit: 64 * MiB } });
      assertFiles(fake, f.memory(64 * MiB, undefined));
      assert.equal(cg.warnings.length, 1);
      assert.match(cg.warnings[0], /does not support swap limit/);
    },
    { swap: false },
  );

  conformance(f, "--cpus, --cpu-shares, --cpuset-cpus, --pids-limit", ({ fake, driver }) => {
    const cg = driver.create(NAME, {
      cpu: { shares: 512, quota: 150000, period: 100000, cpus: "0-1" },
      pids: { limit: 50 },
    });
    assertFiles(fake, { ...f.cpu(512, 150000, 100000), ...f.cpuset("0-1"), ...f.pids(50) });
    cg.apply({ pids: { limit: 0 } });
    assertFiles(fake, f.pids("max"));
    cg.apply({ pids: { limit: -1 } });
    assertFiles(fake, f.pids("max"));
  });

  conformance(
    f,
    "device rules: v1 writes them in order at create, v2 warns",
    ({ fake, driver }) => {
      const cg = driver.create(NAME, {
        devices: [
          { allow: false, access: "rwm" },
          { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
          { allow: true, type: "c", access: "m" },
        ],
      });
      const rules = fake.writes().filter((c) => /devices\.(allow|deny)$/.test(c.path));
      if (f.version === 1) {
        assert.deepEqual(rules.map((c) => `${c.path.split("/").at(-1)} ${c.data}`), [
          "devices.deny a",
          "devices.allow c 1:3 rwm",
          "devices.allow c *:* m",
        ]);
        assert.deepEqual(cg.warnings, []);
      } else {
        assert.deepEqual(rules, []);
        assert.match(cg.warnings.join("\n"), /Device rules discarded/);
      }
    },
  );

  conformance(f, "invalid limits are refused before anything is created", ({ fake, driver }) => {
    for (
      const bad of [
        { memory: { limit: 64 * MiB, swap: 32 * MiB } },
        { memory: { limit: 1 * MiB } },
        { memory: { swap: 64 * MiB } },
        { cpu: { cpus: "0-x" } },
        { cpu: { quota: 10 } },
      ]
    ) {
      assert.throws(() => driver.create(NAME, bad), InvalidArgumentError, JSON.stringify(bad));
    }
    assert.equal(fake.calls.length, 0);
  });

  conformance(f, "a refused write rolls the new cgroup back", ({ fake, driver }) => {
    fake.failOn = (op, rel) => (op === "write" && rel.endsWith("pids.max") ? "EINVAL" : undefined);
    assert.throws(() => driver.create(NAME, { pids: { limit: 7 } }), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /^Cannot write "7" to ".*pids\.max": write ".*": EINVAL/);
      return true;
    });
    for (const rel of f.procs(NAME)) assert.ok(!fake.exists(`${fake.root}/${rel}`), rel);
    assert.deepEqual(driver.list(), []);
  });

  conformance(f, "create of an existing cgroup is a conflict; open finds it", ({ driver }) => {
    driver.create(NAME);
    assert.throws(() => driver.create(NAME), ConflictError);
    const again = driver.open(NAME);
    assert.equal(again.name, NAME);
    assert.throws(() => driver.open("docker-ts/nope"), NotFoundError);
    assert.throws(() => driver.open("../escape"), InvalidArgumentError);
    assert.deepEqual(driver.list(), [NAME]);
  });

  conformance(f, "addProcess joins every hierarchy; pids lists them", ({ fake, driver }) => {
    const cg = driver.create(NAME);
    cg.addProcess(4242);
    cg.addProcess(4343);
    for (const rel of f.procs(NAME)) {
      assert.deepEqual(fake.get(rel).trim().split("\n"), ["4242", "4343"], rel);
    }
    assert.deepEqual(cg.pids(), [4242, 4343]);
  });

  conformance(f, "addThread: v1 moves the thread, v2 refuses clearly", ({ fake, driver }) => {
    const cg = driver.create(NAME);
    if (f.version === 1) {
      cg.addThread(777);
      const tasks = fake.writes().filter((c) => c.path.endsWith(`${NAME}/tasks`));
      assert.equal(tasks.length, V1_HIERARCHIES.length);
      assert.ok(tasks.every((c) => c.data === "777"));
    } else {
      assert.throws(() => cg.addThread(777), NotImplementedError);
    }
  });

  conformance(f, "stats report memory, cpu and pids in Docker's units", ({ fake, driver }) => {
    const cg = driver.create(NAME, { memory: { limit: 64 * MiB }, pids: { limit: 50 } });
    const expected = f.statsFixture(fake, NAME);
    assert.deepEqual(cg.stats(), expected);
  });

  conformance(f, "stats of an unlimited cgroup report null limits", ({ driver }) => {
    const s = driver.create(NAME).stats();
    assert.equal(s.memory.limit, null);
    assert.equal(s.pids.limit, null);
  });

  conformance(f, "oomKilled follows the kernel's oom_kill counter", ({ fake, driver }) => {
    const cg = driver.create(NAME, { memory: { limit: 64 * MiB } });
    assert.equal(cg.oomKilled(), false);
    f.markOom(fake, NAME);
    assert.equal(cg.oomKilled(), true);
  });

  conformance(f, "freeze waits until frozen; thaw until thawed", async ({ fake, driver }) => {
    const cg = driver.create(NAME);
    await cg.freeze();
    if (f.version === 1) assert.equal(fake.get(`freezer/${NAME}/freezer.state`).trim(), "FROZEN");
    else assert.match(fake.get(`${NAME}/cgroup.events`), /frozen 1/);
    await cg.thaw();
    if (f.version === 1) assert.equal(fake.get(`freezer/${NAME}/freezer.state`).trim(), "THAWED");
    else assert.match(fake.get(`${NAME}/cgroup.events`), /frozen 0/);
  });

  conformance(
    f,
    "killAll kills every process and waits for an empty cgroup",
    async ({ fake, driver }) => {
      const cg = driver.create(NAME);
      cg.addProcess(4242);
      cg.addProcess(4343);
      await cg.killAll("SIGTERM");
      assert.deepEqual(
        fake.calls.filter((c) => c.op === "kill").map((c) => `${c.path}:${c.data}`),
        ["4242:SIGTERM", "4343:SIGTERM"],
      );
      await cg.killAll();
      assert.deepEqual(cg.pids(), []);
      const killed = fake.calls.filter((c) => c.op === "kill" && c.data === "SIGKILL");
      if (f.version === 1) {
        // freeze → kill each → thaw, so nothing forks in between
        assert.deepEqual(killed.map((c) => c.path), ["4242", "4343"]);
      } else {
        assert.ok(fake.writes().some((c) => c.path === `${NAME}/cgroup.kill` && c.data === "1"));
        assert.equal(killed.length, 0);
      }
    },
  );

  if (f.version === 2) {
    conformance(f, "killAll without cgroup.kill signals each pid", async ({ fake, driver }) => {
      const cg = driver.create(NAME);
      cg.addProcess(4242);
      await cg.killAll();
      assert.deepEqual(
        fake.calls.filter((c) => c.op === "kill").map((c) => `${c.path}:${c.data}`),
        ["4242:SIGKILL"],
      );
    }, { cgroupKill: false });

    conformance(
      f,
      "enabling controllers in a parent that holds processes is a clear error",
      ({ fake, driver }) => {
        fake.set("cgroup.subtree_control", "cpu memory pids\n");
        driver.create("docker-ts/first");
        fake.set("docker-ts/cgroup.procs", "99\n");
        fake.set("docker-ts/cgroup.subtree_control", "\n");
        assert.throws(() => driver.create(NAME), (err: unknown) => {
          assert.ok(err instanceof InvalidStateError);
          assert.match(err.message, /no internal processes rule/);
          return true;
        });
      },
    );
  }

  conformance(
    f,
    "remove deletes the cgroup, keeps the parent, and is idempotent",
    async ({ fake, driver }) => {
      const cg = driver.create(NAME);
      const other = driver.create("docker-ts/other");
      await cg.remove();
      await cg.remove();
      assert.ok(!f.exists(fake, NAME));
      assert.deepEqual(driver.list(), ["docker-ts/other"]);
      await other.remove();
      assert.deepEqual(driver.list(), []);
    },
  );

  conformance(f, "remove takes sub-cgroups with it", async ({ fake, driver }) => {
    const cg = driver.create(NAME);
    const sub = driver.create(`${NAME}/inner`);
    assert.ok(f.exists(fake, `${NAME}/inner`));
    void sub;
    await cg.remove();
    assert.ok(!f.exists(fake, NAME));
  });

  conformance(
    f,
    "remove of a cgroup with live processes fails clearly after retrying",
    async ({ driver }) => {
      const cg = driver.create(NAME);
      cg.addProcess(4242);
      await assert.rejects(cg.remove(), (err: unknown) => {
        assert.ok(err instanceof InvalidStateError);
        assert.match(err.message, /still has processes/);
        return true;
      });
    },
  );
}
