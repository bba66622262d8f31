/**
 * The last container's cgroup takes its now-empty parent with it (no `docker-ts` directory left
 * in every hierarchy); a parent a sibling still uses stays, and a create re-makes it.
 */
import assert from "node:assert/strict";
import { detectCgroupDriver } from "../../src/cgroups/mod.ts";
import { requires } from "../_helpers/requires.ts";

const exists = (p: string): boolean => {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
};

Deno.test({
  name: "cgroups: removing the last child removes the empty parent, not a used one",
  ...requires("root", "cgroup-v1"),
  async fn() {
    const parent = `docker-ts-test-${crypto.randomUUID().slice(0, 8)}`;
    const driver = detectCgroupDriver({ parent });
    const a = driver.create(`${parent}/a`, {});
    const b = driver.create(`${parent}/b`, {});
    try {
      const dirs = Object.values(a.paths).map((p) => p.slice(0, p.lastIndexOf("/")));
      assert.ok(dirs.length > 0);
      await a.remove();
      for (const d of dirs) assert.ok(exists(d), `${d} went while "b" still used it`);
      await b.remove();
      for (const d of dirs) assert.ok(!exists(d), `${d} was left behind`);
      const c = driver.create(`${parent}/c`, {});
      for (const d of dirs) assert.ok(exists(d), `${d} was not made again`);
      await c.remove();
      for (const d of dirs) assert.ok(!exists(d), `${d} was left behind`);
    } finally {
      await a.remove().catch(() => {});
      await b.remove().catch(() => {});
    }
  },
});
