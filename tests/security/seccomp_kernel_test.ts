import assert from "node:assert/strict";
import { requires } from "../_helpers/requires.ts";
import { compileProfile, defaultProfile } from "../../src/security/seccomp/mod.ts";
import { DEFAULT_CAPABILITIES } from "../../src/security/capabilities.ts";

const CHILD = new URL("./_seccomp_child.ts", import.meta.url).pathname;
const EPERM = "errno:1";

async function child(
  program: Uint8Array | undefined,
  mode: string,
): Promise<
  { code: number; signal: string | null; json?: Record<string, unknown>; stderr: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "seccomp-test-" });
  try {
    let path = "-";
    if (program) {
      path = `${dir}/program.bin`;
      await Deno.writeFile(path, program);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", CHILD, path, mode],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    return {
      code: out.code,
      signal: out.signal,
      json: text ? JSON.parse(text.split("\n").pop()!) : undefined,
      stderr: new TextDecoder().decode(out.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const defaultProgram = () =>
  compileProfile(defaultProfile(), { capabilities: DEFAULT_CAPABILITIES });

Deno.test({
  name: "kernel: default filter denies unshare and keyctl, allows getpid, survives exec",
  ...requires("root"),
  async fn() {
    const r = await child(defaultProgram(), "probe");
    assert.equal(r.code, 0, r.stderr);
    const { before, after } = r.json as Record<string, Record<string, unknown>>;
    assert.equal(before.status, "0");
    assert.equal(before.unshare, "ok");
    assert.equal(before.keyctl, "ok");
    assert.equal(before.childUnshare, 0);
    assert.equal(after.status, "2");
    assert.equal(after.getpid, "ok");
    assert.equal(after.getppid, "ok");
    assert.equal(after.unshare, EPERM);
    assert.equal(after.keyctl, EPERM);
    // The exec'd shell was spawned through clone3 → ENOSYS → clone fallback, and inherited it.
    assert.equal(after.childStatus, "Seccomp:\t2");
    assert.notEqual(after.childUnshare, 0);
    assert.notEqual(after.childUserns, 0);
  },
});

Deno.test({
  name: "kernel: with CAP_SYS_ADMIN the filter lets unshare through but not keyctl",
  ...requires("root"),
  async fn() {
    const prog = compileProfile(defaultProfile(), {
      capabilities: [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"],
    });
    const r = await child(prog, "probe");
    assert.equal(r.code, 0, r.stderr);
    const after = (r.json as Record<string, Record<string, unknown>>).after;
    assert.equal(after.status, "2");
    assert.equal(after.unshare, "ok");
    assert.equal(after.keyctl, EPERM);
    assert.equal(after.childUnshare, 0);
  },
});

Deno.test({
  name: "kernel: custom errno and kill-process actions",
  ...requires("root"),
  async fn() {
    const errnoProg = compileProfile({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 99 }],
    });
    const e = await child(errnoProg, "probe");
    assert.equal(e.code, 0, e.stderr);
    const after = (e.json as Record<string, Record<string, unknown>>).after;
    assert.equal(after.getppid, "errno:99");
    assert.equal(after.unshare, "ok");

    const killProg = compileProfile({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["getppid"], action: "SCMP_ACT_KILL_PROCESS" }],
    });
    const k = await child(killProg, "kill");
    assert.equal(k.json, undefined, "must not survive");
    assert.equal(k.signal, "SIGSYS");
  },
});

Deno.test({
  name: "kernel: without CAP_SYS_ADMIN loading needs no_new_privs, with a clear error",
  ...requires("root"),
  async fn() {
    const r = await child(defaultProgram(), "eacces");
    assert.equal(r.code, 0, r.stderr);
    const j = r.json as { first: string; status: string };
    assert.match(j.first, /^Cannot load seccomp filter: EACCES .*no_new_privs is unset/);
    assert.equal(j.status, "2");
  },
});
