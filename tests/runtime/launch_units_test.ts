/**
 * Pure parts of the launch path, no root needed: mount option translation, the credential
 * order (recorded with a fake), capability masks and Docker's exec lookup rules.
 */
import assert from "node:assert/strict";
import {
  MS_BIND,
  MS_NODEV,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_STRICTATIME,
} from "../../ffi/mount.ts";
import { normalizeDestination, planMount, planRootfs } from "../../src/runtime/mount_plan.ts";
import {
  applyCredentialPlan,
  applyCredentials,
  capMask,
  type CredentialSyscalls,
  planCredentials,
} from "../../src/runtime/credentials.ts";
import { execFailure, lookupExecutable, type StatFn } from "../../src/runtime/exec_lookup.ts";
import { hostCgroupHierarchies } from "../../src/runtime/init_rootfs.ts";
import type { OciProcess } from "../../src/runtime/oci_spec.ts";
import { DOCKER_DEFAULT_CAPS } from "./_launch_helpers.ts";

Deno.test("mount plan: tmpfs options split into flags and data", () => {
  const p = planMount({
    destination: "/dev",
    type: "tmpfs",
    source: "tmpfs",
    options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
  });
  assert.equal(p.kind, "fs");
  assert.equal(p.fstype, "tmpfs");
  assert.equal(p.flags, MS_NOSUID | MS_STRICTATIME);
  assert.equal(p.data, "mode=755,size=65536k");
  assert.equal(p.propagation, 0);
});

Deno.test("mount plan: rbind,ro,rprivate is a recursive bind with a read-only remount", () => {
  const p = planMount({
    destination: "/data/",
    type: "bind",
    source: "/host",
    options: ["rbind", "ro", "rprivate", "nosuid", "nodev", "noexec"],
  });
  assert.equal(p.kind, "bind");
  assert.equal(p.destination, "/data");
  assert.equal(p.recursive, true);
  assert.equal(p.flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  assert.equal(p.propagation, MS_PRIVATE);
  assert.equal(p.data, "");
});

Deno.test("mount plan: 'bind' option on a typeless mount, later options win, cgroup kind", () => {
  assert.equal(planMount({ destination: "/x", source: "/y", options: ["bind"] }).kind, "bind");
  assert.equal(planMount({ destination: "/x", source: "/y", options: ["bind"] }).recursive, false);
  assert.equal(planMount({ destination: "/x", type: "tmpfs", options: ["ro", "rw"] }).flags, 0);
  assert.equal(planMount({ destination: "/sys/fs/cgroup", type: "cgroup" }).kind, "cgroup");
  assert.throws(() => planMount({ destination: "rel", type: "tmpfs" }), /must be absolute/);
});

Deno.test("mount plan: destinations cannot climb out with ..", () => {
  assert.equal(normalizeDestination("/../../etc//x/./y/.."), "/etc/x");
  assert.equal(normalizeDestination("/"), "/");
});

Deno.test("mount plan: rootfs overlay keeps its data; a bind rootfs is recursive", () => {
  const o = planRootfs({
    type: "overlay",
    source: "overlay",
    options: ["lowerdir=/a:/b", "upperdir=/u", "workdir=/w"],
  });
  assert.deepEqual(o, { bind: false, flags: 0, data: "lowerdir=/a:/b,upperdir=/u,workdir=/w" });
  const b = planRootfs({ type: "bind", source: "/r", options: ["rbind"] });
  assert.deepEqual(b, { bind: true, flags: MS_BIND | MS_REC, data: "" });
});

Deno.test("capabilities: Docker's default 14 are 0xa80425fb", () => {
  assert.equal(capMask(DOCKER_DEFAULT_CAPS), 0xa80425fbn);
  assert.equal(capMask(["chown", "CAP_KILL"]), 0x21n);
  assert.throws(() => capMask(["CAP_NOPE"]), /Unknown capability "CAP_NOPE"/);
  assert.equal(capMask(["CAP_CHECKPOINT_RESTORE"], 39), 0n);
});

function recorder(): { calls: string[]; sys: CredentialSyscalls } {
  const calls: string[] = [];
  const sys: CredentialSyscalls = {
    setRlimit: (n, s, h) => calls.push(`rlimit ${n} ${s} ${h}`),
    dropBounding: (c) => calls.push(`drop ${c}`),
    keepCaps: (on) => calls.push(`keepcaps ${on}`),
    setgroups: (g) => calls.push(`setgroups ${g.join(",")}`),
    setgid: (g) => calls.push(`setgid ${g}`),
    setuid: (u) => calls.push(`setuid ${u}`),
    capset: (e, p, i) => calls.push(`capset ${e.toString(16)} ${p.toString(16)} ${i.toString(16)}`),
    raiseAmbient: (c) => calls.push(`ambient ${c}`),
    noNewPrivs: () => calls.push("nnp"),
  };
  return { calls, sys };
}

Deno.test("credentials: root keeps Docker's caps; bounding dropped before the uid change", () => {
  const { calls, sys } = recorder();
  const proc: OciProcess = {
    user: { uid: 0, gid: 0 },
    args: ["sh"],
    env: [],
    cwd: "/",
    capabilities: {
      bounding: DOCKER_DEFAULT_CAPS,
      effective: DOCKER_DEFAULT_CAPS,
      permitted: DOCKER_DEFAULT_CAPS,
    },
    rlimits: [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 2 ** 64 - 1 }],
  };
  applyCredentials(proc, sys, 40);
  const drops = calls.filter((c) => c.startsWith("drop ")).map((c) => Number(c.slice(5)));
  const kept = DOCKER_DEFAULT_CAPS.length;
  assert.equal(drops.length, 41 - kept);
  assert.equal(calls[0], "rlimit RLIMIT_NOFILE 1024 18446744073709551615");
  const rest = calls.filter((c) => !c.startsWith("drop ") && !c.startsWith("rlimit"));
  assert.deepEqual(rest, ["setgroups ", "setgid 0", "setuid 0", "capset a80425fb a80425fb 0"]);
  assert.ok(calls.indexOf("setuid 0") > calls.lastIndexOf(`drop ${drops.at(-1)}`));
});

Deno.test("credentials: the plan (made before the gate) makes no call and fails early on a bad name", () => {
  const proc: OciProcess = {
    user: { uid: 1000, gid: 1000, additionalGids: [10] },
    args: ["sh"],
    env: [],
    cwd: "/",
    capabilities: {
      bounding: ["CAP_KILL", "CAP_CHOWN"],
      effective: ["CAP_KILL"],
      permitted: ["CAP_KILL"],
      ambient: ["CAP_KILL"],
    },
  };
  // Only CAP_KILL and CAP_CHOWN are available to the init: CAP_CHOWN stays, others drop.
  const available = (1n << 5n) | (1n << 0n);
  const plan = planCredentials(proc, 40, available);
  assert.deepEqual(plan.dropBounding, [...Array(41).keys()].filter((c) => c !== 0 && c !== 5));
  assert.deepEqual(plan.caps?.ambient, [5]);
  assert.equal(plan.caps?.effective, 1n << 5n);
  const viaPlan = recorder();
  applyCredentialPlan(plan, viaPlan.sys);
  const direct = recorder();
  applyCredentials(proc, direct.sys, 40, available);
  assert.deepEqual(viaPlan.calls, direct.calls);
  assert.throws(
    () => planCredentials({ ...proc, capabilities: { bounding: ["CAP_NOPE"] } }),
    /Unknown capability "CAP_NOPE"/,
  );
});

Deno.test("credentials: a non-root user with ambient caps uses keep-caps, then capset, then ambient", () => {
  const { calls, sys } = recorder();
  applyCredentials(
    {
      user: { uid: 1000, gid: 1000, additionalGids: [10, 20] },
      args: ["sh"],
      env: [],
      cwd: "/",
      capabilities: {
        bounding: ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        effective: ["CAP_NET_BIND_SERVICE"],
        permitted: ["CAP_NET_BIND_SERVICE"],
        ambient: ["CAP_NET_BIND_SERVICE"],
      },
      noNewPrivileges: true,
    },
    sys,
    40,
  );
  const rest = calls.filter((c) => !c.startsWith("drop "));
  assert.deepEqual(rest, [
    "keepcaps true",
    "setgroups 10,20",
    "setgid 1000",
    "setuid 1000",
    "capset 400 400 400",
    "ambient 10",
    "keepcaps false",
    "nnp",
  ]);
});

function fakeStat(files: Record<string, "x" | "r" | "d">): StatFn {
  return (p) => {
    const f = files[p];
    if (!f) throw new Deno.errors.NotFound(p);
    return {
      isFile: f !== "d",
      isDirectory: f === "d",
      mode: f === "x" ? 0o755 : f === "d" ? 0o755 : 0o644,
    };
  };
}

Deno.test("exec lookup: PATH search, first executable wins, Docker's messages", () => {
  const stat = fakeStat({
    "/usr/bin/tool": "r",
    "/bin/tool": "x",
    "/bin/dir": "d",
    "/etc/passwd": "r",
  });
  const env = ["PATH=/usr/bin:/bin"];
  assert.deepEqual(lookupExecutable("tool", env, { stat }), { ok: true, path: "/bin/tool" });
  assert.deepEqual(lookupExecutable("nosuch", env, { stat }), {
    ok: false,
    exitCode: 127,
    message: 'exec: "nosuch": executable file not found in $PATH',
  });
  assert.equal(lookupExecutable("dir", env, { stat }).ok, false);
  assert.deepEqual(lookupExecutable("/etc/passwd", env, { stat }), {
    ok: false,
    exitCode: 126,
    message: 'exec: "/etc/passwd": permission denied',
  });
  assert.deepEqual(lookupExecutable("/bin/dir", env, { stat }), {
    ok: false,
    exitCode: 126,
    message: 'exec: "/bin/dir": is a directory',
  });
  assert.deepEqual(lookupExecutable("./tool", env, { stat, cwd: "/bin" }), {
    ok: true,
    path: "/bin/tool",
  });
  assert.deepEqual(lookupExecutable("/x/y", env, { stat }).ok, false);
});

Deno.test("exec lookup: no PATH in env falls back to Docker's default", () => {
  const stat = fakeStat({ "/usr/local/bin/t": "x" });
  assert.deepEqual(lookupExecutable("t", ["A=b"], { stat }), {
    ok: true,
    path: "/usr/local/bin/t",
  });
});

Deno.test("exec failure codes: ENOENT 127, EACCES/ENOEXEC 126", () => {
  assert.equal(execFailure("x", "ENOENT").exitCode, 127);
  assert.equal(execFailure("x", "EACCES").exitCode, 126);
  assert.equal(execFailure("x", "ENOEXEC").message, 'exec: "x": exec format error');
  // Docker's wording (Go's syscall error text), not errno names.
  assert.deepEqual(execFailure("sh", "E2BIG"), {
    exitCode: 126,
    message: 'exec: "sh": argument list too long',
  });
  assert.equal(execFailure("x", "EPERM").message, 'exec: "x": operation not permitted');
  assert.equal(execFailure("x", "ETXTBSY").message, 'exec: "x": text file busy');
});

Deno.test("cgroup hierarchies are read from mountinfo (v1 per controller, v2 alone)", () => {
  const v1 = [
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct",
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
  ].join("\n");
  assert.deepEqual(hostCgroupHierarchies(v1), [
    { name: "cpu,cpuacct", fstype: "cgroup", options: "cpu,cpuacct" },
    { name: "systemd", fstype: "cgroup", options: "name=systemd" },
    { name: "unified", fstype: "cgroup2", options: "" },
  ]);
  const v2 = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate";
  assert.deepEqual(hostCgroupHierarchies(v2), [{ name: "", fstype: "cgroup2", options: "" }]);
});
