/**
 * The escape suite's canary must catch what an escape would do: a new entry, changed content,
 * a new hardlink to the canary, changed mode. (No root needed.)
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { chainIds, EscapeEnv, sha256 } from "./_harness.ts";

Deno.test("escape harness: the canary detects creation, change, links and chmod", async () => {
  const env = await EscapeEnv.create("harness");
  try {
    const attacks: [string, (dir: string, file: string) => void][] = [
      ["new file", (d) => fs.writeFileSync(path.join(d, "pwned"), "x")],
      ["changed content", (_d, f) => fs.writeFileSync(f, "the host's canarY\n")],
      ["hardlink", (d, f) => fs.linkSync(f, path.join(d, "..", `link-${path.basename(d)}`))],
      ["chmod", (_d, f) => fs.chmodSync(f, 0o4755)],
      ["whiteout-like removal", (_d, f) => fs.rmSync(f)],
    ];
    for (const [what, attack] of attacks) {
      const c = env.canary();
      c.assertUntouched("before");
      attack(c.dir, c.file);
      assert.throws(() => c.assertUntouched(what), assert.AssertionError, what);
    }
  } finally {
    await Deno.remove(env.dir, { recursive: true });
  }
});

Deno.test("escape harness: chain ids follow the image spec", () => {
  const a = sha256("a");
  const b = sha256("b");
  assert.deepEqual(chainIds([a, b]), [a, sha256(`${a} ${b}`)]);
});
