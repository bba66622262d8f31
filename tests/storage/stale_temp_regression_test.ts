/**
 * Regression: a SIGKILLed pull left `content/ingest/*` and `tmp/layer-*` forever. Temp entries
 * now carry their owner's pid and are swept once that process is gone.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { ownerTag, sweepDeadOwners } from "../../src/storage/stale_temp.ts";

Deno.test("stale temp: only entries of dead owners with a matching prefix are swept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-stale-" });
  try {
    // A pid that surely ended: a child we started and waited for.
    const child = new Deno.Command("true").spawn();
    const deadPid = child.pid;
    await child.status;
    const names = {
      mine: `layer-0123456789ab-${ownerTag()}-AbC123`,
      dead: `layer-0123456789ab-p${deadPid}-XyZ789`,
      deadRm: `rm-0123456789ab-p${deadPid}-1234abcd`,
      otherPrefix: `keep-p${deadPid}-Qq1234`,
      untagged: "layer-0123456789ab-Zz9999",
    };
    for (const n of Object.values(names)) {
      await Deno.mkdir(path.join(dir, n, "diff"), { recursive: true });
    }
    const removed = sweepDeadOwners(dir, ["layer-", "rm-"]).sort();
    assert.deepEqual(removed, [names.dead, names.deadRm].sort());
    const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(left, [names.mine, names.otherPrefix, names.untagged].sort());
    assert.deepEqual(sweepDeadOwners(path.join(dir, "missing"), [""]), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
