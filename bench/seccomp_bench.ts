/**
 * Seccomp costs.
 *
 *   deno bench -A bench/seccomp_bench.ts      compile time of the default profile (Deno.bench)
 *   deno run -A bench/seccomp_bench.ts        the full report (root for the kernel parts):
 *     - compile time (cold and warm) and program length of the default profile, and of
 *       containers/common's profile (/usr/share/containers/seccomp.json) if present;
 *     - seccomp(2) load time, in a child process;
 *     - per-syscall overhead: a getpid loop through FFI in a child Deno, with and without our
 *       default filter; and a static C getpid loop (gcc) on the host without a filter, under our
 *       filter (inherited across exec), and inside `crun run` with no filter, with the same
 *       default policy compiled by crun/libseccomp, and with containers/common's profile.
 *
 * crun refuses this hybrid-cgroup host unless the cgroup2 mount is hidden: it runs inside
 * `unshare -m` after `umount /sys/fs/cgroup/unified` in that private namespace.
 */
import {
  compileProfileDetailed,
  defaultProfile,
  parseProfileJson,
} from "../src/security/seccomp/mod.ts";
import { resolveProfile, toOciSeccomp } from "../src/security/seccomp/resolve.ts";
import { parseProfile } from "../src/security/seccomp/profile.ts";
import { DEFAULT_CAPABILITIES } from "../src/security/capabilities.ts";

const PODMAN_PROFILE = "/usr/share/containers/seccomp.json";
/**
 * getpid's verdict does not depend on arguments, so kernels ≥ 5.11 answer it from the filter's
 * per-syscall action cache without running BPF; personality's rule compares an argument and
 * runs the program every time.
 */
const CALLS = ["getpid", "personality"] as const;

Deno.bench("seccomp: compile default profile (x86_64, default caps)", () => {
  compileProfileDetailed(defaultProfile(), { arch: "x86_64", capabilities: DEFAULT_CAPABILITIES });
});

Deno.bench("seccomp: compile default profile with CAP_SYS_ADMIN", () => {
  compileProfileDetailed(defaultProfile(), {
    arch: "x86_64",
    capabilities: [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"],
  });
});

// ---------------------------------------------------------------------------------------------
// Child side: load a filter (timed), then loop getpid through FFI or exec a program.

async function childMain(args: string[]): Promise<void> {
  const { loadSeccompProgram } = await import("../src/runtime/seccomp_load.ts");
  const { libc } = await import("../ffi/library.ts");
  const { syscallNumbers } = await import("../ffi/arch.ts");
  const [mode, programPath, n, ...rest] = args;
  let loadMs = 0;
  if (programPath !== "-") {
    const program = Deno.readFileSync(programPath);
    const t0 = performance.now();
    loadSeccompProgram(program);
    loadMs = performance.now() - t0;
  }
  if (mode === "ffi") {
    const sym = libc("bench", { syscall: { parameters: ["i64"], result: "i64" } });
    const nr = BigInt(syscallNumbers().getpid);
    const count = Number(n);
    for (let i = 0; i < 20_000; i++) sym.syscall(nr);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) sym.syscall(nr);
    const ns = (performance.now() - t0) * 1e6 / count;
    console.log(JSON.stringify({ loadMs, ns }));
  } else {
    // exec mode: run a program from this (filtered) thread; it inherits the filter.
    const out = new Deno.Command(rest[0], { args: [n, ...rest.slice(1)], stdout: "piped" })
      .outputSync();
    console.log(
      JSON.stringify({ loadMs, ns: Number(new TextDecoder().decode(out.stdout).trim()) }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Report side.

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function runChild(args: string[]): Promise<{ loadMs: number; ns: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", new URL(import.meta.url).pathname, "--child", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout).trim());
}

async function sh(cmd: string[]): Promise<{ ok: boolean; out: string }> {
  const o = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  return {
    ok: o.success,
    out: new TextDecoder().decode(o.stdout).trim() + new TextDecoder().decode(o.stderr).trim(),
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

async function report(): Promise<void> {
  const rows: [string, string][] = [];
  const opts = { capabilities: DEFAULT_CAPABILITIES };

  const t0 = performance.now();
  const first = compileProfileDetailed(defaultProfile(), opts);
  const cold = performance.now() - t0;
  const warm: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    compileProfileDetailed(defaultProfile(), opts);
    warm.push(performance.now() - t);
  }
  rows.push(["compile default profile, first call (ms)", cold.toFixed(2)]);
  rows.push(["compile default profile, warm median of 50 (ms)", median(warm).toFixed(3)]);
  rows.push([`default program length (${first.arches.join("+")})`, `${first.length} insns`]);
  const nativeOnly = compileProfileDetailed({ ...defaultProfile(), archMap: undefined }, opts);
  rows.push(["default program length, native ABI only", `${nativeOnly.length} insns`]);
  const admin = compileProfileDetailed(defaultProfile(), {
    capabilities: [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"],
  });
  rows.push(["default program length with CAP_SYS_ADMIN", `${admin.length} insns`]);
  let podman: ReturnType<typeof parseProfile> | undefined;
  if (await exists(PODMAN_PROFILE)) {
    podman = parseProfileJson(await Deno.readTextFile(PODMAN_PROFILE));
    rows.push([
      "containers/common seccomp.json compiled by us",
      `${compileProfileDetailed(podman, opts).length} insns`,
    ]);
  }

  if (Deno.uid() !== 0) {
    rows.push(["kernel measurements", "skipped (needs root)"]);
    print(rows);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "seccomp-bench-" });
  try {
    const progPath = `${dir}/default.bin`;
    await Deno.writeFile(progPath, first.program);
    const N = "2000000";
    const ffiNone: number[] = [];
    const ffiOurs: number[] = [];
    const loads: number[] = [];
    for (let i = 0; i < 5; i++) {
      ffiNone.push((await runChild(["ffi", "-", N])).ns);
      const r = await runChild(["ffi", progPath, N]);
      ffiOurs.push(r.ns);
      loads.push(r.loadMs);
    }
    rows.push(["seccomp(2) load of the default program (ms, median)", median(loads).toFixed(3)]);
    rows.push(["getpid via FFI, no filter (ns/call)", median(ffiNone).toFixed(1)]);
    rows.push(["getpid via FFI, our default filter (ns/call)", median(ffiOurs).toFixed(1)]);

    const cSrc = `${dir}/loop.c`;
    const loop = `${dir}/loop`;
    await Deno.writeTextFile(
      cSrc,
      `#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  /* "personality": personality(0xffffffff) only queries, and its rule compares an argument. */
  long nr = argc > 2 && argv[2][0] == 'p' ? SYS_personality : SYS_getpid;
  long arg = nr == SYS_personality ? 0xffffffffL : 0;
  struct timespec a, b;
  for (long i = 0; i < 20000; i++) syscall(nr, arg);
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) syscall(nr, arg);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.2f\\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
  return 0;
}
`,
    );
    const cc = await sh(["gcc", "-static", "-O2", "-o", loop, cSrc]).catch(() => ({
      ok: false,
      out: "",
    }));
    if (!cc.ok) {
      rows.push(["C getpid loop", "skipped (no gcc -static)"]);
      print(rows);
      return;
    }
    for (const call of CALLS) {
      const cNone: number[] = [];
      const cOurs: number[] = [];
      for (let i = 0; i < 5; i++) {
        cNone.push(Number((await sh([loop, N, call])).out));
        cOurs.push((await runChild(["exec", progPath, N, loop, call])).ns);
      }
      rows.push([`${call} in C, host, no filter (ns/call)`, median(cNone).toFixed(1)]);
      rows.push([`${call} in C, host, our default filter (ns/call)`, median(cOurs).toFixed(1)]);
    }

    if (await exists("/usr/bin/crun")) {
      const bundle = `${dir}/bundle`;
      await Deno.mkdir(`${bundle}/rootfs`, { recursive: true });
      await Deno.copyFile(loop, `${bundle}/rootfs/loop`);
      await Deno.chmod(`${bundle}/rootfs/loop`, 0o755);
      const spec = await sh(["crun", "spec", "--bundle", bundle]);
      if (!spec.ok) throw new Error(`crun spec: ${spec.out}`);
      const base = JSON.parse(await Deno.readTextFile(`${bundle}/config.json`));
      base.process.args = ["/loop", N];
      base.process.terminal = false;
      const variants: [string, unknown][] = [
        ["no filter", undefined],
        [
          "our default policy compiled by crun/libseccomp",
          toOciSeccomp(resolveProfile(parseProfile(defaultProfile()), opts)),
        ],
      ];
      if (podman) {
        variants.push([
          "containers/common profile compiled by crun",
          toOciSeccomp(resolveProfile(podman, opts)),
        ]);
      }
      for (const call of CALLS) {
        for (const [label, seccomp] of variants) {
          base.process.args = ["/loop", N, call];
          const cfg = structuredClone(base);
          if (seccomp) cfg.linux.seccomp = seccomp;
          else delete cfg.linux.seccomp;
          await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(cfg));
          const runs: number[] = [];
          for (let i = 0; i < 5; i++) {
            const id = `docker-ts-bench-${crypto.randomUUID().slice(0, 8)}`;
            const r = await sh([
              "unshare",
              "-m",
              "sh",
              "-c",
              `umount /sys/fs/cgroup/unified 2>/dev/null; crun run -b '${bundle}' ${id}; rc=$?; crun delete -f ${id} >/dev/null 2>&1; exit $rc`,
            ]);
            if (!r.ok) throw new Error(`crun run (${label}): ${r.out}`);
            runs.push(Number(r.out.split("\n")[0]));
          }
          rows.push([`${call} in C, crun, ${label} (ns/call)`, median(runs).toFixed(1)]);
        }
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  print(rows);
}

function print(rows: [string, string][]): void {
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") await childMain(Deno.args.slice(1));
  else await report();
}
