import assert from "node:assert/strict";
import {
  allCapabilities,
  capabilityName,
  capabilityNumber,
  DEFAULT_CAPABILITIES,
  resolveCapabilities,
} from "../../src/security/capabilities.ts";
import { MASKED_PATHS, READONLY_PATHS } from "../../src/security/paths.ts";

Deno.test("capability names and numbers", () => {
  assert.equal(capabilityNumber("CHOWN"), 0);
  assert.equal(capabilityNumber("cap_sys_admin"), 21);
  assert.equal(capabilityNumber("CAP_CHECKPOINT_RESTORE"), 40);
  assert.equal(capabilityNumber("nope"), undefined);
  assert.equal(capabilityName(13), "CAP_NET_RAW");
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  const last = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
  assert.equal(allCapabilities().length, Math.min(last, 40) + 1);
});

Deno.test("add, drop and ALL", () => {
  assert.deepEqual(resolveCapabilities({}), [...DEFAULT_CAPABILITIES]);
  assert.deepEqual(resolveCapabilities({ capDrop: ["all"] }), []);
  assert.deepEqual(resolveCapabilities({ capDrop: ["ALL"], capAdd: ["kill", "KILL"] }), [
    "CAP_KILL",
  ]);
  assert.equal(resolveCapabilities({ capAdd: ["ALL"] }).length, allCapabilities().length);
  assert.ok(
    !resolveCapabilities({ capAdd: ["ALL"], capDrop: ["SYS_ADMIN"] }).includes("CAP_SYS_ADMIN"),
  );
  assert.deepEqual(resolveCapabilities({ privileged: true, capDrop: ["ALL"] }), allCapabilities());
  assert.throws(() => resolveCapabilities({ capDrop: ["bogus"] }), /unknown capability/);
});

Deno.test("Docker's masked and read-only paths", () => {
  for (
    const p of [
      "/proc/kcore",
      "/proc/keys",
      "/proc/timer_list",
      "/proc/sched_debug",
      "/proc/scsi",
      "/sys/firmware",
      "/proc/acpi",
    ]
  ) {
    assert.ok(MASKED_PATHS.includes(p), p);
  }
  assert.deepEqual([...READONLY_PATHS], [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
  ]);
});
