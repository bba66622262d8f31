/**
 * Child process for the real-kernel seccomp tests (never run inside the test runner: a filter
 * cannot be removed). Loads the program in argv[0] on its main thread, then makes the syscalls
 * the test asks for and prints one JSON object.
 *
 * Usage: deno run -A _seccomp_child.ts <program.bin|-> <mode>
 *   probe   — raw syscalls before/after (unshare, keyctl, getpid, getppid), Seccomp status,
 *             and exec'd children (filters survive execve)
 *   kill    — load, then getppid (the profile kills it)
 *   eacces  — drop CAP_SYS_ADMIN from the effective set, load without and then with NNP
 *   loop N  — N getpid calls through FFI, prints ns per call
 */
import { libc } from "../../ffi/library.ts";
import { errno } from "../../ffi/errno.ts";
import { capget, capset } from "../../ffi/process.ts";
import { loadSeccompProgram } from "../../src/runtime/seccomp_load.ts";
import { SYSCALLS_AARCH64, SYSCALLS_X86_64 } from "../../src/security/seccomp/syscall_tables.ts";

const NR = Deno.build.arch === "aarch64" ? SYSCALLS_AARCH64 : SYSCALLS_X86_64;

const sym = libc("seccomp-test", {
  syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
});

/** A raw syscall; returns "ok" or the errno name number. */
function raw(name: string, a = 0n, b = 0n, c = 0n): string {
  const r = Number(sym.syscall(BigInt(NR[name]), a, b, c));
  return r === -1 ? `errno:${errno()}` : "ok";
}

function status(): string {
  const m = /^Seccomp:\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/thread-self/status"));
  return m ? m[1] : "?";
}

function sh(script: string): { code: number; out: string } {
  const o = new Deno.Command("/bin/sh", { args: ["-c", script], stdout: "piped", stderr: "piped" })
    .outputSync();
  return {
    code: o.code,
    out: (new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr)).trim(),
  };
}

const CLONE_NEWNS = 0x00020000n;
const KEYCTL_GET_KEYRING_ID = 0n;
const KEY_SPEC_SESSION_KEYRING = -3n;

function probe(): Record<string, unknown> {
  return {
    status: status(),
    getpid: raw("getpid"),
    unshare: raw("unshare", CLONE_NEWNS),
    keyctl: raw("keyctl", KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0n),
    getppid: raw("getppid"),
    // execve'd children inherit the filter (Deno.Command spawns from this thread).
    childStatus: sh("grep Seccomp: /proc/self/status").out,
    childUnshare: sh("unshare -m true").code,
    childUserns: sh("unshare -U true").code,
  };
}

const [programPath, mode, arg] = Deno.args;
const program = programPath === "-" ? undefined : Deno.readFileSync(programPath);

switch (mode) {
  case "probe": {
    const before = probe();
    if (program) loadSeccompProgram(program);
    console.log(JSON.stringify({ before, after: probe() }));
    break;
  }
  case "kill": {
    loadSeccompProgram(program!);
    raw("getppid");
    console.log(JSON.stringify({ survived: true }));
    break;
  }
  case "eacces": {
    const caps = capget();
    const SYS_ADMIN = 1n << 21n;
    capset({ ...caps, effective: caps.effective & ~SYS_ADMIN });
    let first = "";
    try {
      loadSeccompProgram(program!);
      first = "loaded";
    } catch (e) {
      first = e instanceof Error ? e.message : String(e);
    }
    loadSeccompProgram(program!, { noNewPrivs: true });
    console.log(JSON.stringify({ first, status: status() }));
    break;
  }
  case "loop": {
    if (program) loadSeccompProgram(program);
    const n = Number(arg ?? 1_000_000);
    const getpid = BigInt(NR.getpid);
    for (let i = 0; i < 10_000; i++) sym.syscall(getpid, 0n, 0n, 0n);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sym.syscall(getpid, 0n, 0n, 0n);
    const ns = (performance.now() - t0) * 1e6 / n;
    console.log(JSON.stringify({ status: status(), nsPerCall: ns }));
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    Deno.exit(2);
}
