import assert from "node:assert/strict";
import { cli } from "./_fake.ts";

Deno.test("info: reports seccomp with the builtin profile, as docker's SecurityOptions", async () => {
  const r = await cli(["info", "--format", "{{json .SecurityOptions}}"]);
  assert.equal(r.code, 0, r.err);
  const opts = JSON.parse(r.out) as string[];
  const kernelHasSeccomp = /^Seccomp:\s*\d/m.test(Deno.readTextFileSync("/proc/self/status"));
  assert.equal(opts.includes("name=seccomp,profile=builtin"), kernelHasSeccomp);
  assert.ok(opts.includes("name=cgroupns"));
  const text = await cli(["info"]);
  const want = kernelHasSeccomp
    ? " Security Options:\n  seccomp\n   Profile: builtin\n  cgroupns\n"
    : " Security Options:\n  cgroupns\n";
  assert.ok(text.out.includes(want), text.out);
});
