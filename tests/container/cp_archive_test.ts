/**
 * `docker cp` tar streams at the engine (issue 4): `archiveOut` of a file, a directory and
 * `dir/.`; `archiveIn` into running and stopped containers, read back, owners kept; refusals
 * (not a directory, missing path, garbage, `..`, an archive link used as a parent, a dir/file
 * clash) that leave the container untouched and no mount behind.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { requires } from "../_helpers/requires.ts";
import { collectLogs, tempEngine } from "../daemon/_engine.ts";
import { TarWriter, type TarWriterEntry } from "../../src/image/tar_writer.ts";
import { tarEntries } from "../../src/image/tar_reader.ts";
import type { ContainerArchive } from "../../src/engine_api.ts";

/** A tar archive of `entries` as a stream. */
function tarOf(entries: TarWriterEntry[]): ReadableStream<Uint8Array> {
  const w = new TarWriter();
  for (const e of entries) w.add(e);
  return ReadableStream.from([w.finish()]);
}

/** Bytes as a stream. */
function bytesOf(data: Uint8Array): ReadableStream<Uint8Array> {
  return ReadableStream.from([data]);
}

/** Every entry of an archive: name → type, owner and text content. */
async function readTar(
  a: ContainerArchive,
): Promise<Map<string, { type: string; uid: number; gid: number; text: string }>> {
  const out = new Map<string, { type: string; uid: number; gid: number; text: string }>();
  for await (const { header, body } of tarEntries(a.tar)) {
    const parts: Uint8Array[] = [];
    for await (const c of body) parts.push(c);
    const text = new TextDecoder().decode(await new Blob(parts as BlobPart[]).bytes());
    out.set(header.name, { type: header.type, uid: header.uid, gid: header.gid, text });
  }
  return out;
}

async function rejectsKind(p: Promise<unknown>, kind: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error & { kind?: string }) => {
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, re);
    assert.ok(!err.message.includes("\n"), "one-line error");
    return true;
  });
}

Deno.test({
  name: "cp archive: tar out of files and directories, running and stopped",
  ...requires("root", "overlay"),
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const before = fs.readFileSync("/proc/self/mountinfo", "utf8");
      await e.create({
        image: "busybox",
        network: "none",
        name: "out1",
        cmd: [
          "sh",
          "-c",
          "mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b && " +
          "chown 7:8 /data/a && ln /data/a /data/hard && ln -s /data /lnk && sleep 600",
        ],
      });
      await e.start("out1");
      // The command sets things up asynchronously: wait for its last step (the link).
      for (let i = 0; i < 100; i++) {
        if ((await e.statPath!("out1", "/lnk").catch(() => null)) !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }

      // A file: one entry named by its base name.
      const host = await e.archiveOut!("out1", "/etc/hostname");
      assert.equal(host.stat.name, "hostname");
      assert.equal(host.stat.mode & 0o777, 0o644);
      const hostEntries = await readTar(host);
      assert.deepEqual([...hostEntries.keys()], ["hostname"]);
      assert.equal(hostEntries.get("hostname")!.text.trim().length > 0, true);

      // A directory: entries under its name, owners and hard links kept.
      const data = await readTar(await e.archiveOut!("out1", "/data"));
      assert.deepEqual([...data.keys()].sort(), [
        "data/",
        "data/a",
        "data/hard",
        "data/sub/",
        "data/sub/b",
      ]);
      assert.equal(data.get("data/a")!.text, "a\n");
      assert.equal(data.get("data/a")!.uid, 7);
      assert.equal(data.get("data/a")!.gid, 8);
      assert.equal(data.get("data/hard")!.type, "hardlink");
      // "dir/." archives the contents under ".".
      const dot = await readTar(await e.archiveOut!("out1", "/data/."));
      assert.ok(dot.has("./") && dot.has("./sub/b"), [...dot.keys()].join(","));
      // A trailing symlink is archived as a link; with "/" it is followed.
      const lnk = await e.archiveOut!("out1", "/lnk");
      assert.equal(lnk.stat.linkTarget, "/data");
      assert.equal((await readTar(lnk)).get("lnk")!.type, "symlink");
      assert.ok((await readTar(await e.archiveOut!("out1", "/lnk/"))).has("lnk/sub/b"));

      await rejectsKind(
        e.archiveOut!("out1", "/nope"),
        "NotFound",
        /^Could not find the file \/nope in container out1$/,
      );

      // Stopped: the same through the privately mounted rootfs; nothing left mounted.
      await e.kill("out1", "SIGKILL");
      await e.wait("out1");
      const stopped = await e.archiveOut!("out1", "/data/sub");
      assert.deepEqual([...(await readTar(stopped)).keys()], ["sub/", "sub/b"]);
      // Cancelled half-way: the mount goes too.
      const cancelled = await e.archiveOut!("out1", "/bin");
      await cancelled.tar.cancel();
      await rejectsKind(
        e.archiveOut!("out1", "/nope"),
        "NotFound",
        /Could not find the file \/nope/,
      );
      assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8"), before);
    } finally {
      await t.cleanup();
    }
  },
});

Deno.test({
  name: "cp archive: tar in, running and stopped, refusals change nothing",
  ...requires("root", "overlay"),
  async fn() {
    const t = await tempEngine();
    try {
      const e = t.engine;
      const before = fs.readFileSync("/proc/self/mountinfo", "utf8");
      const { Id: id } = await e.create({
        image: "busybox",
        network: "none",
        name: "in1",
        cmd: [
          "sh",
          "-c",
          "ls -lnd /tmp/in; ls -ln /tmp/in/d; cat /tmp/in/d/f /tmp/in/abs/x; readlink /tmp/in/l",
        ],
      });
      // Stopped (created): extract, then the container sees it with the archive's owners.
      await e.archiveIn!(
        "in1",
        "/tmp",
        tarOf([
          { name: "in/", type: "dir", mode: 0o750, uid: 5, gid: 6 },
          { name: "in/d/", type: "dir", mode: 0o755 },
          { name: "in/d/f", data: "hello\n", mode: 0o640, uid: 1234, gid: 55, mtime: 1_000_000 },
          { name: "/in/abs/x", data: "abs\n" }, // absolute names land under the target
          { name: "in/l", type: "symlink", linkname: "/etc/passwd" },
        ]),
      );
      assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8"), before);
      await e.start(id);
      assert.equal(await e.wait(id), 0);
      const logs = await collectLogs(e.logs(id, { stdout: true, stderr: true }));
      assert.match(logs.stdout, /drwxr-x---\s+\d+\s+5\s+6\s.*\/tmp\/in\n/, logs.stdout);
      assert.match(logs.stdout, /-rw-r-----\s+1\s+1234\s+55\s+6 .*f\n/, logs.stdout);
      assert.match(logs.stdout, /hello\nabs\n\/etc\/passwd\n$/, logs.stdout);

      // Exited: round trip through archiveOut.
      const back = await e.archiveOut!("in1", "/tmp/in/d/f");
      assert.equal(back.stat.size, 6);
      let n = 0;
      for await (const { header, body } of tarEntries(back.tar)) {
        n++;
        assert.equal(header.name, "f");
        assert.equal(header.uid, 1234);
        assert.equal(header.mtime, 1_000_000);
        for await (const _ of body) { /* drain */ }
      }
      assert.equal(n, 1);

      // Running: extract into a directory reached through a symlink.
      await e.create({ image: "busybox", network: "none", name: "in2", cmd: ["sleep", "600"] });
      await e.start("in2");
      await e.archiveIn!("in2", "/tmp", tarOf([{ name: "tdir/", type: "dir" }]));
      await e.archiveIn!("in2", "/tmp", tarOf([{ name: "tl", type: "symlink", linkname: "tdir" }]));
      await e.archiveIn!("in2", "/tmp/tl", tarOf([{ name: "g", data: "via link\n" }]));
      const g = await readTar(await e.archiveOut!("in2", "/tmp/tdir/g"));
      assert.equal(g.get("g")!.text, "via link\n");
      // Hard links inside the archive stay hard links in the container.
      await e.archiveIn!(
        "in2",
        "/tmp/tdir",
        tarOf([{ name: "h1", data: "same\n" }, { name: "h2", type: "hardlink", linkname: "h1" }]),
      );
      const hl = await readTar(await e.archiveOut!("in2", "/tmp/tdir"));
      assert.equal(hl.get("tdir/h1")!.text, "same\n");
      assert.equal(hl.get("tdir/h2")!.type, "hardlink");

      const snapshot = async (): Promise<string[]> =>
        [...(await readTar(await e.archiveOut!("in2", "/tmp"))).keys()].sort();
      const start = await snapshot();

      // Destination not a directory / missing.
      await rejectsKind(
        e.archiveIn!("in2", "/etc/hostname", tarOf([{ name: "x", data: "x" }])),
        "InvalidArgument",
        /not a directory/,
      );
      await rejectsKind(
        e.archiveIn!("in2", "/nope", tarOf([{ name: "x", data: "x" }])),
        "NotFound",
        /^Could not find the file \/nope in container in2$/,
      );
      // Garbage, and a good entry followed by garbage: nothing half-extracted.
      const junk = new Uint8Array(4096).map((_, i) => (i * 7919) & 0xff);
      await rejectsKind(e.archiveIn!("in2", "/tmp", bytesOf(junk)), "InvalidArgument", /tar/);
      const w = new TarWriter();
      w.add({ name: "first.txt", data: "first\n" });
      const good = w.finish({ trailer: false });
      const mixed = new Uint8Array(good.length + junk.length);
      mixed.set(good);
      mixed.set(junk, good.length);
      await rejectsKind(e.archiveIn!("in2", "/tmp", bytesOf(mixed)), "InvalidArgument", /tar/);
      // `..` names are refused, even after good entries.
      await rejectsKind(
        e.archiveIn!(
          "in2",
          "/tmp",
          tarOf([{ name: "ok.txt", data: "ok" }, { name: "../../escape.txt", data: "bad" }]),
        ),
        "InvalidArgument",
        /leaves the target/,
      );
      // An archive symlink used as a parent directory: refused, the host untouched.
      const hostDir = await Deno.makeTempDir({ prefix: "dts-cp-host-" });
      try {
        await rejectsKind(
          e.archiveIn!(
            "in2",
            "/tmp",
            tarOf([
              { name: "esc", type: "symlink", linkname: hostDir },
              { name: "esc/pwn", data: "pwn" },
            ]),
          ),
          "InvalidArgument",
          /is not a directory/,
        );
        assert.deepEqual(fs.readdirSync(hostDir), []);
      } finally {
        fs.rmSync(hostDir, { recursive: true, force: true });
      }
      // A hard link through an archive symlink to a host file: refused, nothing copied in.
      await rejectsKind(
        e.archiveIn!(
          "in2",
          "/tmp",
          tarOf([
            { name: "etcl", type: "symlink", linkname: "/etc" },
            { name: "stolen", type: "hardlink", linkname: "etcl/hostname" },
          ]),
        ),
        "InvalidArgument",
        /is not a directory/,
      );
      // A file over an existing directory, with docker CLI's noOverwriteDirNonDir.
      await rejectsKind(
        e.archiveIn!(
          "in2",
          "/tmp",
          tarOf([{ name: "zz", data: "1" }, { name: "tdir", data: "f" }]),
          {
            noOverwriteDirNonDir: true,
          },
        ),
        "Conflict",
        /Cannot overwrite directory "\/tmp\/tdir" with non-directory/,
      );
      assert.deepEqual(await snapshot(), start);

      // copyUIDGID (`cp -a`) with a container user: that user owns what is extracted.
      await e.create({
        image: "busybox",
        network: "none",
        name: "usr",
        user: "1000:2000",
        cmd: ["true"],
      });
      await e.archiveIn!(
        "usr",
        "/tmp",
        tarOf([{ name: "o/", type: "dir" }, { name: "o/f", data: "f", uid: 9 }]),
        {
          copyUIDGID: true,
        },
      );
      await e.archiveIn!("usr", "/tmp", tarOf([{ name: "p", data: "p", uid: 9, gid: 3 }]));
      const owned = await e.archiveOut!("usr", "/tmp");
      const owners: Record<string, number[]> = {};
      for await (const { header, body } of tarEntries(owned.tar)) {
        owners[header.name] = [header.uid, header.gid];
        for await (const _ of body) { /* drain */ }
      }
      assert.deepEqual(owners["tmp/o/"], [1000, 2000]);
      assert.deepEqual(owners["tmp/o/f"], [1000, 2000]);
      assert.deepEqual(owners["tmp/p"], [9, 3]);

      // Read-only containers refuse.
      await e.create({
        image: "busybox",
        network: "none",
        name: "ro",
        readOnly: true,
        cmd: ["true"],
      });
      await rejectsKind(e.archiveIn!("ro", "/tmp", tarOf([])), "Conflict", /read-only/);
      assert.equal(fs.readFileSync("/proc/self/mountinfo", "utf8"), before);
      // No staging directory left behind.
      assert.deepEqual(fs.readdirSync(`${t.root}/tmp/cp`), []);
    } finally {
      await t.cleanup();
    }
  },
});
