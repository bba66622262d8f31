import assert from "node:assert/strict";
import * as path from "node:path";
import {
  basenamePath,
  dirnamePath,
  joinPath,
  normalizePath,
  randomHex,
  resolvePath,
} from "../../src/util/path.ts";
import {
  atomicWriteFileSync,
  fsyncDirSync,
  writeNewFileSync,
} from "../../src/util/atomic_write.ts";

const CASES = [
  "/",
  "",
  ".",
  "..",
  "a",
  "/a/b/",
  "a//b/./c/..",
  "/../x",
  "../../y/z",
  "/var/lib/docker-ts/containers/abc",
  "x/../../..",
  "//a///b",
];

Deno.test("util/path: matches node:path.posix on normalize, dirname, basename", () => {
  for (const c of CASES) {
    if (c !== "") assert.equal(normalizePath(c), path.posix.normalize(c).replace(/(.)\/$/, "$1"));
    assert.equal(dirnamePath(c), path.posix.dirname(c), `dirname ${c}`);
    if (c !== "/") assert.equal(basenamePath(c), path.posix.basename(c), `basename ${c}`);
  }
});

Deno.test("util/path: join and resolve match node:path", () => {
  const pairs: string[][] = [["a", "b"], ["/a", "../b"], ["/a/", "/b/"], ["a", "", "c"], [
    "/r",
    "x/../../y",
  ]];
  // Unlike node:path, a trailing slash is not kept (no caller relies on it).
  const noSlash = (s: string) => s.length > 1 ? s.replace(/\/$/, "") : s;
  for (const p of pairs) assert.equal(joinPath(...p), noSlash(path.posix.join(...p)), p.join(","));
  for (const c of ["rel/x", "/abs/./y", "../up"]) assert.equal(resolvePath(c), path.resolve(c));
  assert.match(randomHex(4), /^[0-9a-f]{8}$/);
});

Deno.test("util/atomic_write: writes, replaces, refuses to clobber, fsyncs a directory", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const f = `${dir}/a.json`;
    atomicWriteFileSync(f, "one");
    atomicWriteFileSync(f, new TextEncoder().encode("two"), { mode: 0o600 });
    assert.equal(Deno.readTextFileSync(f), "two");
    assert.equal(Deno.statSync(f).mode! & 0o777, 0o600);
    assert.throws(() => writeNewFileSync(f, "x"), Deno.errors.AlreadyExists);
    fsyncDirSync(dir);
    // No temp file left behind.
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.json"]);
    // A failed rename (target is a non-empty directory) leaves no temp file either.
    Deno.mkdirSync(`${dir}/d/x`, { recursive: true });
    assert.throws(() => atomicWriteFileSync(`${dir}/d`, "y"));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["a.json", "d"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
