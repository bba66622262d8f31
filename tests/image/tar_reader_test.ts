import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tarEntries, type TarHeader, TarParser } from "../../src/image/tar_reader.ts";
import { encodeTarHeader, paxRecord, tarPadding, TarWriter } from "../../src/image/tar_writer.ts";
import { InvalidArgumentError, NotImplementedError } from "../../src/errors.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Parsed {
  header: TarHeader;
  data: string;
  chunks: number;
}

/** Parses `bytes` pushed in chunks of `chunk` bytes. */
function parse(bytes: Uint8Array, chunk = bytes.length): { entries: Parsed[]; ended: boolean } {
  const entries: Parsed[] = [];
  let cur: { header: TarHeader; parts: Uint8Array[] } | undefined;
  const p = new TarParser({
    onEntry(header) {
      cur = { header, parts: [] };
    },
    onData(c) {
      cur!.parts.push(c.slice());
    },
    onEntryEnd() {
      const total = cur!.parts.reduce((n, c) => n + c.length, 0);
      const all = new Uint8Array(total);
      let off = 0;
      for (const c of cur!.parts) {
        all.set(c, off);
        off += c.length;
      }
      entries.push({ header: cur!.header, data: dec.decode(all), chunks: cur!.parts.length });
    },
  });
  for (let i = 0; i < bytes.length; i += chunk) p.push(bytes.subarray(i, i + chunk));
  p.end();
  return { entries, ended: p.sawEndMarker };
}

function sample(format: "pax" | "gnu" | "ustar"): Uint8Array {
  const w = new TarWriter({ format });
  w.add({ name: "./", type: "dir", mode: 0o755, mtime: 1700000000 });
  w.add({ name: "etc/", type: "dir", mode: 0o750, uid: 1, gid: 2, mtime: 1600000000 });
  w.add({
    name: "etc/hostname",
    data: "box\n",
    uid: 1000,
    gid: 1001,
    uname: "alice",
    gname: "staff",
    mtime: 1700000001,
  });
  w.add({ name: "bin/sh", type: "symlink", linkname: "busybox" });
  w.add({ name: "bin/ash", type: "hardlink", linkname: "etc/hostname" });
  w.add({ name: "dev/null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 });
  w.add({ name: "dev/sda", type: "block", devmajor: 8, devminor: 1, mode: 0o660 });
  w.add({ name: "run/fifo", type: "fifo", mode: 0o600 });
  w.add({ name: "usr/bin/su", data: "s", mode: 0o4755 });
  w.add({ name: "tmp/", type: "dir", mode: 0o1777 });
  w.add({ name: "sgid", data: "", mode: 0o2755 });
  return w.finish();
}

for (const format of ["pax", "gnu", "ustar"] as const) {
  Deno.test(`tar reader: every entry type in ${format} format`, () => {
    const { entries, ended } = parse(sample(format));
    assert.equal(ended, true);
    const by = Object.fromEntries(entries.map((e) => [e.header.name, e]));
    assert.deepEqual(entries.map((e) => e.header.type), [
      "dir",
      "dir",
      "file",
      "symlink",
      "hardlink",
      "char",
      "block",
      "fifo",
      "file",
      "dir",
      "file",
    ]);
    const host = by["etc/hostname"].header;
    assert.equal(by["etc/hostname"].data, "box\n");
    assert.deepEqual(
      [host.uid, host.gid, host.uname, host.gname, host.mtime, host.mode, host.size],
      [1000, 1001, "alice", "staff", 1700000001, 0o644, 4],
    );
    assert.equal(by["etc/"].header.mode, 0o750);
    assert.equal(by["bin/sh"].header.linkname, "busybox");
    assert.equal(by["bin/ash"].header.linkname, "etc/hostname");
    assert.deepEqual([by["dev/null"].header.devmajor, by["dev/null"].header.devminor], [1, 3]);
    assert.deepEqual([by["dev/sda"].header.devmajor, by["dev/sda"].header.devminor], [8, 1]);
    assert.equal(by["usr/bin/su"].header.mode, 0o4755);
    assert.equal(by["tmp/"].header.mode, 0o1777);
    assert.equal(by["sgid"].header.mode, 0o2755);
  });
}

Deno.test("tar reader: results do not depend on chunk boundaries", () => {
  const w = new TarWriter();
  w.add({ name: "a/".repeat(120) + "f", data: "x".repeat(3000), mtime: 1.5 });
  w.add({ name: "b", data: "y".repeat(513), xattrs: { "user.k": "v" } });
  const bytes = w.finish();
  const whole = parse(bytes).entries.map((e) => [e.header, e.data]);
  for (const chunk of [1, 7, 511, 512, 513, 4096]) {
    assert.deepEqual(parse(bytes, chunk).entries.map((e) => [e.header, e.data]), whole);
  }
});

Deno.test("tar reader: file data arrives in the chunks it came in, never buffered whole", () => {
  const w = new TarWriter();
  w.add({ name: "big", data: new Uint8Array(1 << 20).fill(7) });
  const { entries } = parse(w.finish(), 64 * 1024);
  assert.equal(entries[0].chunks >= 16, true);
});

Deno.test("tar reader: pax records for path, linkpath, ids, names, sub-second mtime", () => {
  const w = new TarWriter({ format: "pax" });
  const long = "d/".repeat(100) + "file-with-a-long-name";
  const longTarget = "t/".repeat(80) + "target";
  w.add({
    name: long,
    data: "x",
    uid: 5_000_000,
    gid: 6_000_000,
    uname: "u".repeat(40),
    gname: "g".repeat(40),
    mtime: 1700000000.123456789,
  });
  w.add({ name: "link", type: "symlink", linkname: longTarget });
  w.add({ name: "ünïcødé/名前", data: "u" });
  const { entries } = parse(w.finish());
  const h = entries[0].header;
  assert.equal(h.name, long);
  assert.deepEqual([h.uid, h.gid], [5_000_000, 6_000_000]);
  assert.deepEqual([h.uname, h.gname], ["u".repeat(40), "g".repeat(40)]);
  assert.equal(h.mtime, 1700000000);
  assert.equal(Math.abs(h.mtimeNsec - 123456789) < 1000, true);
  assert.equal(entries[1].header.linkname, longTarget);
  assert.equal(entries[2].header.name, "ünïcødé/名前");
});

Deno.test("tar reader: pax record lengths are bytes, not characters", () => {
  // A multi-byte UTF-8 path: parsing on decoded strings would misplace the record boundary.
  const name = "é".repeat(120);
  const w = new TarWriter({ format: "pax" });
  w.add({ name, data: "1", xattrs: { "user.é": "ü" } });
  const { entries } = parse(w.finish());
  assert.equal(entries[0].header.name, name);
  assert.equal(dec.decode(entries[0].header.xattrs["user.é"]), "ü");
});

Deno.test("tar reader: SCHILY and LIBARCHIVE xattrs, binary values intact", () => {
  const cap = new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0]);
  const w = new TarWriter();
  w.add({
    name: "ping",
    data: "",
    xattrs: { "security.capability": cap },
    pax: { "LIBARCHIVE.xattr.user.a%20b": btoa("hello") },
  });
  const h = parse(w.finish()).entries[0].header;
  assert.deepEqual(h.xattrs["security.capability"], cap);
  assert.equal(dec.decode(h.xattrs["user.a b"]), "hello");
});

Deno.test("tar reader: pax global headers apply to later entries, local ones override", () => {
  const w = new TarWriter();
  w.add({ name: "before", data: "" });
  w.addGlobal({ uid: "4242", "SCHILY.xattr.user.g": "global" });
  w.add({ name: "after", data: "" });
  w.add({ name: "own", data: "", pax: { uid: "7" } });
  w.addGlobal({ uid: "" });
  w.add({ name: "cleared", data: "", uid: 3 });
  const e = parse(w.finish()).entries.map((x) => x.header);
  assert.deepEqual(e.map((h) => h.uid), [0, 4242, 7, 3]);
  assert.equal(dec.decode(e[1].xattrs["user.g"]), "global");
  assert.equal(e[0].xattrs["user.g"], undefined);
});

Deno.test("tar reader: GNU long names and long link names", () => {
  const w = new TarWriter({ format: "gnu" });
  const name = "n/".repeat(90) + "end";
  const target = "l/".repeat(90) + "dest";
  w.add({ name, type: "symlink", linkname: target });
  w.add({ name: name + "2", type: "hardlink", linkname: target });
  const e = parse(w.finish()).entries.map((x) => x.header);
  assert.deepEqual(e.map((h) => [h.name, h.linkname]), [[name, target], [name + "2", target]]);
});

Deno.test("tar reader: base-256 numbers, including negative mtimes", () => {
  const w = new TarWriter({ format: "gnu" });
  w.add({ name: "big-ids", data: "", uid: 3_000_000_000, gid: 2_500_000, mtime: -1_000_000 });
  w.add({ name: "future", data: "", mtime: 2 ** 40 });
  const e = parse(w.finish()).entries.map((x) => x.header);
  assert.deepEqual([e[0].uid, e[0].gid, e[0].mtime], [3_000_000_000, 2_500_000, -1_000_000]);
  assert.equal(e[1].mtime, 2 ** 40);
});

Deno.test("tar reader: bad checksum is refused", () => {
  const bytes = new TarWriter().add({ name: "f", data: "x" }).finish();
  bytes[10] ^= 1;
  assert.throws(() => parse(bytes), (err) => {
    assert.ok(err instanceof InvalidArgumentError);
    assert.match(err.message, /bad header checksum/);
    return true;
  });
});

Deno.test("tar reader: truncated entry data is an error", () => {
  const bytes = new TarWriter().add({ name: "f", data: "x".repeat(2000) }).finish();
  assert.throws(() => parse(bytes.subarray(0, 1500)), /unexpected end of data in "f"/);
  assert.throws(() => parse(bytes.subarray(0, 300)), /unexpected end of archive/);
});

Deno.test("tar reader: a missing trailer after a complete entry is accepted", () => {
  const bytes = new TarWriter().add({ name: "f", data: "x" }).finish({ trailer: false });
  const { entries, ended } = parse(bytes);
  assert.equal(entries.length, 1);
  assert.equal(ended, false);
});

Deno.test("tar reader: extension header without its entry is an error", () => {
  const pax = paxRecord("path", "x");
  const x = new TarWriter().add({ name: "a", data: "", pax: { path: "x" } }).finish();
  // x = [pax header][pax data][ustar header][trailer]; keep only the pax part plus a trailer.
  const paxPart = x.subarray(0, 512 + pax.length + tarPadding(pax.length).length);
  const bytes = new Uint8Array(paxPart.length + 1024);
  bytes.set(paxPart);
  assert.throws(() => parse(bytes), /extension header without an entry/);
});

Deno.test("tar reader: trailing zero padding after the end marker is ignored", () => {
  const bytes = new TarWriter().add({ name: "f", data: "x" }).finish();
  const padded = new Uint8Array(10240);
  padded.set(bytes);
  assert.equal(parse(padded).entries.length, 1);
});

Deno.test("tar reader: GNU sparse entries are reported as not implemented", () => {
  const bytes = new TarWriter().add({ name: "s", data: "", pax: { "GNU.sparse.major": "1" } })
    .finish();
  assert.throws(() => parse(bytes), (err) => err instanceof NotImplementedError);
});

Deno.test("tar reader: header-only types carry no data even with a size field", () => {
  // A hardlink header claiming 10 bytes is followed directly by the next header.
  const w = new TarWriter();
  const hdr = encodeTarHeader({ name: "h", type: "hardlink", linkname: "f" });
  // Patch the size field to 10 (octal "12") and fix the checksum.
  hdr.set(enc.encode("00000000012\0"), 124);
  hdr.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of hdr) sum += b;
  hdr.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  w.add({ name: "f", data: "data" }).addRaw(hdr).add({ name: "g", data: "z" });
  const e = parse(w.finish()).entries;
  assert.deepEqual(e.map((x) => [x.header.name, x.header.size, x.data]), [
    ["f", 4, "data"],
    ["h", 0, ""],
    ["g", 1, "z"],
  ]);
});

Deno.test("tarEntries: iterates entries with streamed bodies; skipped bodies are fine", async () => {
  const w = new TarWriter();
  w.add({ name: "manifest.json", data: '{"a":1}' });
  w.add({ name: "skip", data: "s".repeat(5000) });
  w.add({ name: "blob", data: "b".repeat(70000) });
  const bytes = w.finish();
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < bytes.length; i += 1000) yield bytes.slice(i, i + 1000);
  }
  const seen: Array<[string, number]> = [];
  for await (const { header, body } of tarEntries(source())) {
    if (header.name === "skip") continue;
    let n = 0;
    for await (const c of body) n += c.length;
    seen.push([header.name, n]);
  }
  assert.deepEqual(seen, [["manifest.json", 7], ["blob", 70000]]);
});

// Cross-check against archives written by GNU tar from a real tree.
Deno.test({
  name: "tar reader: archives written by GNU tar in gnu, posix and ustar formats",
  ignore: !fs.existsSync("/usr/bin/tar"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tar-gnu-" });
    try {
      const src = `${dir}/src`;
      fs.mkdirSync(`${src}/sub/deeper`, { recursive: true });
      fs.writeFileSync(`${src}/sub/file.txt`, "hello\n");
      fs.writeFileSync(`${src}/big.bin`, new Uint8Array(100_000).map((_, i) => i % 251));
      fs.symlinkSync("sub/file.txt", `${src}/link`);
      fs.linkSync(`${src}/sub/file.txt`, `${src}/sub/zz-hard`);
      fs.chmodSync(`${src}/big.bin`, 0o4750);
      const longDir = `${src}/${"x".repeat(60)}/${"y".repeat(60)}`;
      fs.mkdirSync(longDir, { recursive: true });
      fs.writeFileSync(`${longDir}/${"z".repeat(90)}`, "long");
      fs.utimesSync(`${src}/sub/file.txt`, 1600000000, 1600000000.5);
      const formats = ["gnu", "posix", "ustar"];
      for (const format of formats) {
        const out = `${dir}/${format}.tar`;
        const cmd = new Deno.Command("tar", {
          args: ["--format", format, "-C", src, "-cf", out, "--sort=name", "."],
          stderr: "piped",
        });
        const r = await cmd.output();
        if (!r.success) {
          // ustar cannot hold every name; GNU tar says so and still writes the rest.
          assert.equal(format, "ustar", dec.decode(r.stderr));
        }
        const { entries, ended } = parse(fs.readFileSync(out), 4093);
        assert.equal(ended, true);
        const by = Object.fromEntries(entries.map((e) => [e.header.name.replace(/\/$/, ""), e]));
        assert.equal(by["./sub/file.txt"].data, "hello\n");
        assert.equal(by["./big.bin"].header.size, 100_000);
        assert.equal(by["./big.bin"].header.mode, 0o4750);
        assert.equal(by["./link"].header.type, "symlink");
        assert.equal(by["./link"].header.linkname, "sub/file.txt");
        assert.equal(by["./sub/zz-hard"].header.type, "hardlink");
        assert.equal(by["./sub/deeper"].header.type, "dir");
        assert.equal(by["./sub/file.txt"].header.mtime, 1600000000);
        if (format === "posix") assert.equal(by["./sub/file.txt"].header.mtimeNsec, 500000000);
        if (format !== "ustar") {
          const longName = `./${"x".repeat(60)}/${"y".repeat(60)}/${"z".repeat(90)}`;
          assert.equal(by[longName].data, "long");
        }
        const st = fs.lstatSync(`${src}/sub/file.txt`);
        assert.equal(by["./sub/file.txt"].header.uid, st.uid);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
