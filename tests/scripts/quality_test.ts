import assert from "node:assert/strict";

async function deno(args: string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("quality: deno lint passes", async () => {
  const r = await deno(["lint"]);
  assert.equal(r.code, 0, r.text);
});

Deno.test("quality: deno fmt --check passes", async () => {
  const r = await deno(["fmt", "--check"]);
  assert.equal(r.code, 0, r.text);
});

Deno.test("quality: deno publish --dry-run passes (no slow types, exports resolve)", async () => {
  const r = await deno(["publish", "--dry-run", "--allow-dirty"]);
  assert.equal(r.code, 0, r.text);
});
