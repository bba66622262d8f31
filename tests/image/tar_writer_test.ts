import assert from "node:assert/strict";
import * as fs from "node:fs";
import { encodeTarHeader, paxRecord, tarStream, TarWriter } from "../../src/image/tar_writer.ts";
import { tarEntries } from "../../src/image/tar_reader.ts";
import { InvalidArgumentError } from "../../src/errors.ts";

const dec = new TextDecoder();

Deno.test("tar writer: pax record length counts its own digits, in bytes", () => {
  assert.equal(dec.decode(paxRecord("path", "a")), "9 path=a\n");
  const r = paxRecord("path", "é".repeat(50));
  assert.equal(Number(dec.decode(r).split(" ")[0]), r.length);
  // 93 bytes of value: 99 in all; 94 bytes: "100" would not count itself, so 101.
  assert.equal(dec.decode(paxRecord("k", "x".repeat(93))), `99 k=${"x".repeat(93)}\n`);
  assert.equal(dec.decode(paxRecord("k", "x".repeat(94))), `101 k=${"x".repeat(94)}\n`);
});

Deno.test("tar writer: ustar refuses what it cannot hold", () => {
  const w = new TarWriter({ format: "ustar" });
  assert.throws(() => w.add({ name: "x".repeat(300) }), InvalidArgumentError);
  assert.throws(() => w.add({ name: "f", uid: 1 << 30 }), /does not fit/);
  assert.throws(() => w.add({ name: "f", xattrs: { "user.a": "b" } }), /pax records/);
  assert.throws(() => w.add({ name: "f", data: "abc", size: 2 }), /does not match/);
  assert.throws(() => w.add({ name: "l", type: "symlink" }), /needs a linkname/);
  assert.throws(() => w.add({ name: "d", type: "dir", size: 3 }), /carries no data/);
});

Deno.test("tar writer: names that fit ustar's prefix split use no pax header", () => {
  const name = `${"p".repeat(120)}/${"n".repeat(90)}`;
  const hdr = encodeTarHeader({ name }, { format: "ustar" });
  assert.equal(hdr.length, 512);
});

Deno.test("tarStream: streams bodies and checks their sizes", async () => {
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 10; i++) yield new Uint8Array(1000).fill(i);
  }
  const stream = tarStream([
    { name: "small", body: "hello" },
    { name: "big", size: 10_000, body: body() },
    { name: "dir", type: "dir" },
  ]);
  const got: Array<[string, number]> = [];
  for await (const { header, body } of tarEntries(stream)) {
    let n = 0;
    for await (const c of body) n += c.length;
    got.push([header.name, n]);
  }
  assert.deepEqual(got, [["small", 5], ["big", 10_000], ["dir/", 0]]);
  const bad = tarStream([{ name: "x", size: 5, body: body() }]);
  await assert.rejects(async () => {
    for await (const _ of bad) { /* drain */ }
  }, /longer than its size/);
});

Deno.test({
  name: "tar writer: GNU tar lists and extracts what we write, pax and gnu",
  ignore: !fs.existsSync("/usr/bin/tar"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "docker-ts-tarw-" });
    try {
      for (const format of ["pax", "gnu"] as const) {
        const w = new TarWriter({ format });
        const long = `${"d".repeat(80)}/${"e".repeat(80)}/${"f".repeat(80)}`;
        w.add({ name: "sub", type: "dir", mode: 0o750 });
        w.add({ name: "sub/file", data: "content", mode: 0o640, mtime: 1_234_567_890 });
        w.add({ name: long, data: "long" });
        w.add({ name: "lnk", type: "symlink", linkname: "t/".repeat(60) + "x" });
        w.add({ name: "hard", type: "hardlink", linkname: "sub/file" });
        w.add({ name: "fifo", type: "fifo" });
        const file = `${dir}/${format}.tar`;
        fs.writeFileSync(file, w.finish());
        const out = `${dir}/${format}`;
        fs.mkdirSync(out);
        const r = await new Deno.Command("tar", { args: ["-xf", file, "-C", out], stderr: "piped" })
          .output();
        assert.ok(r.success, dec.decode(r.stderr));
        assert.equal(fs.readFileSync(`${out}/sub/file`, "utf8"), "content");
        assert.equal(fs.statSync(`${out}/sub/file`).mode & 0o7777, 0o640);
        assert.equal(fs.statSync(`${out}/sub/file`).mtimeMs, 1_234_567_890_000);
        assert.equal(fs.readFileSync(`${out}/${long}`, "utf8"), "long");
        assert.equal(fs.readlinkSync(`${out}/lnk`), "t/".repeat(60) + "x");
        assert.equal(fs.statSync(`${out}/hard`).ino, fs.statSync(`${out}/sub/file`).ino);
        assert.ok(fs.lstatSync(`${out}/fifo`).isFIFO());
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
