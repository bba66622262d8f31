import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../src/errors.ts";
import { resolveGroupAdd, resolveUser } from "../../src/spec/user.ts";

const passwd = [
  "root:x:0:0:root:/root:/bin/sh",
  "daemon:x:1:1:daemon:/usr/sbin:/bin/false",
  "app:x:1000:1000:App:/home/app:/bin/sh",
  "nohome:x:1001:1001::::",
].join("\n") + "\n";
const group = [
  "root:x:0:",
  "daemon:x:1:",
  "wheel:x:10:root,app",
  "app:x:1000:",
  "audio:x:29:app",
  "staff:x:50:",
].join("\n") + "\n";
const files = { passwd, group };

Deno.test("user: default is root with root's home and groups", () => {
  assert.deepEqual(resolveUser(undefined, files), {
    uid: 0,
    gid: 0,
    additionalGids: [0, 10],
    home: "/root",
  });
});

Deno.test("user: by name, by uid, with group", () => {
  assert.deepEqual(resolveUser("app", files), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 10, 29],
    home: "/home/app",
  });
  assert.deepEqual(resolveUser("1000", files), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 10, 29],
    home: "/home/app",
  });
  assert.deepEqual(resolveUser("app:staff", files).gid, 50);
  assert.deepEqual(resolveUser("app:4242", files).gid, 4242);
  assert.equal(resolveUser("nohome", files).home, "/");
});

Deno.test("user: numeric ids without entries are allowed", () => {
  assert.deepEqual(resolveUser("4242", files), {
    uid: 4242,
    gid: 0,
    additionalGids: [0],
    home: "/",
  });
  assert.deepEqual(resolveUser("4242:4343", files), {
    uid: 4242,
    gid: 4343,
    additionalGids: [4343],
    home: "/",
  });
  assert.deepEqual(resolveUser("7:8", { passwd: null, group: null }), {
    uid: 7,
    gid: 8,
    additionalGids: [8],
    home: "/",
  });
});

Deno.test("user: unknown names give Docker's messages", () => {
  assert.throws(() => resolveUser("nosuch", files), (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError);
    assert.equal(e.message, "unable to find user nosuch: no matching entries in passwd file");
    return true;
  });
  assert.throws(
    () => resolveUser("app:nogroup", files),
    /unable to find group nogroup: no matching entries in group file/,
  );
  assert.throws(
    () => resolveUser("root", { passwd: null, group: null }),
    /unable to find user root/,
  );
});

Deno.test("user: --group-add takes names from the image's group file and any gid", () => {
  const group = "root:x:0:\nstaff:x:50:app\nvideo:x:44:\n";
  assert.deepEqual(resolveGroupAdd(["video", "5", "staff", "44"], group), [44, 5, 50]);
  assert.deepEqual(resolveGroupAdd([], null), []);
  assert.deepEqual(resolveGroupAdd(["4242"], null), [4242]);
  assert.throws(() => resolveGroupAdd(["nosuch"], group), (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError);
    assert.equal(e.message, "Unable to find group nosuch: no matching entries in group file");
    return true;
  });
  assert.throws(() => resolveGroupAdd(["4294967296"], group), /out of range|range/);
});
