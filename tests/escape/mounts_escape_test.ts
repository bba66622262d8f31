/**
 * Escape suite, mounts: images whose bind/volume/tmpfs targets, working directory and
 * /etc/hosts-like files are symlinks pointing out of the rootfs (the mount must land inside the
 * container's root), masked /proc paths, read-only /proc/sys and /sys, and host devices that a
 * default container can name (mknod) but never open.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { EscapeEnv, needs } from "./_harness.ts";

function rel(p: string): string {
  return p.replace(/^\/+/, "");
}

const UP = "../".repeat(24);

Deno.test({
  name: "escape/mounts: -v, --mount and --tmpfs targets that are symlinks out of the rootfs",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("mounts-bind");
    try {
      const c = env.canary();
      const src = path.join(env.dir, "src");
      const src2 = path.join(env.dir, "src2");
      fs.mkdirSync(src);
      fs.mkdirSync(src2);
      await env.loadOnBusybox("evil/binds:latest", [
        // Absolute with a climb, relative climb, and absolute to a path missing on the host.
        { name: "data", type: "symlink", linkname: `/../../../../${rel(c.dir)}` },
        { name: "reldata", type: "symlink", linkname: `${UP}${rel(c.dir)}` },
        { name: "made", type: "symlink", linkname: `${c.dir}/made` },
        { name: "filelink", type: "symlink", linkname: c.file },
        { name: "vol", type: "symlink", linkname: c.dir },
      ], { Volumes: { "/vol": {} } });
      fs.writeFileSync(path.join(env.dir, "hostfile"), "bound file\n");
      const r = await env.run({
        image: "evil/binds",
        volumes: [`${src}:/data`, `${path.join(env.dir, "hostfile")}:/filelink:ro`],
        mounts: [`type=bind,source=${src2},target=/made/sub/deeper`],
        tmpfs: ["/reldata/tmp"],
        cmd: [
          "sh",
          "-c",
          [
            "echo one > /data/x",
            "echo two > /made/sub/deeper/y",
            "echo three > /reldata/tmp/z",
            "cat /filelink",
            // The container sees the binds where its own symlinks lead, inside its root.
            `grep -c ' ${c.dir} ' /proc/self/mountinfo`,
          ].join(" && "),
        ],
      });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, "bound file\n1\n");
      // The binds landed inside the container's root: writes reached the sources…
      assert.equal(fs.readFileSync(path.join(src, "x"), "utf8"), "one\n");
      assert.equal(fs.readFileSync(path.join(src2, "y"), "utf8"), "two\n");
      // …and nothing reached the canary the links point at on the host.
      c.assertUntouched("bind targets through symlinks");
      assert.deepEqual(fs.readdirSync(src2), ["y"]);
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/mounts: a WorkingDir or -w through a symlink out of the rootfs",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("mounts-workdir");
    try {
      const c = env.canary();
      // The image carries its own copy of the canary path, so the links resolve inside the
      // container; resolved on the host they would lead into the real canary.
      await env.loadOnBusybox("evil/wd:latest", [
        { name: `${rel(c.dir)}/`, type: "dir", mode: 0o777 },
        { name: "wd", type: "symlink", linkname: `${c.dir}` },
        { name: "wd2", type: "symlink", linkname: `${UP}${rel(c.dir)}` },
      ], { WorkingDir: "/wd/sub" });
      const r = await env.run({ image: "evil/wd", cmd: ["sh", "-c", "pwd; echo x > here"] });
      assert.equal(r.code, 0, r.err);
      // busybox pwd prints the physical path: the container's own copy of the canary path.
      assert.equal(r.out, `${c.dir}/sub\n`);
      const r2 = await env.run({
        image: "evil/wd",
        workdir: "/wd2/made/here",
        user: "1000",
        cmd: ["sh", "-c", "pwd; echo x > here; ls -ld ."],
      });
      assert.equal(r2.code, 0, r2.err);
      // Created root-owned, as Docker's SetupWorkingDirectory does, whatever the user.
      assert.match(r2.out, new RegExp(`^${c.dir}/made/here\ndrwxr-xr-x\\s+\\d+ root `));
      c.assertUntouched("working directories through symlinks");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/mounts: a WorkingDir through a dangling symlink is created inside the root",
  // The init creates the working directory after the pivot, following links inside the root:
  // Docker/runc create a dangling link's target, and the host is never reached.
  async fn() {
    const env = await EscapeEnv.create("mounts-workdir-dangling");
    try {
      const c = env.canary();
      await env.loadOnBusybox("evil/wd:latest", [
        { name: "wd", type: "symlink", linkname: `${c.dir}/wdmade` },
      ], { WorkingDir: "/wd/sub" });
      const r = await env.run({ image: "evil/wd", cmd: ["sh", "-c", "pwd; echo x > here"] });
      assert.equal(r.code, 0, r.err);
      // The link's target is created inside the container's root; pwd prints its physical path.
      assert.equal(r.out, `${c.dir}/wdmade/sub\n`);
      c.assertUntouched("working directory through a dangling symlink");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/mounts: /etc/hosts, hostname and resolv.conf that are symlinks out of the rootfs",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("mounts-etc");
    try {
      const c = env.canary();
      await env.loadOnBusybox("evil/etc:latest", [
        { name: "etc/hosts", type: "symlink", linkname: c.file },
        { name: "etc/hostname", type: "symlink", linkname: `${c.dir}/hostname` },
        { name: "etc/resolv.conf", type: "symlink", linkname: `${UP}${rel(c.dir)}/resolv.conf` },
      ]);
      const r = await env.run({
        image: "evil/etc",
        hostname: "boxname",
        cmd: [
          "sh",
          "-c",
          "cat /etc/hosts /etc/hostname; echo nameserver 9.9.9.9 > /etc/resolv.conf",
        ],
      });
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /127\.0\.0\.1\tlocalhost/);
      assert.match(r.out, /boxname\n$/);
      c.assertUntouched("etc files through symlinks");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/mounts: masked /proc and /sys paths read as empty",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("mounts-masked");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      const files = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"];
      const dirs = ["/proc/scsi", "/sys/firmware", "/proc/acpi"];
      const script = [
        ...files.map((f) => `if [ -e ${f} ]; then echo "${f} $(cat ${f} | wc -c)"; fi`),
        ...dirs.map((d) => `if [ -e ${d} ]; then echo "${d} $(ls -A ${d} | wc -l)"; fi`),
        // A write to a masked file goes to /dev/null or fails: either way nothing happens.
        "echo x > /proc/keys 2>/dev/null; echo done",
      ].join("\n");
      const r = await env.run({ image: "evil/plain", cmd: ["sh", "-c", script] });
      assert.equal(r.code, 0, r.err);
      const lines = r.out.trim().split("\n");
      assert.equal(lines.pop(), "done");
      for (const line of lines) assert.match(line, / 0$/, `not masked: ${line}`);
      // The ones the host has are present and empty inside (a mask, not a missing file).
      for (const p of [...files, ...dirs]) {
        if (fs.existsSync(p)) assert.ok(lines.some((l) => l.startsWith(`${p} `)), p);
      }
      assert.ok(lines.length >= 3, r.out);
      // With --privileged nothing is masked (as Docker).
      const p = await env.run({
        image: "evil/plain",
        privileged: true,
        cmd: ["sh", "-c", "ls -A /sys/firmware | wc -l"],
      });
      if (fs.readdirSync("/sys/firmware").length > 0) assert.notEqual(p.out.trim(), "0");
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/mounts: /proc/sys, /proc/sysrq-trigger, /sys and cgroupfs are not writable",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("mounts-ro");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      const before = fs.readFileSync("/proc/sys/kernel/printk_ratelimit", "utf8");
      // Every attempt writes back what is already there (or nothing): harmless even if allowed.
      // (`true >`, not `: >`: a failed redirection on a special builtin ends a POSIX shell.)
      const script = [
        "v=$(cat /proc/sys/kernel/printk_ratelimit)",
        '{ echo "$v" > /proc/sys/kernel/printk_ratelimit; } 2>/dev/null && echo WROTE printk',
        "[ -e /proc/sysrq-trigger ] && { { true > /proc/sysrq-trigger; } 2>/dev/null && echo WROTE sysrq; }",
        "{ echo 1 > /proc/sys/kernel/domainname; } 2>/dev/null && echo WROTE domainname",
        "for f in /sys/kernel/uevent_helper /sys/kernel/mm/transparent_hugepage/enabled; do",
        '  [ -e "$f" ] && { { true > "$f"; } 2>/dev/null && echo "WROTE $f"; }',
        "done",
        "mkdir /sys/fs/cgroup/pids/escape-$$ 2>/dev/null && { echo WROTE cgroup; rmdir /sys/fs/cgroup/pids/escape-$$; }",
        "touch /sys/escape 2>/dev/null && echo WROTE sys",
        "true",
        "grep -E ' /(proc/sys|sys) ' /proc/self/mountinfo | grep -vc ' ro,' || true",
        "echo end",
      ].join("\n");
      const r = await env.run({ image: "evil/plain", cmd: ["sh", "-c", script] });
      assert.equal(r.code, 0, r.err + r.out);
      assert.ok(!r.out.includes("WROTE"), r.out);
      assert.equal(r.out, "0\nend\n", "a /proc/sys or /sys mount is writable");
      assert.equal(fs.readFileSync("/proc/sys/kernel/printk_ratelimit", "utf8"), before);
    } finally {
      await env.cleanup();
    }
  },
});

/** The host's root block device as `major:minor`, or of the first disk in /proc/partitions. */
function hostDisk(): { major: number; minor: number } | undefined {
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const f = line.split(" ");
    if (f[4] !== "/") continue;
    const [major, minor] = f[2].split(":").map(Number);
    if (major !== 0) return { major, minor };
  }
  const part = Deno.readTextFileSync("/proc/partitions").split("\n").slice(2)
    .map((l) => l.trim().split(/\s+/)).find((f) => f.length === 4);
  return part ? { major: Number(part[0]), minor: Number(part[1]) } : undefined;
}

Deno.test({
  name: "escape/mounts: host devices made with mknod cannot be opened; /dev holds only defaults",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("mounts-dev");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      const disk = hostDisk();
      assert.ok(disk, "no host block device found");
      const nodes: [string, string, number, number][] = [
        ["disk", "b", disk.major, disk.minor],
        ["mem", "c", 1, 1],
        ["kmem", "c", 1, 2],
        ["port", "c", 1, 4],
        ["kmsg", "c", 1, 11],
      ];
      const script = [
        ...nodes.map(([n, t, ma, mi]) =>
          `mknod /tmp/${n} ${t} ${ma} ${mi} && echo "mknod ${n} ok"; ` +
          `head -c 1 /tmp/${n} > /dev/null 2>/tmp/${n}.err && echo "READ ${n}" || cat /tmp/${n}.err`
        ),
        "ls /dev | sort | tr '\\n' ' '",
      ].join("\n");
      const r = await env.run({ image: "evil/plain", cmd: ["sh", "-c", script] });
      assert.equal(r.code, 0, r.err);
      assert.ok(!r.out.includes("READ"), r.out);
      for (const [n] of nodes) {
        // Docker keeps CAP_MKNOD: the node is made, but the device cgroup refuses to open it.
        assert.match(r.out, new RegExp(`mknod ${n} ok\\nhead: /tmp/${n}: Operation not permitted`));
      }
      const devs = r.out.trim().split("\n").pop()!.trim().split(" ");
      assert.deepEqual(
        devs.filter((d) =>
          ![
            "console",
            "core",
            "fd",
            "full",
            "mqueue",
            "null",
            "ptmx",
            "pts",
            "random",
            "shm",
            "stderr",
            "stdin",
            "stdout",
            "tty",
            "urandom",
            "zero",
          ].includes(d)
        ),
        [],
        `unexpected /dev entries: ${devs}`,
      );
      // Without CAP_MKNOD the node cannot even be made.
      const d = await env.run({
        image: "evil/plain",
        capDrop: ["MKNOD"],
        cmd: ["sh", "-c", `mknod /tmp/disk b ${disk.major} ${disk.minor}`],
      });
      assert.notEqual(d.code, 0);
      assert.match(d.err, /Operation not permitted/);
    } finally {
      await env.cleanup();
    }
  },
});
