// Applier logic against the recording fake: containment, whiteouts, ordering. No root needed.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { applyLayer, cleanPath } from "../../src/storage/layer_apply.ts";
import { TarWriter, type TarWriterEntry } from "../../src/image/tar_writer.ts";
import { InvalidArgumentError } from "../../src/errors.ts";
import { FakeLayerFs } from "./fake_layer_fs.ts";

const TAR = "application/vnd.oci.image.layer.v1.tar";
const ROOT = "/layer";

function tar(entries: TarWriterEntry[]): Uint8Array {
  const w = new TarWriter();
  for (const e of entries) w.add(e);
  return w.finish();
}

async function* chunks(bytes: Uint8Array, size = 1000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.slice(i, i + size);
}

async function apply(entries: TarWriterEntry[]): Promise<FakeLayerFs> {
  const fs = new FakeLayerFs(ROOT);
  await applyLayer(chunks(tar(entries)), ROOT, { mediaType: TAR, fs });
  return fs;
}

/** Asserts that every node of the fake lies under the root. */
function assertContained(fs: FakeLayerFs): void {
  for (const p of fs.nodes.keys()) {
    assert.ok(p === ROOT || p.startsWith(ROOT + "/"), `created outside the root: ${p}`);
  }
  for (const call of fs.calls) {
    const p = call[1];
    if (typeof p === "string" && call[0] !== "lstat") {
      assert.ok(p === ROOT || p.startsWith(ROOT + "/"), `${call[0]} outside the root: ${p}`);
    }
  }
}

Deno.test("cleanPath strips leading slashes and dots, refuses climbing above the root", () => {
  assert.deepEqual(cleanPath("/etc//passwd"), ["etc", "passwd"]);
  assert.deepEqual(cleanPath("./a/./b/../c/"), ["a", "c"]);
  assert.deepEqual(cleanPath("./"), []);
  assert.equal(cleanPath("../x"), undefined);
  assert.equal(cleanPath("a/../../x"), undefined);
});

Deno.test("apply: diffID and size are those of the uncompressed tar", async () => {
  const bytes = tar([{ name: "f", data: "x" }]);
  const fs = new FakeLayerFs(ROOT);
  const r = await applyLayer(chunks(bytes), ROOT, { mediaType: TAR, fs });
  assert.equal(r.diffId, `sha256:${createHash("sha256").update(bytes).digest("hex")}`);
  assert.equal(r.size, bytes.length);
});

Deno.test("apply: every entry type with owner, mode, xattrs, devices, times", async () => {
  const cap = new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const fs = await apply([
    { name: "bin/", type: "dir", mode: 0o755, mtime: 100 },
    { name: "bin/busybox", data: "BB", mode: 0o4755, uid: 0, gid: 0, mtime: 200.5 },
    { name: "bin/sh", type: "symlink", linkname: "busybox", uid: 7, gid: 8, mtime: 300 },
    { name: "bin/ash", type: "hardlink", linkname: "bin/busybox" },
    { name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
    { name: "dev/sda", type: "block", devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
    { name: "run/fifo", type: "fifo", mode: 0o620 },
    {
      name: "ping",
      data: "p",
      uid: 1000,
      gid: 1000,
      mode: 0o755,
      xattrs: { "security.capability": cap },
    },
    { name: "tmp/", type: "dir", mode: 0o1777 },
  ]);
  const n = (p: string) => fs.nodes.get(`${ROOT}/${p}`)!;
  assert.equal(fs.text(`${ROOT}/bin/busybox`), "BB");
  assert.equal(n("bin/busybox").mode, 0o4755, "setuid survives (chmod after chown)");
  assert.deepEqual(n("bin/busybox").mtime, [200, 500000000]);
  assert.equal(n("bin/sh").type, "symlink");
  assert.equal(n("bin/sh").target, "busybox");
  assert.deepEqual([n("bin/sh").uid, n("bin/sh").gid], [7, 8]);
  assert.equal(n("bin/ash").inode, n("bin/busybox").inode);
  assert.deepEqual([n("dev/null").type, n("dev/null").major, n("dev/null").minor], ["char", 1, 3]);
  assert.equal(n("dev/null").mode, 0o666);
  assert.deepEqual([n("dev/sda").type, n("dev/sda").major, n("dev/sda").gid], ["block", 8, 6]);
  assert.equal(n("run/fifo").type, "fifo");
  assert.deepEqual(n("ping").xattrs["security.capability"], cap, "xattr set after chown");
  assert.equal(n("tmp").mode, 0o1777);
  assert.deepEqual(n("bin").mtime, [100, 0]);
  // The directory's time is set after its contents were written.
  const last = fs.calls.findLastIndex((c) => c[0] === "lutimes" && c[1] === `${ROOT}/bin`);
  const lastChild = fs.calls.findLastIndex((c) =>
    c[0] !== "lstat" && typeof c[1] === "string" && c[1].startsWith(`${ROOT}/bin/`)
  );
  assert.ok(last > lastChild);
  assertContained(fs);
});

Deno.test("apply: whiteouts become overlay whiteouts", async () => {
  const fs = await apply([
    { name: "etc/", type: "dir" },
    { name: "etc/.wh.passwd", data: "" },
    { name: "var/cache/.wh..wh..opq", data: "" },
    { name: ".wh..wh.plnk", type: "dir" },
  ]);
  const wh = fs.nodes.get(`${ROOT}/etc/passwd`)!;
  assert.deepEqual([wh.type, wh.major, wh.minor], ["char", 0, 0]);
  assert.equal(fs.nodes.has(`${ROOT}/etc/.wh.passwd`), false);
  const opq = fs.nodes.get(`${ROOT}/var/cache`)!;
  assert.equal(new TextDecoder().decode(opq.xattrs["trusted.overlay.opaque"]), "y");
  assert.equal(fs.nodes.has(`${ROOT}/.wh..wh.plnk`), false);
});

Deno.test("apply: an entry replaces one of another type; a dir over a dir merges", async () => {
  const fs = await apply([
    { name: "a", data: "file" },
    { name: "a/", type: "dir", mode: 0o700 },
    { name: "a/x", data: "x" },
    { name: "a/", type: "dir", mode: 0o755 },
    { name: "b/", type: "dir" },
    { name: "b/inner", data: "i" },
    { name: "b", type: "symlink", linkname: "a" },
    { name: "c", data: "old" },
    { name: "c", data: "new" },
  ]);
  assert.equal(fs.nodes.get(`${ROOT}/a`)!.type, "dir");
  assert.equal(fs.nodes.get(`${ROOT}/a`)!.mode, 0o755);
  assert.equal(fs.text(`${ROOT}/a/x`), "x");
  assert.equal(fs.nodes.get(`${ROOT}/b`)!.type, "symlink");
  assert.equal(fs.nodes.has(`${ROOT}/b/inner`), false);
  assert.equal(fs.text(`${ROOT}/c`), "new");
});

Deno.test("apply: unsupported xattrs become warnings, as docker does", async () => {
  const fs = new FakeLayerFs(ROOT);
  fs.failXattr.set("user.x", "EOPNOTSUPP");
  const r = await applyLayer(
    chunks(tar([{ name: "f", data: "", xattrs: { "user.x": "1" } }])),
    ROOT,
    {
      mediaType: TAR,
      fs,
    },
  );
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /Ignored xattr "user.x" on "f": EOPNOTSUPP/);
});

Deno.test("apply: abort signal stops the apply", async () => {
  const ac = new AbortController();
  const fs = new FakeLayerFs(ROOT);
  const bytes = tar([{ name: "f", data: "x".repeat(100_000) }]);
  async function* slow(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += 1000) {
      if (i === 5000) ac.abort(new Error("stop"));
      yield bytes.slice(i, i + 1000);
    }
  }
  await assert.rejects(applyLayer(slow(), ROOT, { mediaType: TAR, fs, signal: ac.signal }), /stop/);
});

// ---- The escape suite: each malicious layer is built here, byte by byte. ----

const escapes: Array<[string, TarWriterEntry[], "refused" | "contained"]> = [
  ["dot-dot path", [{ name: "../evil", data: "x" }], "refused"],
  ["dot-dot in the middle", [{ name: "a/../../evil", data: "x" }], "refused"],
  ["absolute path (stripped, kept inside)", [{ name: "/etc/evil", data: "x" }], "contained"],
  [
    "symlink to / then a file through it",
    [{ name: "x", type: "symlink", linkname: "/" }, { name: "x/etc/evil", data: "x" }],
    "contained",
  ],
  [
    "symlink to ../../ then a file through it",
    [{ name: "x", type: "symlink", linkname: "../../../../" }, { name: "x/evil", data: "x" }],
    "contained",
  ],
  [
    "nested symlink chain pointing out",
    [
      { name: "a/", type: "dir" },
      { name: "a/up", type: "symlink", linkname: "../.." },
      { name: "a/up/up2", type: "symlink", linkname: "../../tmp" },
      { name: "a/up/up2/evil", data: "x" },
    ],
    "contained",
  ],
  [
    "symlink then overwrite the link name (never written through)",
    [{ name: "passwd", type: "symlink", linkname: "/etc/passwd" }, { name: "passwd", data: "x" }],
    "contained",
  ],
  [
    "hardlink to an outside path",
    [{ name: "h", type: "hardlink", linkname: "../../etc/passwd" }],
    "refused",
  ],
  [
    "hardlink to an absolute path (resolved inside, missing)",
    [{ name: "h", type: "hardlink", linkname: "/etc/passwd" }],
    "refused",
  ],
  [
    "hardlink through a symlink pointing out",
    [
      { name: "x", type: "symlink", linkname: "/etc" },
      { name: "h", type: "hardlink", linkname: "x/passwd" },
    ],
    "refused",
  ],
  ["whiteout naming a path outside", [{ name: "../.wh.evil", data: "" }], "refused"],
  [
    "whiteout through a symlink pointing out",
    [{ name: "x", type: "symlink", linkname: "/etc" }, { name: "x/.wh.passwd", data: "" }],
    "contained",
  ],
  [
    "opaque marker through a symlink pointing out",
    [{ name: "x", type: "symlink", linkname: "/" }, { name: "x/.wh..wh..opq", data: "" }],
    "contained",
  ],
  ["symlink loop", [
    { name: "l1", type: "symlink", linkname: "l2" },
    { name: "l2", type: "symlink", linkname: "l1" },
    { name: "l1/f", data: "x" },
  ], "refused"],
  ["file over the root", [{ name: "./", data: "x" }], "refused"],
];

for (const [title, entries, expect] of escapes) {
  Deno.test(`apply escape (fake fs): ${title} is ${expect}`, async () => {
    const fs = new FakeLayerFs(ROOT);
    const run = applyLayer(chunks(tar(entries)), ROOT, { mediaType: TAR, fs });
    if (expect === "refused") {
      await assert.rejects(run, (err) => err instanceof InvalidArgumentError);
    } else {
      await run;
    }
    assertContained(fs);
  });
}

Deno.test("apply escape (fake fs): through-symlink writes land under the root", async () => {
  const fs = await apply([
    { name: "x", type: "symlink", linkname: "/" },
    { name: "x/etc/evil", data: "inside" },
  ]);
  assert.equal(fs.text(`${ROOT}/etc/evil`), "inside");
});
