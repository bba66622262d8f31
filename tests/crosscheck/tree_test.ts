/** The cross-check differ itself: it must see every kind of difference it claims to compare. */
import assert from "node:assert/strict";
import * as path from "node:path";
import { requires } from "../_helpers/requires.ts";
import { diffCatalog, diffTrees, snapshotTree } from "./_tree.ts";

Deno.test({
  name: "crosscheck tree: snapshots agree on equal trees and report each difference",
  ...requires("root"),
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "tree-test-" });
    try {
      const mk = async (dir: string, content: string, mode: number): Promise<void> => {
        await Deno.mkdir(path.join(tmp, dir, "d"), { recursive: true });
        await Deno.writeTextFile(path.join(tmp, dir, "d", "f"), content);
        await Deno.chmod(path.join(tmp, dir, "d", "f"), mode);
        await Deno.symlink("d/f", path.join(tmp, dir, "l"));
        await Deno.link(path.join(tmp, dir, "d", "f"), path.join(tmp, dir, "h"));
      };
      await mk("a", "same", 0o644);
      await mk("b", "same", 0o644);
      await mk("c", "diff", 0o4755);
      const a = snapshotTree(path.join(tmp, "a"));
      assert.deepEqual(diffTrees(a, snapshotTree(path.join(tmp, "b"))), []);
      const d = diffTrees(a, snapshotTree(path.join(tmp, "c")));
      assert.ok(
        d.some((l) => l.startsWith("d/f:") && l.includes("mode 644 != 4755")),
        d.join("\n"),
      );
      assert.ok(d.some((l) => l.startsWith("d/f:") && l.includes("sha256")), d.join("\n"));
      await Deno.chown(path.join(tmp, "b", "d", "f"), 1234, 5678);
      await new Deno.Command("setfattr", {
        args: ["-n", "user.k", "-v", "v", path.join(tmp, "b", "d", "f")],
      }).output();
      const d2 = diffTrees(a, snapshotTree(path.join(tmp, "b")));
      assert.ok(d2.some((l) => l.includes("uid 0 != 1234")), d2.join("\n"));
      assert.ok(d2.some((l) => l.includes("user.k")), d2.join("\n"));
      // Hardlink groups are checked against the catalog's hardlinkOf.
      const files = [...a.values()].map(({ ino: _i, nlink: _n, ...f }) => f);
      const withLink = files.map((f) => f.path === "h" ? { ...f, hardlinkOf: "d/f" } : f);
      assert.deepEqual(diffCatalog(a, withLink), []);
      const wrongLink = files.map((f) => f.path === "h" ? { ...f, hardlinkOf: "l" } : f);
      assert.ok(diffCatalog(a, wrongLink).some((l) => l.includes("not a hardlink")));
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
