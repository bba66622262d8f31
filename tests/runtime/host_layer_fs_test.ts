import assert from "node:assert/strict";
import * as fs from "node:fs";
import { HostLayerFs } from "../../src/runtime/host_layer_fs.ts";
import { lgetxattr, llistxattr, makedev } from "../../ffi/fs.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";
import { errorCode } from "../../src/storage/layer_fs.ts";
import { requires } from "../_helpers/requires.ts";

async function withTemp(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-hostfs-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const h = new HostLayerFs();

function statTimes(path: string): string {
  const out = new Deno.Command("stat", { args: ["-c", "%.9X %.9Y", path] }).outputSync();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("makedev matches glibc's encoding", () => {
  assert.equal(makedev(1, 3), 0x103n);
  assert.equal(makedev(8, 1), 0x801n);
  assert.equal(makedev(0x1234, 0x56789), 0x100056723489n);
});

Deno.test("host layer fs: files, symlinks, links, times and no-follow creation", async () => {
  await withTemp((dir) => {
    const f = `${dir}/f`;
    const fd = h.createFile(f, 0o600);
    h.write(fd, new TextEncoder().encode("data"));
    h.close(fd);
    assert.equal(fs.readFileSync(f, "utf8"), "data");
    assert.deepEqual(h.lstat(f), { type: "file", mode: 0o600, uid: Deno.uid(), gid: Deno.gid() });
    assert.equal(h.lstat(`${dir}/missing`), undefined);
    h.symlink("/etc/passwd", `${dir}/l`);
    assert.equal(h.lstat(`${dir}/l`)?.type, "symlink");
    assert.equal(h.readlink(`${dir}/l`), "/etc/passwd");
    // O_EXCL|O_NOFOLLOW: never opens through an existing symlink.
    assert.throws(() => h.createFile(`${dir}/l`, 0o600), (e) => errorCode(e) === "EEXIST");
    h.link(f, `${dir}/hard`);
    assert.equal(fs.lstatSync(`${dir}/hard`).ino, fs.lstatSync(f).ino);
    h.lutimes(`${dir}/l`, [5, 6], [1_500_000_000, 123_456_789]);
    // node:fs stats in Deno keep only milliseconds; stat(1) shows the nanoseconds.
    assert.equal(statTimes(`${dir}/l`), "5.000000006 1500000000.123456789");
    assert.ok(fs.statSync(`${dir}/l`).mtimeMs !== 1_500_000_000_123, "target untouched");
    h.mkdir(`${dir}/d`, 0o755);
    h.chmod(`${dir}/d`, 0o1777);
    assert.equal(h.lstat(`${dir}/d`)?.mode, 0o1777);
    h.syncfs(dir);
    h.removeAll(`${dir}/d`);
    h.removeAll(`${dir}/l`);
    assert.ok(fs.existsSync("/etc/passwd"), "removeAll does not follow symlinks");
  });
});

Deno.test({
  name: "host layer fs (root): mknod, lchown, xattrs",
  ...requires("root"),
  async fn() {
    await withTemp((dir) => {
      h.mknod(`${dir}/c`, "char", 0o620, 4, 64);
      h.mknod(`${dir}/b`, "block", 0o600, 7, 0);
      h.mknod(`${dir}/p`, "fifo", 0o644, 0, 0);
      assert.equal(fs.lstatSync(`${dir}/c`).rdev, (4 << 8) | 64);
      h.mknod(`${dir}/wide`, "char", 0o600, 0x234, 0x56789);
      assert.equal(BigInt(fs.lstatSync(`${dir}/wide`).rdev), makedev(0x234, 0x56789));
      assert.ok(fs.lstatSync(`${dir}/b`).isBlockDevice());
      assert.ok(fs.lstatSync(`${dir}/p`).isFIFO());
      h.symlink("c", `${dir}/l`);
      h.lchown(`${dir}/l`, 123, 456);
      assert.deepEqual([fs.lstatSync(`${dir}/l`).uid, fs.lstatSync(`${dir}/c`).uid], [123, 0]);
      h.lsetxattr(`${dir}/c`, "trusted.test", new Uint8Array([0, 1, 2]));
      h.lsetxattr(`${dir}/c`, "trusted.empty", new Uint8Array());
      assert.deepEqual(lgetxattr(`${dir}/c`, "trusted.empty"), new Uint8Array());
      assert.deepEqual(lgetxattr(`${dir}/c`, "trusted.test"), new Uint8Array([0, 1, 2]));
      assert.equal(lgetxattr(`${dir}/c`, "trusted.none"), undefined);
      assert.ok(llistxattr(`${dir}/c`).includes("trusted.test"));
      assert.throws(
        () => h.mknod(`${dir}/c`, "char", 0, 0, 0),
        (e) => e instanceof SyscallError && e.code === "EEXIST" && e.message.includes(`${dir}/c`),
      );
    });
  },
});
