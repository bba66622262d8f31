/**
 * Escape suite, processes: inside a default container, new namespaces, mounts, keys, kernel
 * modules, tracing or signalling host processes and raising capabilities all fail;
 * `no-new-privileges` stops a setuid binary from gaining root; the seccomp mode and what
 * `--cap-add SYS_ADMIN`, `--privileged` and `seccomp=unconfined` change match Docker.
 *
 * Syscalls busybox has no applet for are probed by `_syscall_probe.ts`, run inside the container
 * by the host's own deno binary (bound read-only with its libc): no compiled helper.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { tarEntries } from "../../src/image/tar_reader.ts";
import { busyboxLayerTar, EscapeEnv, needs } from "./_harness.ts";

/** The status lines a check compares. */
function statusOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (
    const m of text.matchAll(
      /^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):\s+(.*)$/gm,
    )
  ) {
    out[m[1]] = m[2].replace(/\s+/g, " ");
  }
  return out;
}

const STATUS = "grep -E '^(Uid|Gid|Cap[A-Za-z]+|NoNewPrivs|Seccomp):' /proc/self/status";
const DEFAULT_CAPS = "00000000a80425fb";

Deno.test({
  name: "escape/processes: namespaces, mounts and nsenter fail in a default container",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("proc-ns");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      const script = [
        STATUS,
        'for a in -U -m -n -p -i -u; do unshare $a true 2>/tmp/e && echo "unshare $a OK" || echo "unshare $a: $(cat /tmp/e)"; done',
        "mount -t tmpfs x /mnt 2>&1 && echo MOUNTED",
        "mount -o remount,rw / 2>&1 && echo REMOUNTED",
        "umount /proc 2>&1 && echo UMOUNTED",
        "nsenter -t 1 -m true 2>&1 && echo NSENTER",
        "echo end",
      ].join("\n");
      const r = await env.run({ image: "evil/plain", cmd: ["sh", "-c", script] });
      assert.equal(r.code, 0, r.err);
      const st = statusOf(r.out);
      assert.equal(st.Seccomp, "2");
      assert.equal(st.CapBnd, DEFAULT_CAPS);
      assert.equal(st.CapEff, DEFAULT_CAPS);
      for (const flag of ["-U", "-m", "-n", "-p", "-i", "-u"]) {
        assert.match(r.out, new RegExp(`unshare ${flag}: .*Operation not permitted`), r.out);
      }
      assert.ok(!/MOUNTED|UMOUNTED|NSENTER|OK/.test(r.out), r.out);
      assert.match(r.out, /mount: permission denied|Operation not permitted/);
      assert.match(r.out, /end\n$/);
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/processes: host processes are invisible and cannot be signalled",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("proc-pids");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      // A host process of our own, to aim at: a sleeping child of the test runner.
      const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
      try {
        const hostPids = [Deno.pid, child.pid, 1];
        const script = [
          "ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' '; echo",
          ...hostPids.slice(0, 2).map((p) =>
            `[ -e /proc/${p} ] && echo "S""EE ${p}"; kill -0 ${p} 2>&1; kill -9 ${p} 2>&1; true`
          ),
          // pid 1 here is the container's own process, never the host's init.
          "cat /proc/1/cmdline | tr '\\0' ' '; echo",
        ].join("\n");
        const r = await env.run({ image: "evil/plain", cmd: ["sh", "-c", script] });
        assert.equal(r.code, 0, r.err);
        const lines = r.out.split("\n");
        const pids = lines[0].trim().split(" ").map(Number);
        // sh (pid 1) and the few commands of the pipeline; nothing of the host.
        assert.ok(pids.length <= 5 && pids.every((p) => p < 20), `pids: ${lines[0]}`);
        assert.ok(!r.out.includes("SEE"), r.out);
        for (const p of hostPids.slice(0, 2)) {
          if (p < 20) continue; // could collide with a container pid
          assert.match(r.out, new RegExp(`can't kill pid ${p}: No such process`));
        }
        assert.match(r.out, /^sh -c /m);
        // The host child is alive and untouched.
        assert.ok(fs.existsSync(`/proc/${child.pid}`));
        assert.match(Deno.readTextFileSync(`/proc/${child.pid}/stat`), /^\d+ \(sleep\) [SR]/);
      } finally {
        child.kill("SIGKILL");
        await child.status;
      }
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/processes: capabilities cannot be raised, as root or as a user",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("proc-caps");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      const root = await env.run({
        image: "evil/plain",
        cmd: [
          "sh",
          "-c",
          [
            'setpriv --inh-caps +sys_admin --ambient-caps +sys_admin sh -c "$0" 2>&1 || echo refused',
            "setpriv --inh-caps +sys_module true 2>&1 || echo refused",
          ].join("; "),
          STATUS,
        ],
      });
      assert.equal(root.code, 0, root.err);
      assert.ok(!root.out.includes("CapEff"), root.out); // the inner shell never ran
      assert.match(root.out, /refused\n.*refused\n$/s);
      const user = await env.run({
        image: "evil/plain",
        user: "1000",
        cmd: [
          "sh",
          "-c",
          `${STATUS}; unshare -U true 2>&1; setpriv --inh-caps +net_raw true 2>&1 || echo refused`,
        ],
      });
      const st = statusOf(user.out);
      assert.equal(st.Uid, "1000 1000 1000 1000");
      assert.equal(st.CapEff, "0000000000000000");
      assert.equal(st.CapPrm, "0000000000000000");
      assert.equal(st.CapBnd, DEFAULT_CAPS);
      assert.equal(st.Seccomp, "2");
      assert.match(user.out, /unshare: unshare\(0x10000000\): Operation not permitted/);
      assert.match(user.out, /refused\n$/);
    } finally {
      await env.cleanup();
    }
  },
});

/** bin/busybox of the fixture layer. */
async function busyboxBinary(): Promise<Uint8Array> {
  const tar = await busyboxLayerTar();
  for await (
    const e of tarEntries((async function* () {
      yield tar;
    })())
  ) {
    if (e.header.name.replace(/^\.?\//, "") !== "bin/busybox") continue;
    const parts: Uint8Array[] = [];
    for await (const c of e.body) parts.push(c);
    const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of parts) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
  throw new Error("No bin/busybox in the busybox layer");
}

Deno.test({
  name: "escape/processes: no-new-privileges stops a setuid-root binary from gaining root",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("proc-nnp");
    try {
      // A setuid-root busybox; invoked as `su` it keeps its privileges (busybox drops them for
      // ordinary applets). root has an empty password in this image, so su asks nothing.
      await env.loadOnBusybox("evil/suid:latest", [
        { name: "suid/", type: "dir", mode: 0o755 },
        { name: "suid/busybox", data: await busyboxBinary(), mode: 0o4755, uid: 0, gid: 0 },
        { name: "suid/su", type: "symlink", linkname: "busybox" },
        {
          name: "etc/passwd",
          data: "root::0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
          mode: 0o644,
        },
      ]);
      const cmd = ["/suid/su", "-c", STATUS, "root"];
      const without = await env.run({ image: "evil/suid", user: "1000", cmd });
      assert.equal(without.code, 0, without.err);
      const w = statusOf(without.out);
      // The setuid bit works without no-new-privileges (as in Docker)…
      assert.equal(w.Uid, "0 0 0 0");
      assert.equal(w.NoNewPrivs, "0");
      // …but root's capabilities never exceed the container's bounding set.
      assert.equal(w.CapBnd, DEFAULT_CAPS);
      assert.equal(w.CapEff, DEFAULT_CAPS);

      const nnp = await env.run({
        image: "evil/suid",
        user: "1000",
        securityOpt: ["no-new-privileges"],
        cmd: ["sh", "-c", `/suid/busybox sh -c "${STATUS}"; /suid/su -c id root 2>&1; true`],
      });
      assert.equal(nnp.code, 0, nnp.err);
      const n = statusOf(nnp.out);
      assert.equal(n.Uid, "1000 1000 1000 1000");
      assert.equal(n.NoNewPrivs, "1");
      assert.equal(n.CapEff, "0000000000000000");
      assert.ok(!/uid=0/.test(nnp.out), nnp.out);
    } finally {
      await env.cleanup();
    }
  },
});

Deno.test({
  name: "escape/processes: --cap-add SYS_ADMIN, --privileged and seccomp=unconfined as in Docker",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("proc-opts");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      const probe = `${STATUS}; unshare -m true 2>&1 && echo unshare-ok`;
      const admin = await env.run({
        image: "evil/plain",
        capAdd: ["SYS_ADMIN"],
        cmd: ["sh", "-c", `${probe}; mkdir -p /mnt && mount -t tmpfs x /mnt && echo mount-ok`],
      });
      assert.equal(admin.code, 0, admin.err);
      assert.equal(statusOf(admin.out).Seccomp, "2");
      assert.match(admin.out, /unshare-ok\nmount-ok\n$/);
      const priv = await env.run({
        image: "evil/plain",
        privileged: true,
        cmd: ["sh", "-c", probe],
      });
      assert.equal(statusOf(priv.out).Seccomp, "0");
      assert.match(priv.out, /unshare-ok\n$/);
      // Without the filter, the missing capability still refuses it.
      const unconfined = await env.run({
        image: "evil/plain",
        securityOpt: ["seccomp=unconfined"],
        cmd: ["sh", "-c", probe],
      });
      assert.equal(statusOf(unconfined.out).Seccomp, "0");
      assert.equal(statusOf(unconfined.out).CapEff, DEFAULT_CAPS);
      assert.match(unconfined.out, /Operation not permitted/);
      assert.ok(!unconfined.out.includes("unshare-ok"));
    } finally {
      await env.cleanup();
    }
  },
});

/** Run options that bind the host's deno and libc read-only, plus the probe script. */
function probeRun(env: EscapeEnv): { volumes: string[]; env: string[]; cmd: string[] } {
  const deno = fs.realpathSync(Deno.execPath());
  const libdir = Deno.build.arch === "aarch64" ? "/lib/aarch64-linux-gnu" : "/lib/x86_64-linux-gnu";
  const script = path.join(env.dir, "probe.ts");
  fs.copyFileSync(new URL("./_syscall_probe.ts", import.meta.url), script);
  const volumes = [
    `${deno}:/probe/deno:ro`,
    `${script}:/probe/probe.ts:ro`,
    `${libdir}:${libdir}:ro`,
  ];
  if (fs.existsSync("/lib64")) volumes.push("/lib64:/lib64:ro");
  return {
    volumes,
    env: ["DENO_DIR=/tmp/deno", "HOME=/tmp", "NO_COLOR=1"],
    cmd: ["/probe/deno", "run", "-A", "--no-config", "/probe/probe.ts", String(Deno.pid)],
  };
}

const EPERM = "errno:1";

Deno.test({
  name: "escape/processes: keys, bpf, perf, modules, kexec, ptrace of a host pid are refused",
  ...needs,
  async fn() {
    const env = await EscapeEnv.create("proc-syscalls");
    try {
      await env.loadOnBusybox("evil/plain:latest", []);
      const opts = probeRun(env);
      const r = await env.run({ image: "evil/plain", ...opts });
      assert.equal(r.code, 0, r.err);
      const got = JSON.parse(r.out) as Record<string, string>;
      assert.equal(got.getpid, "ok");
      for (
        const name of [
          "keyctl",
          "add_key",
          "request_key",
          "bpf",
          "perf_event_open",
          "kexec_load",
          "init_module",
          "open_by_handle_at",
          "setns",
          "mount",
          "umount2",
          "pivot_root",
          "swapon",
          "reboot",
          "syslog",
        ]
      ) assert.equal(got[name], EPERM, `${name}: ${got[name]}`);
      // ptrace is allowed by Docker's profile; a host pid simply does not exist in here.
      assert.equal(got.ptrace_host, "errno:3");

      // CAP_SYS_ADMIN opens mount-like calls (as Docker), never the keyring.
      const admin = await env.run({ image: "evil/plain", capAdd: ["SYS_ADMIN"], ...opts });
      assert.equal(admin.code, 0, admin.err);
      const a = JSON.parse(admin.out) as Record<string, string>;
      for (const name of ["keyctl", "add_key", "request_key", "kexec_load", "init_module"]) {
        assert.equal(a[name], EPERM, `${name} with SYS_ADMIN: ${a[name]}`);
      }
      assert.equal(a.mount, "ok");
      assert.equal(a.ptrace_host, "errno:3");
    } finally {
      await env.cleanup();
    }
  },
});
