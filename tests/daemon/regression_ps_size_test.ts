/**
 * Regression ("Detached containers"): `ps -s` / `size=1` report the container's writable-layer
 * bytes (SizeRw) and that plus the image (SizeRootFs), shown as docker's `<rw> (virtual <all>)`.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { sizeText } from "../../src/cli/verbs/ps.ts";
import type { ContainerSummary } from "../../src/engine_api.ts";
import { requires } from "../_helpers/requires.ts";
import { tempEngine } from "./_engine.ts";

const MOD = path.join(import.meta.dirname!, "../../mod.ts");

Deno.test("ps SIZE cell: docker's shape", () => {
  const base = {} as ContainerSummary;
  assert.equal(sizeText(base), "0B");
  assert.equal(sizeText({ ...base, SizeRw: 0, SizeRootFs: 4_261_234 }), "0B (virtual 4.26MB)");
  assert.equal(
    sizeText({ ...base, SizeRw: 1_048_576, SizeRootFs: 1_048_576 + 4_261_234 }),
    "1.05MB (virtual 5.31MB)",
  );
});

Deno.test({
  name: "ps -s: a container that wrote 1 MB shows SizeRw of 1 MB",
  ...requires("root", "overlay"),
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        name: "sz",
        cmd: ["sh", "-c", "dd if=/dev/zero of=/big bs=1024 count=1024 2>/dev/null"],
      });
      await e.start(id);
      assert.equal(await e.wait(id), 0);
      const sized = { all: true, size: true };
      const [row] = (await e.list(sized)) as (ContainerSummary & {
        SizeRw?: number;
        SizeRootFs?: number;
      })[];
      assert.equal(row.Id, id);
      assert.ok(row.SizeRw! >= 1_048_576 && row.SizeRw! < 1_048_576 + 64 * 1024, `${row.SizeRw}`);
      const image = (await e.listImages({ all: true })).find((i) => i.Id === row.ImageID)!;
      assert.ok(image.Size > 0);
      assert.equal(row.SizeRootFs, row.SizeRw! + image.Size);
      // Without `size` nothing is walked.
      const [plain] = await e.list({ all: true });
      assert.equal("SizeRw" in plain, false);

      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MOD, "--root", t.root, "--runroot", t.runroot, "ps", "-a", "-s"],
        stdin: "null",
      }).output();
      const out = new TextDecoder().decode(r.stdout);
      assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
      assert.match(out, /^CONTAINER ID\s+IMAGE\s+.*NAMES\s+SIZE\n/);
      assert.match(out, /\ssz\s+1\.0\dMB \(virtual [\d.]+[kMG]?B\)\n$/);
    } finally {
      await t.cleanup();
    }
  },
});
