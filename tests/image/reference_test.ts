import assert from "node:assert/strict";
import {
  familiar,
  formatReference,
  parseReference,
  registryHost,
} from "../../src/image/reference.ts";
import { InvalidArgumentError } from "../../src/errors.ts";

const D = "sha256:" + "a".repeat(64);

Deno.test("reference: normalizes like docker", () => {
  const cases: [string, string, string][] = [
    ["busybox", "docker.io/library/busybox:latest", "busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"],
    ["library/busybox", "docker.io/library/busybox:latest", "busybox:latest"],
    ["docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"],
    ["index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"],
    ["foo/bar", "docker.io/foo/bar:latest", "foo/bar:latest"],
    ["host:5000/a/b:tag", "host:5000/a/b:tag", "host:5000/a/b:tag"],
    ["127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox:latest"],
    ["localhost/busybox", "localhost/busybox:latest", "localhost/busybox:latest"],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`, `busybox:1@${D}`],
    ["a.b-c/x__y/z-1.2:v_1.0-rc", "a.b-c/x__y/z-1.2:v_1.0-rc", "a.b-c/x__y/z-1.2:v_1.0-rc"],
    ["[::1]:5000/img", "[::1]:5000/img:latest", "[::1]:5000/img:latest"],
  ];
  for (const [input, full, fam] of cases) {
    const ref = parseReference(input);
    assert.equal(formatReference(ref), full, input);
    assert.equal(familiar(ref), fam, input);
  }
  assert.equal(registryHost(parseReference("busybox")), "registry-1.docker.io");
  assert.equal(registryHost(parseReference("127.0.0.1:5000/x")), "127.0.0.1:5000");
  // A digest reference gets no default tag.
  assert.equal(parseReference(`busybox@${D}`).tag, undefined);
});

Deno.test("reference: rejects what docker rejects, with docker's words", () => {
  const bad: [string, string | RegExp][] = [
    ["Foo", "invalid reference format: repository name (library/Foo) must be lowercase"],
    ["foo/Bar", "invalid reference format: repository name (foo/Bar) must be lowercase"],
    ["busybox:", "invalid reference format"],
    [":tag", "invalid reference format"],
    ["busy box", "invalid reference format"],
    ["busybox@sha256:abc", "invalid reference format"],
    ["-busybox", "invalid reference format"],
    ["busybox:" + "t".repeat(129), "invalid reference format"],
    ["a".repeat(64), /cannot specify 64-byte hexadecimal strings/],
    ["", "invalid reference format"],
    [`busybox@md5:${"a".repeat(32)}`, /unsupported digest algorithm/],
    ["x/" + "a".repeat(260), /must not be more than 255 characters/],
  ];
  for (const [input, msg] of bad) {
    assert.throws(() => parseReference(input), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, `${input}: ${err}`);
      if (typeof msg === "string") assert.equal(err.message, msg, input);
      else assert.match(err.message, msg, input);
      return true;
    });
  }
  // Uppercase is fine in the domain part.
  assert.equal(familiar(parseReference("Example.com/a")), "Example.com/a:latest");
});
