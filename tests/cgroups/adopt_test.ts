/**
 * CgroupDriver.adopt: the warm init's cgroup renamed to the container's. Both drivers over the
 * fake cgroupfs (renames in every hierarchy, limits, NotFound/Conflict, rollback when a rename or
 * a limit fails), then the real kernel: v1 on this hybrid host under a unique parent, and the
 * cgroup2 mount, which refuses renames (so the v2 driver declines to adopt: `canAdopt` false).
 */
import assert from "node:assert/strict";
import { V1Driver } from "../../src/cgroups/v1.ts";
import { V2Driver } from "../../src/cgroups/v2.ts";
import type { CgroupDriver, CgroupHandle } from "../../src/cgroups/mod.ts";
import {
  ConflictError,
  DockerTsError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
  NotImplementedError,
} from "../../src/errors.ts";
import { requires } from "../_helpers/requires.ts";
import { FakeCgroupSys } from "./_fake_cgroupfs.ts";
import { readTrim, withRealCgroups } from "./_real.ts";

const MiB = 1024 * 1024;
const WARM = "docker-ts/warm-4242";
const NAME = "docker-ts/abc123";
const PID = "4242";
const V1_HIERARCHIES = ["cpu,cpuacct", "cpuset", "devices", "freezer", "memory", "pids"];

/** A fake tree, its driver, and a warm cgroup holding PID; the temp dir goes afterwards. */
async function withFake(
  version: 1 | 2,
  fn: (fake: FakeCgroupSys, driver: CgroupDriver, warm: CgroupHandle) => void | Promise<void>,
  opts: Parameters<typeof FakeCgroupSys.v1>[1] = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dts-adopt-" });
  try {
    const fake = version === 1 ? FakeCgroupSys.v1(dir, opts) : FakeCgroupSys.v2(dir, opts);
    const driver = version === 1
      ? new V1Driver({ root: dir, sys: fake })
      : new V2Driver({ root: dir, sys: fake });
    const warm = driver.create(WARM);
    warm.addProcess(Number(PID));
    fake.calls.length = 0;
    await fn(fake, driver, warm);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function exists(fake: FakeCgroupSys, rel: string): boolean {
  return fake.exists(`${fake.root}/${rel}`);
}

function procs(fake: FakeCgroupSys, rel: string): string[] {
  return fake.get(`${rel}/cgroup.procs`).split("\n").filter((l) => l);
}

const resources = { memory: { limit: 64 * MiB }, pids: { limit: 20 } };

// ---------------------------------------------------------------------------------------------
// v1 over the fake

Deno.test("adopt v1 (fake): renames in every hierarchy, processes come along, limits applied", async () => {
  await withFake(1, (fake, driver) => {
    const cg = driver.adopt(WARM, NAME, resources);
    const renames = fake.calls.filter((c) => c.op === "rename");
    assert.deepEqual(
      renames.map((c) => [c.path, c.data]),
      V1_HIERARCHIES.map((h) => [`${h}/${WARM}`, `${h}/${NAME}`]),
    );
    // No mkdir, no cgroup.procs write: the point is to avoid the migration.
    assert.deepEqual(fake.calls.filter((c) => c.op === "mkdir"), []);
    assert.ok(!fake.writes().some((c) => /cgroup\.procs|tasks/.test(c.path)));
    for (const h of V1_HIERARCHIES) {
      assert.ok(!exists(fake, `${h}/${WARM}`), `${h} source left`);
      assert.deepEqual(procs(fake, `${h}/${NAME}`), [PID], h);
    }
    assert.equal(fake.get(`memory/${NAME}/memory.limit_in_bytes`).trim(), String(64 * MiB));
    assert.equal(fake.get(`pids/${NAME}/pids.max`).trim(), "20");
    assert.equal(cg.name, NAME);
    assert.equal(cg.version, 1);
    assert.deepEqual(Object.keys(cg.paths).sort(), V1_HIERARCHIES);
    for (const h of V1_HIERARCHIES) assert.equal(cg.paths[h], `${fake.root}/${h}/${NAME}`);
    assert.deepEqual(cg.pids(), [Number(PID)]);
    // The adopted cgroup is an ordinary one afterwards: open finds it, list shows it.
    assert.equal(driver.open(NAME).name, NAME);
    assert.deepEqual(driver.list(), [NAME]);
  });
});

Deno.test("adopt v1 (fake): no resources renames only", async () => {
  await withFake(1, (fake, driver) => {
    driver.adopt(WARM, NAME);
    assert.equal(fake.calls.filter((c) => c.op === "rename").length, V1_HIERARCHIES.length);
    assert.equal(
      fake.get(`memory/${NAME}/memory.limit_in_bytes`).trim(),
      "9223372036854771712",
      "no limit written",
    );
  });
});

Deno.test("adopt v1 (fake): a missing source is NotFound, an existing target Conflict; nothing renamed", async () => {
  await withFake(1, (fake, driver) => {
    assert.throws(() => driver.adopt("docker-ts/warm-1", NAME), (err: unknown) => {
      assert.ok(err instanceof NotFoundError, String(err));
      assert.equal(
        err.message,
        `Cannot adopt cgroup "docker-ts/warm-1": not found in every hierarchy`,
      );
      return true;
    });
    driver.create(NAME);
    fake.calls.length = 0;
    assert.throws(() => driver.adopt(WARM, NAME, resources), (err: unknown) => {
      assert.ok(err instanceof ConflictError, String(err));
      assert.match(err.message, /already exists/);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
    assert.deepEqual(fake.calls, [], "no rename and no write on a refused adopt");
    for (const h of V1_HIERARCHIES) assert.deepEqual(procs(fake, `${h}/${WARM}`), [PID]);
  });
});

Deno.test("adopt v1 (fake): a target existing in one hierarchy only is a Conflict too", async () => {
  await withFake(1, (fake, driver) => {
    Deno.mkdirSync(`${fake.root}/pids/${NAME}`);
    assert.throws(() => driver.adopt(WARM, NAME), ConflictError);
    assert.equal(fake.calls.filter((c) => c.op === "rename").length, 0);
  });
});

Deno.test("adopt v1 (fake): invalid names are InvalidArgument before any call", async () => {
  await withFake(1, (fake, driver) => {
    for (const [from, to] of [["../x", NAME], [WARM, "docker-ts/../etc"], [WARM, ""]]) {
      assert.throws(() => driver.adopt(from, to), InvalidArgumentError, `${from} → ${to}`);
    }
    assert.deepEqual(fake.calls, []);
  });
});

Deno.test("adopt v1 (fake): a failed rename puts the renamed hierarchies back", async () => {
  await withFake(1, (fake, driver) => {
    fake.failOn = (op, rel) => op === "rename" && rel === `memory/${WARM}` ? "EBUSY" : undefined;
    assert.throws(() => driver.adopt(WARM, NAME, resources), (err: unknown) => {
      assert.ok(err instanceof InvalidStateError, String(err));
      assert.match(err.message, /^Cannot rename cgroup ".*\/memory\/docker-ts\/warm-4242": /);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
    const renames = fake.calls.filter((c) => c.op === "rename").map((c) => [c.path, c.data]);
    const before = V1_HIERARCHIES.slice(0, V1_HIERARCHIES.indexOf("memory"));
    assert.deepEqual(renames, [
      ...before.map((h) => [`${h}/${WARM}`, `${h}/${NAME}`]),
      [`memory/${WARM}`, `memory/${NAME}`], // the failed one
      ...before.reverse().map((h) => [`${h}/${NAME}`, `${h}/${WARM}`]),
    ]);
    for (const h of V1_HIERARCHIES) {
      assert.ok(!exists(fake, `${h}/${NAME}`), `${h} target left`);
      assert.deepEqual(procs(fake, `${h}/${WARM}`), [PID], `${h} source restored`);
    }
    assert.ok(!fake.writes().length, "no limit written");
  });
});

Deno.test("adopt v1 (fake): a failed limit renames everything back", async () => {
  await withFake(1, (fake, driver) => {
    fake.failOn = (op, rel) =>
      op === "write" && rel === `pids/${NAME}/pids.max` ? "EINVAL" : undefined;
    assert.throws(() => driver.adopt(WARM, NAME, resources), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(err.message, /pids\.max/);
      return true;
    });
    const back = fake.calls.filter((c) => c.op === "rename" && c.path.endsWith(NAME));
    assert.equal(back.length, V1_HIERARCHIES.length, "every hierarchy renamed back");
    for (const h of V1_HIERARCHIES) {
      assert.ok(!exists(fake, `${h}/${NAME}`), `${h} target left`);
      assert.deepEqual(procs(fake, `${h}/${WARM}`), [PID], h);
    }
    // A second attempt without the failure works: the rollback left a clean state.
    fake.failOn = undefined;
    driver.adopt(WARM, NAME, resources);
    assert.equal(fake.get(`pids/${NAME}/pids.max`).trim(), "20");
  });
});

Deno.test("adopt v1 (fake): a source missing from one hierarchy is refused, nothing renamed", async () => {
  await withFake(1, (fake, driver) => {
    // The warm cgroup lost its memory directory (e.g. removed by someone else's cleanup):
    // adopting it would leave the container without a memory cgroup, so it is refused (the
    // engine then starts the container in a fresh cgroup).
    Deno.removeSync(`${fake.root}/memory/${WARM}`, { recursive: true });
    assert.throws(() => driver.adopt(WARM, NAME, resources), NotFoundError);
    assert.ok(!fake.calls.some((c) => c.op === "rename"));
    assert.ok(!exists(fake, `cpuset/${NAME}`));
  });
});

// ---------------------------------------------------------------------------------------------
// v2 over the fake

Deno.test("adopt v2 (fake): cgroup2 has no rename, so v2 declines to adopt and touches nothing", async () => {
  await withFake(2, (fake, driver) => {
    assert.equal(driver.canAdopt, false);
    assert.throws(() => driver.adopt(WARM, NAME, resources), NotImplementedError);
    assert.ok(!fake.calls.some((c) => c.op === "rename"));
    assert.ok(!fake.writes().length);
    assert.ok(exists(fake, WARM) && !exists(fake, NAME));
    assert.deepEqual(procs(fake, WARM), [PID]);
  });
  await withFake(1, (_fake, driver) => assert.equal(driver.canAdopt, true));
});

// ---------------------------------------------------------------------------------------------
// The real kernel

const ROOT = "/sys/fs/cgroup";

function cgroupPathOf(pid: number, controller: string): string | undefined {
  return Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n")
    .find((l) => l.split(":")[1]?.split(",").includes(controller))?.split(":")[2];
}

function dirExists(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

Deno.test({
  name: "adopt v1 (real): a live process's cgroup renamed in every hierarchy, limit enforced",
  ...requires("root", "cgroup-v1", "busybox"),
  fn: () =>
    withRealCgroups(ROOT, (fx) => {
      const warm = fx.create("warm-1");
      const child = fx.spawn(["sleep", "30"]);
      warm.addProcess(child.pid);
      const controllers = ["memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices"];
      for (const c of controllers) {
        assert.equal(cgroupPathOf(child.pid, c), `/${fx.name("warm-1")}`, c);
      }
      const cg = fx.driver.adopt(fx.name("warm-1"), fx.name("ctr"), {
        memory: { limit: 64 * MiB },
        pids: { limit: 20 },
      });
      fx.handles.push(cg);
      for (const c of controllers) {
        assert.equal(cgroupPathOf(child.pid, c), `/${fx.name("ctr")}`, c);
        assert.ok(!dirExists(`${ROOT}/${c}/${fx.name("warm-1")}`), `${c} source left`);
      }
      assert.equal(
        readTrim(`${ROOT}/memory/${fx.name("ctr")}/memory.limit_in_bytes`),
        String(64 * MiB),
      );
      assert.equal(readTrim(`${ROOT}/pids/${fx.name("ctr")}/pids.max`), "20");
      assert.deepEqual(cg.pids(), [child.pid]);
      for (const [key, dir] of Object.entries(cg.paths)) {
        assert.ok(dirExists(dir), `${key}: ${dir}`);
      }
    }),
});

Deno.test({
  name: "adopt v1 (real): a limit the kernel refuses rolls every rename back",
  ...requires("root", "cgroup-v1", "busybox"),
  fn: () =>
    withRealCgroups(ROOT, (fx) => {
      const warm = fx.create("warm-2");
      const child = fx.spawn(["sleep", "30"]);
      warm.addProcess(child.pid);
      // A CPU this machine does not have: the kernel answers EINVAL to cpuset.cpus.
      const cpus = String(navigator.hardwareConcurrency + 64);
      assert.throws(
        () => fx.driver.adopt(fx.name("warm-2"), fx.name("ctr2"), { cpu: { cpus } }),
        (err: unknown) => {
          assert.ok(err instanceof DockerTsError, String(err));
          assert.match(err.message, /cpuset\.cpus/);
          return true;
        },
      );
      for (const c of ["memory", "cpu", "cpuset", "pids", "freezer"]) {
        assert.equal(cgroupPathOf(child.pid, c), `/${fx.name("warm-2")}`, c);
        assert.ok(!dirExists(`${ROOT}/${c}/${fx.name("ctr2")}`), `${c} target left`);
      }
    }),
});

Deno.test({
  name: "adopt v1 (real): a different parent is refused by the kernel, nothing stays renamed",
  ...requires("root", "cgroup-v1", "busybox"),
  fn: () =>
    withRealCgroups(ROOT, (fx) => {
      const warm = fx.create("warm-3");
      fx.create("other");
      const child = fx.spawn(["sleep", "30"]);
      warm.addProcess(child.pid);
      assert.throws(
        () => fx.driver.adopt(fx.name("warm-3"), fx.name("other/ctr")),
        (err: unknown) => {
          assert.ok(err instanceof DockerTsError, String(err));
          assert.match(err.message, /^Cannot rename cgroup /);
          return true;
        },
      );
      for (const c of ["memory", "cpu", "cpuset", "pids", "freezer"]) {
        assert.equal(cgroupPathOf(child.pid, c), `/${fx.name("warm-3")}`, c);
        assert.ok(!dirExists(`${ROOT}/${c}/${fx.name("other/ctr")}`), c);
      }
    }),
});

/** A unified host mounts cgroup2 at /sys/fs/cgroup; a hybrid one at /sys/fs/cgroup/unified. */
function cgroup2Root(): string {
  return dirExists("/sys/fs/cgroup/unified") &&
      !fileExists("/sys/fs/cgroup/cgroup.controllers")
    ? "/sys/fs/cgroup/unified"
    : "/sys/fs/cgroup";
}

function fileExists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "adopt v2 (real cgroup2 mount): the kernel refuses rename there, adopt declines cleanly",
  ...requires("root", "cgroup-v2", "busybox"),
  fn: () =>
    withRealCgroups(cgroup2Root(), (fx) => {
      const root = cgroup2Root();
      const warm = fx.create("warm-4");
      const child = fx.spawn(["sleep", "30"]);
      warm.addProcess(child.pid);
      // Why canAdopt is false: a rename on the cgroup2 filesystem is refused by the kernel.
      assert.throws(
        () => Deno.renameSync(`${root}/${fx.name("warm-4")}`, `${root}/${fx.name("ctr")}`),
        Deno.errors.PermissionDenied,
      );
      assert.equal(fx.driver.canAdopt, false);
      assert.throws(() => fx.driver.adopt(fx.name("warm-4"), fx.name("ctr")), NotImplementedError);
      const line = Deno.readTextFileSync(`/proc/${child.pid}/cgroup`).split("\n")
        .find((l) => l.startsWith("0::"));
      assert.equal(line, `0::/${fx.name("warm-4")}`);
      assert.ok(!dirExists(`${root}/${fx.name("ctr")}`));
    }),
});
