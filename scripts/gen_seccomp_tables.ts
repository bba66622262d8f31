/**
 * Generates `src/security/seccomp/syscall_tables.ts` (syscall name → number per architecture)
 * from the kernel UAPI headers installed by Debian's `linux-libc-dev`:
 *
 * - x86_64, x32 and i386 from `/usr/include/x86_64-linux-gnu/asm/unistd_{64,x32,32}.h`;
 * - aarch64 from `asm-generic/unistd.h`, expanded by `cpp` with the `__ARCH_WANT_*` switches that
 *   arm64's own `asm/unistd.h` sets (arm64 has no header of its own on an x86_64 host).
 *
 * The headers lag the running kernel, so syscalls added after them (all numbered in the unified
 * range ≥ 424, identical on every architecture here) come from the small list below.
 *
 * Usage: `deno run --allow-read --allow-run=cpp --allow-write=src/security/seccomp
 *   scripts/gen_seccomp_tables.ts && deno fmt src/security/seccomp/syscall_tables.ts`
 *
 * @module
 */

const X86_DIR = "/usr/include/x86_64-linux-gnu/asm";
const X32_SYSCALL_BIT = 0x40000000;

/**
 * Syscalls newer than the installed headers (linux-libc-dev 6.1), in the unified numbering that
 * x86_64, i386, x32 (plus the x32 bit) and aarch64 share from 424 up.
 */
const NEWER_UNIFIED: Record<string, number> = {
  cachestat: 451,
  fchmodat2: 452,
  map_shadow_stack: 453,
  futex_wake: 454,
  futex_wait: 455,
  futex_requeue: 456,
  statmount: 457,
  listmount: 458,
  lsm_get_self_attr: 459,
  lsm_set_self_attr: 460,
  lsm_list_modules: 461,
  mseal: 462,
  setxattrat: 463,
  getxattrat: 464,
  listxattrat: 465,
  removexattrat: 466,
  open_tree_attr: 467,
  file_getattr: 468,
  file_setattr: 469,
};

/** Evaluates the tiny expressions the headers use: numbers, names, `+`, parentheses. */
function evaluate(expr: string, defs: Map<string, string>, depth = 0): number | undefined {
  if (depth > 20) return undefined;
  const tokens = expr.replace(/[()]/g, " ").trim().split(/\s*\+\s*|\s+/).filter(Boolean);
  let sum = 0;
  for (const t of tokens) {
    if (/^(0x[0-9a-f]+|\d+)[uUlL]*$/i.test(t)) sum += Number(t.replace(/[uUlL]+$/, ""));
    else if (t === "__X32_SYSCALL_BIT") sum += X32_SYSCALL_BIT;
    else {
      const d = defs.get(t);
      if (d === undefined) return undefined;
      const v = evaluate(d, defs, depth + 1);
      if (v === undefined) return undefined;
      sum += v;
    }
  }
  return sum;
}

function tableFromDefines(text: string): Record<string, number> {
  const defs = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^#define\s+(\w+)\s+(.+?)\s*$/.exec(line);
    if (m) defs.set(m[1], m[2]);
  }
  const out: Record<string, number> = {};
  for (const name of defs.keys()) {
    if (!name.startsWith("__NR_")) continue;
    const sc = name.slice(5);
    // Bookkeeping macros, not syscalls.
    if (sc === "syscalls" || sc === "arch_specific_syscall") continue;
    const v = evaluate(defs.get(name)!, defs);
    if (v !== undefined) out[sc] = v;
  }
  return out;
}

/** Syscalls of the unified range that exist on the 64-bit ABIs only. */
const ONLY_64BIT = new Set(["map_shadow_stack"]);

function withNewer(
  table: Record<string, number>,
  offset: number,
  is64: boolean,
): Record<string, number> {
  const out = { ...table };
  for (const [name, nr] of Object.entries(NEWER_UNIFIED)) {
    if (!is64 && ONLY_64BIT.has(name)) continue;
    out[name] ??= nr + offset;
  }
  return out;
}

async function aarch64(): Promise<Record<string, number>> {
  // The switches arm64's arch/arm64/include/uapi/asm/unistd.h defines before including the
  // generic table.
  const source = [
    "#define __ARCH_WANT_RENAMEAT",
    "#define __ARCH_WANT_NEW_STAT",
    "#define __ARCH_WANT_SET_GET_RLIMIT",
    "#define __ARCH_WANT_TIME32_SYSCALLS",
    "#define __ARCH_WANT_SYS_CLONE3",
    "#define __ARCH_WANT_MEMFD_SECRET",
    "#define __BITS_PER_LONG 64",
    "#include <asm-generic/unistd.h>",
    "",
  ].join("\n");
  const cmd = new Deno.Command("cpp", {
    args: ["-dM", "-P", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(source));
  await w.close();
  const out = await child.output();
  if (!out.success) throw new Error(`cpp failed: ${new TextDecoder().decode(out.stderr)}`);
  return tableFromDefines(new TextDecoder().decode(out.stdout));
}

function sorted(table: Record<string, number>): [string, number][] {
  return Object.entries(table).sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]));
}

function render(name: string, doc: string, table: Record<string, number>): string {
  const lines = sorted(table).map(([k, v]) => `  ${k}: ${v},`);
  return `/** ${doc} */\nexport const ${name}: Readonly<Record<string, number>> = {\n${
    lines.join("\n")
  }\n};\n`;
}

async function main(): Promise<void> {
  const x86_64 = withNewer(
    tableFromDefines(Deno.readTextFileSync(`${X86_DIR}/unistd_64.h`)),
    0,
    true,
  );
  const x32 = withNewer(
    tableFromDefines(Deno.readTextFileSync(`${X86_DIR}/unistd_x32.h`)),
    X32_SYSCALL_BIT,
    false,
  );
  const i386 = withNewer(
    tableFromDefines(Deno.readTextFileSync(`${X86_DIR}/unistd_32.h`)),
    0,
    false,
  );
  const arm64 = withNewer(await aarch64(), 0, true);
  for (const [n, t] of [["x86_64", x86_64], ["x32", x32], ["i386", i386], ["aarch64", arm64]]) {
    const count = Object.keys(t as Record<string, number>).length;
    if (count < 250) throw new Error(`Table ${n} has only ${count} entries`);
  }
  const header = `// Generated by scripts/gen_seccomp_tables.ts from linux-libc-dev's UAPI headers
// (plus syscalls newer than those headers). Do not edit by hand; re-run the script.
`;
  const text = header + "\n" +
    render("SYSCALLS_X86_64", "x86_64 (AUDIT_ARCH_X86_64, 64-bit ABI).", x86_64) + "\n" +
    render(
      "SYSCALLS_X32",
      "x32 (AUDIT_ARCH_X86_64 with __X32_SYSCALL_BIT 0x40000000 set in every number).",
      x32,
    ) + "\n" +
    render("SYSCALLS_I386", "i386 (AUDIT_ARCH_I386, the 32-bit x86 ABI).", i386) + "\n" +
    render("SYSCALLS_AARCH64", "aarch64 (AUDIT_ARCH_AARCH64, asm-generic numbering).", arm64);
  const target = new URL("../src/security/seccomp/syscall_tables.ts", import.meta.url);
  Deno.writeTextFileSync(target, text);
  console.log(
    `x86_64 ${Object.keys(x86_64).length}, x32 ${Object.keys(x32).length}, i386 ${
      Object.keys(i386).length
    }, aarch64 ${Object.keys(arm64).length} → ${target.pathname}`,
  );
}

if (import.meta.main) await main();
