import assert from "node:assert/strict";
import { planResources, sharesToWeight } from "../../src/cgroups/resources.ts";
import { detectCgroupDriver } from "../../src/cgroups/mod.ts";
import { RealCgroupSys } from "../../src/cgroups/sys.ts";
import { CgroupSysError } from "../../src/cgroups/types.ts";
import { InvalidArgumentError } from "../../src/errors.ts";
import { FakeCgroupSys } from "./_fake_cgroupfs.ts";

const MiB = 1024 * 1024;

Deno.test("cgroups resources: shares → weight is the standard conversion", () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(sharesToWeight(1), 1); // clamped like the kernel
});

Deno.test("cgroups resources: Docker defaults and unlimited values", () => {
  assert.deepEqual(planResources({ memory: { limit: 64 * MiB } }), {
    memoryLimit: 64 * MiB,
    memorySwap: 128 * MiB,
  });
  assert.deepEqual(planResources({ memory: { limit: 64 * MiB, swap: -1 } }), {
    memoryLimit: 64 * MiB,
    memorySwap: -1,
  });
  assert.deepEqual(planResources({ memory: { limit: -1 } }), { memoryLimit: -1, memorySwap: -1 });
  assert.deepEqual(planResources({ pids: { limit: 0 } }), { pidsLimit: -1 });
  assert.deepEqual(planResources({ pids: { limit: -1 } }), { pidsLimit: -1 });
  assert.deepEqual(planResources({ cpu: { shares: 1 } }), { cpuShares: 2 });
  assert.deepEqual(planResources({ cpu: { cpus: " 0-1, 3 " } }), { cpusetCpus: "0-1,3" });
  assert.deepEqual(planResources({}), {});
  assert.deepEqual(
    planResources({
      devices: [{ allow: false, access: "rwm" }, {
        allow: true,
        type: "c",
        major: 1,
        minor: 3,
        access: "rwm",
      }],
    })
      .devices,
    [{ allow: false, rule: "a" }, { allow: true, rule: "c 1:3 rwm" }],
  );
});

Deno.test("cgroups resources: Docker's refusals, as one-line InvalidArgument errors", () => {
  const cases: [Parameters<typeof planResources>[0], RegExp][] = [
    [{ memory: { limit: 4 * MiB } }, /minimum memory limit allowed is 6MB/],
    [{ memory: { limit: 64 * MiB, swap: 32 * MiB } }, /should be larger than memory limit/],
    [{ memory: { swap: 64 * MiB } }, /always set the memory limit/],
    [{ memory: { limit: 64 * MiB, reservation: 128 * MiB } }, /reservation/],
    [{ memory: { limit: 1.5 } }, /not an integer/],
    [{ cpu: { quota: 999 } }, /at least 1000/],
    [{ cpu: { period: 5_000_000 } }, /between 1000 and 1000000/],
    [{ cpu: { cpus: "a" } }, /Invalid cpuset CPUs "a"/],
    [{ cpu: { shares: -5 } }, /negative/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => planResources(input), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, JSON.stringify(input));
      assert.match(err.message, message);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("cgroups detect: v2 only with cgroup.controllers at the top; hybrid is v1", async () => {
  const root = await Deno.makeTempDir({ prefix: "docker-ts-cgdetect-" });
  try {
    const v1 = FakeCgroupSys.v1(`${root}/a`);
    assert.equal(detectCgroupDriver({ root: `${root}/a`, sys: v1 }).version, 1);
    const v2 = FakeCgroupSys.v2(`${root}/b`);
    assert.equal(detectCgroupDriver({ root: `${root}/b`, sys: v2 }).version, 2);
    assert.equal(detectCgroupDriver({ root: `${root}/b` }).version, 2); // real sys, same tree
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cgroups sys: errors name the operation, path and errno", async () => {
  const sys = new RealCgroupSys();
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-cgsys-" });
  try {
    assert.throws(() => sys.writeFile(`${dir}/missing`, "1"), (err: unknown) => {
      assert.ok(err instanceof CgroupSysError);
      assert.equal(err.code, "ENOENT");
      assert.equal(err.message, `write "${dir}/missing": ENOENT (No such file or directory)`);
      return true;
    });
    assert.ok(!sys.exists(`${dir}/missing`)); // never created
    assert.equal(sys.mkdir(`${dir}/x`), true);
    assert.equal(sys.mkdir(`${dir}/x`), false);
    Deno.writeTextFileSync(`${dir}/x/f`, "");
    assert.throws(() => sys.rmdir(`${dir}/x`), (err: unknown) => {
      assert.ok(err instanceof CgroupSysError);
      assert.equal(err.code, "ENOTEMPTY");
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
