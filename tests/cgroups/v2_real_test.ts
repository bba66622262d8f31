/**
 * The v2 driver on this host's cgroup2 mount. On a hybrid host that mount carries few or no
 * controllers, so this exercises what works there: creating groups, moving a real process,
 * cpu.stat, freeze/thaw, cgroup.kill and removal; limits without a controller become warnings.
 */
import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { delay, readTrim, withRealCgroups } from "./_real.ts";

/** A unified host mounts cgroup2 at /sys/fs/cgroup; a hybrid one at /sys/fs/cgroup/unified. */
function cgroup2Root(): string {
  try {
    Deno.statSync("/sys/fs/cgroup/cgroup.controllers");
    return "/sys/fs/cgroup";
  } catch {
    return "/sys/fs/cgroup/unified";
  }
}
const ROOT = cgroup2Root();
const needs = requires("root", "cgroup-v2", "busybox");

Deno.test({
  name: "cgroups v2 real: create, move a process, freeze, kill and remove on the cgroup2 mount",
  ...needs,
  fn: () =>
    withRealCgroups(ROOT, async (fx) => {
      assert.equal(fx.driver.version, 2);
      const available = readTrim(`${ROOT}/cgroup.controllers`).split(/\s+/);
      const cg = fx.create("c1", { pids: { limit: 10 } });
      if (!available.includes("pids")) {
        assert.match(cg.warnings.join("\n"), /PIDs limit discarded/);
      } else {
        assert.equal(readTrim(`${ROOT}/${fx.name("c1")}/pids.max`), "10");
      }
      const child = fx.spawn(["sh", "-c", "while :; do :; done"]);
      cg.addProcess(child.pid);
      const line = Deno.readTextFileSync(`/proc/${child.pid}/cgroup`).split("\n")
        .find((l) => l.startsWith("0::"));
      assert.equal(line, `0::/${fx.name("c1")}`);
      assert.deepEqual(cg.pids(), [child.pid]);
      await delay(150);
      assert.ok(cg.stats().cpu.usageNs > 0);

      await cg.freeze();
      assert.match(Deno.readTextFileSync(`${ROOT}/${fx.name("c1")}/cgroup.events`), /frozen 1/);
      const frozenAt = cg.stats().cpu.usageNs;
      await delay(200);
      assert.equal(cg.stats().cpu.usageNs, frozenAt);
      await cg.thaw();
      assert.match(Deno.readTextFileSync(`${ROOT}/${fx.name("c1")}/cgroup.events`), /frozen 0/);

      await cg.killAll();
      assert.equal((await child.status).signal, "SIGKILL");
      assert.deepEqual(fx.driver.list(), [fx.name("c1")]);
      await cg.remove();
      assert.deepEqual(fx.driver.list(), []);
    }),
});
