import assert from "node:assert/strict";
import {
  AUDIT_ARCH_AARCH64,
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  compileProfile,
  compileProfileDetailed,
  parseProfile,
  parseProfileJson,
  resolveProfile,
  toOciSeccomp,
  X32_SYSCALL_BIT,
} from "../../src/security/seccomp/mod.ts";
import {
  decodeAction,
  interpreter,
  runFilter,
  verifyProgram,
} from "../../src/security/seccomp/_bpf_interp.ts";
import { Assembler, BPF } from "../../src/security/seccomp/bpf.ts";
import {
  SYSCALLS_AARCH64 as A64,
  SYSCALLS_I386 as I386,
  SYSCALLS_X32 as X32,
  SYSCALLS_X86_64 as X64,
} from "../../src/security/seccomp/syscall_tables.ts";
import { InvalidArgumentError, NotImplementedError } from "../../src/errors.ts";

const X86 = { arch: "x86_64", kernel: "6.18" } as const;

function filterFor(
  profile: unknown,
  opts: Record<string, unknown> = {},
): (d: { nr: number; arch: number; args?: (bigint | number)[] }) => string {
  return interpreter(compileProfile(profile, { ...X86, ...opts }));
}

const onX64 = (name: string, args: (bigint | number)[] = []) => ({
  nr: X64[name],
  arch: AUDIT_ARCH_X86_64,
  args,
});

Deno.test("syscall tables match well-known numbers", () => {
  assert.equal(X64.read, 0);
  assert.equal(X64.getpid, 39);
  assert.equal(X64.clone, 56);
  assert.equal(X64.keyctl, 250);
  assert.equal(X64.clone3, 435);
  assert.equal(X32.getpid, X32_SYSCALL_BIT + 39);
  assert.equal(I386.getpid, 20);
  assert.equal(A64.getpid, 172);
  assert.equal(A64.clone, 220);
  assert.equal(A64.mount, 40);
  assert.equal(A64.open, undefined, "aarch64 has no open(2)");
});

Deno.test("every action type compiles to its SECCOMP_RET value", () => {
  const names = ["getpid", "getppid", "gettid", "getuid", "getgid", "geteuid", "getegid", "sync"];
  const profile = {
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      { names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
      { names: ["getppid"], action: "SCMP_ACT_KILL" },
      { names: ["gettid"], action: "SCMP_ACT_KILL_THREAD" },
      { names: ["getuid"], action: "SCMP_ACT_KILL_PROCESS" },
      { names: ["getgid"], action: "SCMP_ACT_TRAP" },
      { names: ["geteuid"], action: "SCMP_ACT_LOG" },
      { names: ["getegid"], action: "SCMP_ACT_TRACE", errnoRet: 7 },
    ],
  };
  const run = filterFor(profile);
  assert.deepEqual(names.map((n) => run(onX64(n))), [
    "ERRNO:13",
    "KILL_THREAD",
    "KILL_THREAD",
    "KILL_PROCESS",
    "TRAP",
    "LOG",
    "TRACE:7",
    "ALLOW",
  ]);
});

Deno.test("errno defaults: rule errnoRet, then defaultErrnoRet, then EPERM", () => {
  const run = filterFor({
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 38,
    syscalls: [
      { names: ["getpid"], action: "SCMP_ACT_ALLOW" },
      { names: ["getppid"], action: "SCMP_ACT_ERRNO" },
      { names: ["gettid"], action: "SCMP_ACT_ERRNO", errnoRet: 0 },
    ],
  });
  assert.equal(run(onX64("getpid")), "ALLOW");
  assert.equal(run(onX64("getppid")), "ERRNO:38");
  assert.equal(run(onX64("gettid")), "ERRNO:0");
  assert.equal(run(onX64("sync")), "ERRNO:38");
  const plain = filterFor({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [] });
  assert.equal(plain(onX64("sync")), "ERRNO:1");
});

Deno.test("64-bit argument comparisons split into high and low words, unsigned", () => {
  const big = 0x1_0000_0005n;
  const cases: [string, bigint, [bigint, boolean][]][] = [
    ["SCMP_CMP_EQ", big, [[big, true], [5n, false], [0x2_0000_0005n, false], [big + 1n, false]]],
    ["SCMP_CMP_NE", big, [[big, false], [5n, true], [0x1_0000_0006n, true]]],
    ["SCMP_CMP_GT", big, [[big, false], [big + 1n, true], [0x2_0000_0000n, true], [
      0xffff_ffffn,
      false,
    ], [0n, false]]],
    ["SCMP_CMP_GE", big, [[big, true], [big - 1n, false], [0x2_0000_0000n, true], [4n, false]]],
    ["SCMP_CMP_LT", big, [[big, false], [big - 1n, true], [0xffff_ffffn, true], [
      0x1_0000_0006n,
      false,
    ], [0x2_0000_0000n, false]]],
    ["SCMP_CMP_LE", big, [[big, true], [big + 1n, false], [0n, true], [0x2_0000_0000n, false]]],
    // Values with the top bit set must compare unsigned (a signed compare would invert these).
    ["SCMP_CMP_GT", 0x7fff_ffffn, [[0x8000_0000n, true], [0xffff_ffffn, true], [1n, false]]],
    ["SCMP_CMP_LT", 0xffff_ffff_ffff_fff0n, [[0xffff_ffff_ffff_ffffn, false], [1n, true], [
      0x8000_0000_0000_0000n,
      true,
    ]]],
    ["SCMP_CMP_GE", 0x8000_0000_0000_0000n, [[0x7fff_ffff_ffff_ffffn, false], [
      0x8000_0000_0000_0000n,
      true,
    ], [-1n, true]]],
  ];
  for (const [op, value, checks] of cases) {
    const run = filterFor({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [{
        names: ["ioctl"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 2, value: value.toString(), op }],
      }],
    });
    for (const [arg, allowed] of checks) {
      assert.equal(
        run(onX64("ioctl", [0, 0, arg])),
        allowed ? "ALLOW" : "ERRNO:1",
        `${op} ${value.toString(16)} vs ${arg.toString(16)}`,
      );
    }
  }
});

Deno.test("masked-eq tests (arg & value) == valueTwo on both words", () => {
  const run = filterFor({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      {
        names: ["ioctl"],
        action: "SCMP_ACT_ALLOW",
        args: [{
          index: 1,
          value: "0xff000000000000f0",
          valueTwo: "0x1200000000000030",
          op: "SCMP_CMP_MASKED_EQ",
        }],
      },
      {
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      },
      {
        // The datum has bits outside the mask: can never match.
        names: ["fcntl"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 0xff, valueTwo: "0x100000000", op: "SCMP_CMP_MASKED_EQ" }],
      },
    ],
  });
  assert.equal(run(onX64("ioctl", [0, 0x12ab_cdef_0000_0035n])), "ALLOW");
  assert.equal(run(onX64("ioctl", [0, 0x13ab_cdef_0000_0035n])), "ERRNO:1");
  assert.equal(run(onX64("ioctl", [0, 0x1200_0000_0000_0040n])), "ERRNO:1");
  assert.equal(run(onX64("clone", [0x3d0f00])), "ALLOW");
  assert.equal(run(onX64("clone", [0x3d0f00 | 0x10000000])), "ERRNO:1");
  // High bits of the flags argument are outside the mask and ignored.
  assert.equal(run(onX64("clone", [0xffff_0000_0000_0011n])), "ALLOW");
  assert.equal(run(onX64("fcntl", [0])), "ERRNO:1");
});

Deno.test("several args in one rule are ANDed, several rules of one syscall are ORed", () => {
  const run = filterFor({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      {
        names: ["mmap"],
        action: "SCMP_ACT_ALLOW",
        args: [
          { index: 2, value: 4, op: "SCMP_CMP_NE" },
          { index: 3, value: 0x20, op: "SCMP_CMP_MASKED_EQ", valueTwo: 0x20 },
        ],
      },
      {
        names: ["mmap"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 5, value: 7, op: "SCMP_CMP_EQ" }],
      },
      {
        names: ["mmap"],
        action: "SCMP_ACT_KILL_PROCESS",
        args: [{ index: 5, value: 9, op: "SCMP_CMP_EQ" }],
      },
    ],
  });
  assert.equal(run(onX64("mmap", [0, 0, 3, 0x22, 0, 0])), "ALLOW");
  assert.equal(run(onX64("mmap", [0, 0, 4, 0x22, 0, 0])), "ERRNO:1");
  assert.equal(run(onX64("mmap", [0, 0, 3, 0x02, 0, 0])), "ERRNO:1");
  assert.equal(run(onX64("mmap", [0, 0, 4, 0x02, 0, 7])), "ALLOW");
  assert.equal(run(onX64("mmap", [0, 0, 4, 0x02, 0, 9])), "KILL_PROCESS");
});

Deno.test("conditional rules come before the syscall's unconditional rule", () => {
  const run = filterFor({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      { names: ["kill"], action: "SCMP_ACT_ERRNO", errnoRet: 3 },
      {
        names: ["kill"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 1, value: 0, op: "SCMP_CMP_EQ" }],
      },
    ],
  });
  assert.equal(run(onX64("kill", [1, 0])), "ALLOW");
  assert.equal(run(onX64("kill", [1, 9])), "ERRNO:3");
});

Deno.test("arch mismatch kills; listed sub-arches get their own section", () => {
  const profile = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["getpid", "personality"], action: "SCMP_ACT_ALLOW" }],
  };
  const native = filterFor(profile);
  assert.equal(native(onX64("getpid")), "ALLOW");
  assert.equal(native({ nr: I386.getpid, arch: AUDIT_ARCH_I386 }), "KILL_PROCESS");
  assert.equal(native({ nr: A64.getpid, arch: AUDIT_ARCH_AARCH64 }), "KILL_PROCESS");
  assert.equal(native({ nr: 39, arch: 0x12345678 }), "KILL_PROCESS");

  const withX86 = filterFor({ ...profile, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"] });
  assert.equal(withX86({ nr: I386.getpid, arch: AUDIT_ARCH_I386 }), "ALLOW");
  // i386's number 39 is mkdir, not getpid: the i386 table must be used.
  assert.equal(withX86({ nr: 39, arch: AUDIT_ARCH_I386 }), "ERRNO:1");
  // Only the low word of an argument counts on a 32-bit ABI.
  const arg32 = filterFor({
    defaultAction: "SCMP_ACT_ERRNO",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    syscalls: [{
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: 8, op: "SCMP_CMP_EQ" }],
    }],
  });
  assert.equal(
    arg32({ nr: I386.personality, arch: AUDIT_ARCH_I386, args: [0xdead_0000_0000_0008n] }),
    "ALLOW",
  );
  assert.equal(arg32(onX64("personality", [0xdead_0000_0000_0008n])), "ERRNO:1");

  const a64 = filterFor(profile, { arch: "aarch64" });
  assert.equal(a64({ nr: A64.getpid, arch: AUDIT_ARCH_AARCH64 }), "ALLOW");
  assert.equal(a64({ nr: X64.getpid, arch: AUDIT_ARCH_X86_64 }), "KILL_PROCESS");
});

Deno.test("x32 syscalls are killed on x86_64 unless the profile admits x32", () => {
  const profile = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["getpid"], action: "SCMP_ACT_ALLOW" }],
  };
  const noX32 = filterFor(profile);
  assert.equal(noX32({ nr: X32.getpid, arch: AUDIT_ARCH_X86_64 }), "KILL_PROCESS");
  assert.equal(noX32({ nr: X32_SYSCALL_BIT, arch: AUDIT_ARCH_X86_64 }), "KILL_PROCESS");
  assert.equal(noX32({ nr: 0xffffffff, arch: AUDIT_ARCH_X86_64 }), "KILL_PROCESS");
  // Unknown numbers below the x32 range take the default action.
  assert.equal(noX32({ nr: 0x3fffffff, arch: AUDIT_ARCH_X86_64 }), "ERRNO:1");

  const x32 = filterFor({
    ...profile,
    archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X32"] }],
  });
  assert.equal(x32({ nr: X32.getpid, arch: AUDIT_ARCH_X86_64 }), "ALLOW");
  assert.equal(x32({ nr: X32.getppid, arch: AUDIT_ARCH_X86_64 }), "ERRNO:1");
  assert.equal(x32(onX64("getpid")), "ALLOW");
  // x32 never reaches the i386 section.
  assert.equal(x32({ nr: I386.getpid, arch: AUDIT_ARCH_I386 }), "KILL_PROCESS");
});

Deno.test("includes/excludes: caps, arches and minKernel", () => {
  const profile = {
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      {
        names: ["reboot"],
        action: "SCMP_ACT_ALLOW",
        includes: { caps: ["CAP_SYS_ADMIN", "CAP_SYS_BOOT"] },
      },
      { names: ["getpid"], action: "SCMP_ACT_ALLOW", excludes: { caps: ["CAP_SYS_ADMIN"] } },
      { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64"] } },
      { names: ["gettid"], action: "SCMP_ACT_ALLOW", excludes: { arches: ["amd64"] } },
      { names: ["ptrace"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "4.8" } },
      { names: ["kcmp"], action: "SCMP_ACT_ALLOW", excludes: { minKernel: "5.0" } },
    ],
  };
  const plain = filterFor(profile, { capabilities: ["CAP_CHOWN"] });
  assert.equal(plain(onX64("mount")), "ERRNO:1");
  assert.equal(plain(onX64("getpid")), "ALLOW");
  assert.equal(plain(onX64("arch_prctl")), "ALLOW");
  assert.equal(plain(onX64("gettid")), "ERRNO:1");
  assert.equal(plain(onX64("ptrace")), "ALLOW");
  assert.equal(plain(onX64("kcmp")), "ERRNO:1");
  const admin = filterFor(profile, { capabilities: ["SYS_ADMIN"] });
  assert.equal(admin(onX64("mount")), "ALLOW");
  assert.equal(admin(onX64("reboot")), "ERRNO:1", "needs every listed cap");
  assert.equal(admin(onX64("getpid")), "ERRNO:1");
  const both = filterFor(profile, { capabilities: ["cap_sys_admin", "CAP_SYS_BOOT"] });
  assert.equal(both(onX64("reboot")), "ALLOW");
  const old = filterFor(profile, { kernel: "4.4.0-generic" });
  assert.equal(old(onX64("ptrace")), "ERRNO:1");
  assert.equal(old(onX64("kcmp")), "ALLOW");
  const arm = filterFor(profile, { arch: "aarch64" });
  assert.equal(arm({ nr: A64.gettid, arch: AUDIT_ARCH_AARCH64 }), "ALLOW");
});

Deno.test("a huge profile needs long jumps and still decides every syscall", () => {
  // Thousands of argument rules spread over many syscalls: jumps from the search tree to the
  // chains and from the chains to the shared RETs go far beyond 255 instructions.
  const names = Object.keys(X64).filter((n) => n !== "getpid").slice(0, 120);
  const syscalls = names.map((name, i) => ({
    names: [name],
    action: "SCMP_ACT_ERRNO",
    errnoRet: 100 + (i % 5),
    args: [
      { index: 0, value: i, op: "SCMP_CMP_EQ" },
      { index: 1, value: `0x${(i + 1).toString(16)}00000000`, op: "SCMP_CMP_GE" },
    ],
  }));
  syscalls.push({ names: ["getpid"], action: "SCMP_ACT_KILL_PROCESS", errnoRet: 0, args: [] });
  const c = compileProfileDetailed({ defaultAction: "SCMP_ACT_ALLOW", syscalls }, X86);
  assert.ok(c.length > 1000, `expected a long program, got ${c.length}`);
  const prog = verifyProgram(c.program);
  // The repair must actually have been needed: some JA trampoline beyond 255.
  assert.ok(prog.some((x) => x.code === BPF.JA && x.k > 255));
  const run = interpreter(c.program);
  names.forEach((name, i) => {
    const hit = run(onX64(name, [i, BigInt(i + 1) << 32n]));
    assert.equal(hit, `ERRNO:${100 + (i % 5)}`, name);
    assert.equal(run(onX64(name, [i, (BigInt(i + 1) << 32n) - 1n])), "ALLOW", name);
    assert.equal(run(onX64(name, [i + 1, BigInt(i + 1) << 32n])), "ALLOW", name);
  });
  assert.equal(run(onX64("getpid")), "KILL_PROCESS");
});

Deno.test("over 4096 instructions is a clear InvalidArgumentError", () => {
  const syscalls = Object.keys(X64).map((name) => ({
    names: [name],
    action: "SCMP_ACT_ALLOW",
    args: Array.from(
      { length: 6 },
      (_, i) => ({ index: i, value: "0x100000001", op: "SCMP_CMP_NE" }),
    ),
  }));
  assert.throws(
    () => compileProfile({ defaultAction: "SCMP_ACT_ERRNO", syscalls }, X86),
    (e: unknown) =>
      e instanceof InvalidArgumentError && /exceed the kernel limit of 4096/.test(e.message),
  );
});

Deno.test("assembler trampolines: both branches far", () => {
  const a = new Assembler();
  const far1 = a.label();
  const far2 = a.label();
  a.stmt(BPF.LD_W_ABS, 0);
  a.jump(BPF.JEQ_K, 7, far1, far2);
  for (let i = 0; i < 600; i++) a.stmt(BPF.LD_W_ABS, 4);
  a.bind(far1);
  a.stmt(BPF.RET_K, 111);
  for (let i = 0; i < 300; i++) a.stmt(BPF.LD_W_ABS, 4);
  a.bind(far2);
  a.stmt(BPF.RET_K, 222);
  const prog = verifyProgram(a.assemble());
  assert.equal(runFilter(prog, { nr: 7, arch: 0 }).value, 111);
  assert.equal(runFilter(prog, { nr: 8, arch: 0 }).value, 222);
});

Deno.test("default-profile-sized programs stay small and searches stay short", () => {
  const names = Object.keys(X64).slice(0, 300);
  const c = compileProfileDetailed({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names, action: "SCMP_ACT_ALLOW" }],
  }, X86);
  assert.ok(c.length < 120, `${c.length} instructions`);
  const prog = verifyProgram(c.program);
  for (const n of names) {
    const r = runFilter(prog, onX64(n));
    assert.equal(decodeAction(r.value).action, "ALLOW");
    assert.ok(r.steps < 16, `${n}: ${r.steps} steps`);
  }
});

Deno.test("SCMP_ACT_NOTIFY is refused as not implemented", () => {
  assert.throws(
    () => compileProfile({ defaultAction: "SCMP_ACT_NOTIFY" }, X86),
    NotImplementedError,
  );
});

Deno.test("toOciSeccomp round-trips to the same program", () => {
  const profile = {
    defaultAction: "SCMP_ACT_ERRNO",
    archMap: [{ architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86"] }],
    syscalls: [
      { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
      {
        names: ["ioctl"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 1, value: "18446744073709551615", op: "SCMP_CMP_EQ" }],
      },
    ],
  };
  const opts = { ...X86, capabilities: ["CAP_SYS_ADMIN"] };
  const oci = toOciSeccomp(resolveProfile(parseProfile(profile), opts));
  assert.deepEqual(oci.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
  assert.equal(oci.syscalls[1].args?.[0].value, "18446744073709551615");
  const again = JSON.parse(JSON.stringify(oci));
  assert.deepEqual(compileProfile(again, X86), compileProfile(profile, opts));
});

Deno.test("parseProfileJson keeps 64-bit values exact", () => {
  const p = parseProfileJson(
    '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]}',
  );
  assert.equal(p.syscalls[0].args[0].value, 0xffff_ffff_ffff_ffffn);
  // A validated profile compiles again as is.
  const run = filterFor(p);
  assert.equal(run(onX64("ioctl", [0, -1])), "ERRNO:1");
  assert.equal(run(onX64("ioctl", [0, 0xffff_ffff_ffff_fffen])), "ALLOW");
});
