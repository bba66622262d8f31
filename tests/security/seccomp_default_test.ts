import assert from "node:assert/strict";
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  compileProfileDetailed,
  defaultProfile,
} from "../../src/security/seccomp/mod.ts";
import { interpreter, type SeccompData } from "../../src/security/seccomp/_bpf_interp.ts";
import { DEFAULT_CAPABILITIES } from "../../src/security/capabilities.ts";
import {
  SYSCALLS_AARCH64,
  SYSCALLS_I386,
  SYSCALLS_X32,
  SYSCALLS_X86_64,
} from "../../src/security/seccomp/syscall_tables.ts";

type Run = (name: string, args?: (bigint | number)[]) => string;

interface Target {
  arch: "x86_64" | "aarch64";
  audit: number;
  table: Readonly<Record<string, number>>;
}
const TARGETS: Target[] = [
  { arch: "x86_64", audit: AUDIT_ARCH_X86_64, table: SYSCALLS_X86_64 },
  { arch: "aarch64", audit: AUDIT_ARCH_AARCH64, table: SYSCALLS_AARCH64 },
];

function runner(t: Target, caps: readonly string[], kernel = "6.18"): Run {
  const c = compileProfileDetailed(defaultProfile(), { arch: t.arch, capabilities: caps, kernel });
  const run = interpreter(c.program);
  return (name, args = []) => {
    const nr = t.table[name];
    assert.ok(nr !== undefined, `${name} unknown on ${t.arch}`);
    return run({ nr, arch: t.audit, args } satisfies SeccompData);
  };
}

/** Denied for a default container; the ones x86-only are skipped elsewhere. */
const DENIED = [
  "keyctl",
  "add_key",
  "request_key",
  "bpf",
  "perf_event_open",
  "kexec_load",
  "open_by_handle_at",
  "init_module",
  "finit_module",
  "delete_module",
  "mount",
  "umount2",
  "unshare",
  "setns",
  "pivot_root",
  "swapon",
  "swapoff",
  "reboot",
  "clock_settime",
  "settimeofday",
  "acct",
  "lookup_dcookie",
  "quotactl",
  "name_to_handle_at",
  "userfaultfd",
  "vm86",
  "iopl",
  "ioperm",
  "fsopen",
  "fsmount",
  "move_mount",
  "open_tree",
  "io_uring_setup",
  "syslog",
  "sethostname",
  "kcmp",
  "mbind",
  "vhangup",
];

const ALLOWED = [
  "read",
  "write",
  "openat",
  "getpid",
  "execve",
  "exit_group",
  "mmap",
  "futex",
  "rt_sigaction",
  "wait4",
  "chroot", // CAP_SYS_CHROOT is a default capability
  "ptrace", // kernel >= 4.8
  "process_vm_readv",
  "setresuid",
  "capset",
  "prctl",
  "seccomp",
  "statx",
  "getrandom",
];

for (const t of TARGETS) {
  Deno.test(`default profile on ${t.arch}: denied syscalls fail with EPERM`, () => {
    const run = runner(t, DEFAULT_CAPABILITIES);
    for (const name of DENIED) {
      if (t.table[name] === undefined) continue; // vm86, iopl, ioperm are x86 only
      assert.equal(run(name), "ERRNO:1", name);
    }
  });

  Deno.test(`default profile on ${t.arch}: ordinary syscalls are allowed`, () => {
    const run = runner(t, DEFAULT_CAPABILITIES);
    for (const name of ALLOWED) assert.equal(run(name), "ALLOW", name);
    if (t.arch === "x86_64") {
      assert.equal(run("arch_prctl"), "ALLOW");
      assert.equal(run("fork"), "ALLOW");
    }
  });

  Deno.test(`default profile on ${t.arch}: clone, clone3, personality, socket`, () => {
    const run = runner(t, DEFAULT_CAPABILITIES);
    // glibc's fork() and pthread_create flags.
    assert.equal(run("clone", [0x01200011]), "ALLOW");
    assert.equal(run("clone", [0x003d0f00]), "ALLOW");
    for (
      const flag of [
        0x00020000,
        0x02000000,
        0x04000000,
        0x08000000,
        0x10000000,
        0x20000000,
        0x40000000,
      ]
    ) {
      assert.equal(run("clone", [0x01200011 | flag]), "ERRNO:1", `clone flag ${flag.toString(16)}`);
    }
    assert.equal(run("clone3"), "ERRNO:38");
    for (const p of [0x0, 0x8, 0x20000, 0x20008, 0xffffffff]) {
      assert.equal(run("personality", [p]), "ALLOW", `personality ${p.toString(16)}`);
    }
    for (const p of [0x1, 0x0040000, 0x0400000, 0x10000, 0x1_0000_0000n]) {
      assert.equal(run("personality", [p]), "ERRNO:1", `personality ${p.toString(16)}`);
    }
    assert.equal(run("socket", [2, 1, 0]), "ALLOW");
    assert.equal(run("socket", [40, 1, 0]), "ERRNO:1");
  });

  Deno.test(`default profile on ${t.arch}: CAP_SYS_ADMIN opens the admin group`, () => {
    const run = runner(t, [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"]);
    for (
      const name of [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "bpf",
        "perf_event_open",
        "quotactl",
        "name_to_handle_at",
        "lookup_dcookie",
        "sethostname",
        "syslog",
        "fsopen",
      ]
    ) {
      assert.equal(run(name), "ALLOW", name);
    }
    assert.equal(run("clone", [0x01200011 | 0x10000000]), "ALLOW");
    assert.equal(run("clone3"), "ALLOW");
    // Still denied: not lifted by any capability (only --privileged, which has no filter).
    for (
      const name of [
        "keyctl",
        "add_key",
        "pivot_root",
        "swapon",
        "kexec_load",
        "userfaultfd",
        "init_module",
        "reboot",
      ]
    ) {
      assert.equal(run(name), "ERRNO:1", name);
    }
    assert.equal(run("personality", [0x1]), "ERRNO:1");
  });

  Deno.test(`default profile on ${t.arch}: other capability groups`, () => {
    const groups: [string, string[]][] = [
      ["CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]],
      ["CAP_SYS_BOOT", ["reboot"]],
      ["CAP_SYS_TIME", ["clock_settime", "settimeofday"]],
      ["CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise"]],
      ["CAP_SYS_PACCT", ["acct"]],
      ["CAP_SYS_NICE", ["mbind", "set_mempolicy", "get_mempolicy"]],
      ["CAP_SYS_TTY_CONFIG", ["vhangup"]],
      ["CAP_SYSLOG", ["syslog"]],
      ["CAP_BPF", ["bpf"]],
      ["CAP_PERFMON", ["perf_event_open"]],
      ["CAP_DAC_READ_SEARCH", ["open_by_handle_at"]],
    ];
    if (t.arch === "x86_64") groups.push(["CAP_SYS_RAWIO", ["iopl", "ioperm"]]);
    const base = runner(t, DEFAULT_CAPABILITIES);
    for (const [cap, names] of groups) {
      const run = runner(t, [...DEFAULT_CAPABILITIES, cap]);
      for (const name of names) {
        assert.equal(base(name), "ERRNO:1", `${name} without ${cap}`);
        assert.equal(run(name), "ALLOW", `${name} with ${cap}`);
      }
      assert.equal(run("mount"), "ERRNO:1", `mount with only ${cap}`);
    }
    const noChroot = runner(t, DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_SYS_CHROOT"));
    assert.equal(noChroot("chroot"), "ERRNO:1");
  });

  Deno.test(`default profile on ${t.arch}: ptrace follows minKernel 4.8`, () => {
    assert.equal(runner(t, DEFAULT_CAPABILITIES, "4.4.0")("ptrace"), "ERRNO:1");
    assert.equal(runner(t, DEFAULT_CAPABILITIES, "4.8.0")("ptrace"), "ALLOW");
    assert.equal(
      runner(t, [...DEFAULT_CAPABILITIES, "CAP_SYS_PTRACE"], "4.4.0")("ptrace"),
      "ALLOW",
    );
  });
}

Deno.test("default profile: compact, and the compat ABIs are filtered too", () => {
  const c = compileProfileDetailed(defaultProfile(), {
    arch: "x86_64",
    capabilities: DEFAULT_CAPABILITIES,
    kernel: "6.18",
  });
  assert.ok(c.length < 600, `${c.length} instructions`);
  assert.deepEqual(c.arches, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  const run = interpreter(c.program);
  const i386 = (name: string, args: number[] = []) =>
    run({ nr: SYSCALLS_I386[name], arch: AUDIT_ARCH_I386, args });
  const x32 = (name: string, args: number[] = []) =>
    run({ nr: SYSCALLS_X32[name], arch: AUDIT_ARCH_X86_64, args });
  assert.equal(i386("getpid"), "ALLOW");
  assert.equal(i386("socketcall"), "ALLOW");
  assert.equal(i386("keyctl"), "ERRNO:1");
  assert.equal(i386("mount"), "ERRNO:1");
  assert.equal(i386("clone", [0x10000000]), "ERRNO:1");
  assert.equal(i386("personality", [8]), "ALLOW");
  assert.equal(x32("getpid"), "ALLOW");
  assert.equal(x32("unshare"), "ERRNO:1");
  assert.equal(x32("clone", [0x20000]), "ERRNO:1");
  const a64 = compileProfileDetailed(defaultProfile(), {
    arch: "aarch64",
    capabilities: DEFAULT_CAPABILITIES,
  });
  // No arm (aarch32) table yet: compat syscalls on aarch64 are killed, not allowed blindly.
  assert.deepEqual(a64.arches, ["SCMP_ARCH_AARCH64"]);
  assert.equal(interpreter(a64.program)({ nr: 20, arch: 0x40000028 }), "KILL_PROCESS");
});
