import assert from "node:assert/strict";
import { InvalidArgumentError } from "../../src/errors.ts";
import {
  compileProfile,
  defaultProfile,
  parseProfile,
  parseProfileJson,
  seccompForContainer,
  seccompInfo,
} from "../../src/security/seccomp/mod.ts";
import { programFromSpec } from "../../src/runtime/seccomp_load.ts";
import { DEFAULT_CAPABILITIES } from "../../src/security/capabilities.ts";

function rejects(input: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseProfile(input),
    (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError, String(e));
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("\n"), "one line");
      return true;
    },
  );
}

Deno.test("bad profiles are rejected naming the field", () => {
  rejects({}, /"defaultAction"/);
  rejects({ defaultAction: "SCMP_ACT_ALLOWED" }, /"defaultAction"/);
  rejects(
    { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ action: "SCMP_ACT_ALLOW" }] },
    /"syscalls\[0\]\.names"/,
  );
  rejects(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{
        names: ["read"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }],
      }],
    },
    /"syscalls\[0\]\.args\[0\]\.index"/,
  );
  rejects(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{
        names: ["read"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 1, op: "SCMP_CMP_LIKE" }],
      }],
    },
    /"syscalls\[0\]\.args\[0\]\.op"/,
  );
  rejects(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{
        names: ["read"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: -1, op: "SCMP_CMP_EQ" }],
      }],
    },
    /"syscalls\[0\]\.args\[0\]\.value" must be an unsigned 64-bit integer/,
  );
  rejects(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{
        names: ["read"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: "18446744073709551616", op: "SCMP_CMP_EQ" }],
      }],
    },
    /unsigned 64-bit/,
  );
  rejects(
    { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_Z80"] },
    /"architectures\[0\]"/,
  );
  rejects(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64"],
      archMap: [{ architecture: "SCMP_ARCH_X86_64" }],
    },
    /either "architectures" or "archMap"/,
  );
  rejects(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "four" } }],
    },
    /"syscalls\[0\]\.includes\.minKernel"/,
  );
  rejects({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 70000 }, /"defaultErrnoRet"/);
  assert.throws(() => parseProfileJson("{nope"), /Cannot parse seccomp profile/);
});

Deno.test("unknown fields are tolerated; the old singular name is accepted", () => {
  const p = parseProfile({
    defaultAction: "SCMP_ACT_ERRNO",
    futureField: { x: 1 },
    syscalls: [{ name: "read", action: "SCMP_ACT_ALLOW", comment: "hi", somethingNew: true }],
  });
  assert.deepEqual(p.syscalls[0].names, ["read"]);
});

Deno.test("the default profile is valid data and returned as a fresh copy", () => {
  const a = defaultProfile();
  parseProfile(a);
  a.syscalls!.length = 0;
  assert.ok(defaultProfile().syscalls!.length > 10);
  // JSON round trip (what `docker-ts` would write to disk) gives the same program.
  const opts = { arch: "x86_64", kernel: "6.18", capabilities: DEFAULT_CAPABILITIES };
  assert.deepEqual(
    compileProfile(JSON.parse(JSON.stringify(defaultProfile())), opts),
    compileProfile(defaultProfile(), opts),
  );
});

Deno.test("seccompForContainer: default, unconfined, privileged, file, bad file", () => {
  const caps = DEFAULT_CAPABILITIES;
  const d = seccompForContainer({ capabilities: caps, arch: "x86_64", kernel: "6.18" });
  assert.ok(d);
  assert.equal(d.defaultAction, "SCMP_ACT_ERRNO");
  assert.deepEqual(d.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
  const prog = programFromSpec(JSON.parse(JSON.stringify(d)));
  assert.ok(prog && prog.length % 8 === 0 && prog.length > 100 * 8);
  assert.equal(seccompForContainer({ capabilities: caps, securityOpt: "unconfined" }), undefined);
  assert.equal(seccompForContainer({ capabilities: caps, privileged: true }), undefined);
  const custom = seccompForContainer({
    capabilities: caps,
    securityOpt: "/p.json",
    arch: "x86_64",
    readFile: () =>
      '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO"}]}',
  });
  assert.equal(custom?.defaultAction, "SCMP_ACT_ALLOW");
  assert.throws(
    () =>
      seccompForContainer({
        capabilities: caps,
        securityOpt: "/nonexistent/profile.json",
      }),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      /Cannot read seccomp profile "\/nonexistent\/profile.json"/.test(e.message),
  );
  assert.throws(
    () =>
      seccompForContainer({
        capabilities: caps,
        securityOpt: "/p.json",
        readFile: () => '{"defaultAction":"SCMP_ACT_NOPE"}',
      }),
    InvalidArgumentError,
  );
});

Deno.test("seccompInfo reports kernel support", () => {
  const info = seccompInfo();
  assert.equal(info.enabled, true);
  assert.ok(info.actions.includes("allow") && info.actions.includes("errno"));
});

Deno.test({
  name: "containers/common's real seccomp.json parses and compiles",
  ignore: (() => {
    try {
      Deno.statSync("/usr/share/containers/seccomp.json");
      return false;
    } catch {
      return true;
    }
  })(),
  async fn() {
    const { interpreter } = await import("../../src/security/seccomp/_bpf_interp.ts");
    const { SYSCALLS_X86_64: T } = await import("../../src/security/seccomp/syscall_tables.ts");
    const p = parseProfileJson(Deno.readTextFileSync("/usr/share/containers/seccomp.json"));
    const run = interpreter(
      compileProfile(p, { arch: "x86_64", kernel: "6.18", capabilities: DEFAULT_CAPABILITIES }),
    );
    const x = (n: string, args: number[] = []) => run({ nr: T[n], arch: 0xc000003e, args });
    // Podman's policy differs from Docker's (it leaves mount and clone to capabilities).
    assert.equal(x("getpid"), "ALLOW");
    assert.equal(x("mount"), "ALLOW");
    assert.equal(x("clone", [0x10000000]), "ALLOW");
    assert.match(x("kexec_load"), /^ERRNO:/);
    assert.match(x("bpf"), /^ERRNO:/);
  },
});
