/**
 * Enforces the dependency direction of ARCHITECTURE.md:
 * - only src/runtime and src/network import ffi/;
 * - src/storage and src/image never import src/runtime, src/engine, src/cli or src/api;
 * - ffi/ imports nothing from src/;
 * - lower layers (cgroups, security, storage, image, container, spec) never import the engine or cli.
 *
 * Usage: deno run --allow-read scripts/check_deps.ts   (exit 1 on a violation)
 */
import * as path from "node:path";

const ROOT = path.resolve(import.meta.dirname ?? ".", "..");

interface Rule {
  from: RegExp;
  forbid: RegExp;
  why: string;
}

const RULES: Rule[] = [
  {
    from: /^src\/(?!runtime\/|network\/)/,
    forbid: /^ffi\//,
    why: "only src/runtime and src/network import ffi/",
  },
  { from: /^ffi\//, forbid: /^src\//, why: "ffi/ is the bottom layer" },
  {
    from: /^src\/(storage|image)\//,
    forbid: /^src\/(runtime|network|engine|cli|api)/,
    why: "storage and image never reach up (they describe mounts, the runtime performs them)",
  },
  {
    from: /^src\/(cgroups|security|storage|image|container|spec|runtime|network)\//,
    forbid: /^src\/(engine\.ts|cli\/|api\/)/,
    why: "lower layers never import the engine, cli or api",
  },
];

function* walk(dir: string): Generator<string> {
  for (const entry of Deno.readDirSync(dir)) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory) yield* walk(full);
    else if (entry.name.endsWith(".ts")) yield full;
  }
}

const importRe =
  /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
let violations = 0;
for (const top of ["src", "ffi"]) {
  for (const file of walk(path.join(ROOT, top))) {
    const rel = path.relative(ROOT, file);
    const text = Deno.readTextFileSync(file);
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      if (!spec.startsWith(".")) continue;
      const target = path.relative(ROOT, path.resolve(path.dirname(file), spec));
      for (const rule of RULES) {
        if (rule.from.test(rel) && rule.forbid.test(target)) {
          console.error(`${rel} imports ${target}: ${rule.why}`);
          violations++;
        }
      }
    }
  }
}
if (violations > 0) {
  console.error(`${violations} dependency violation(s)`);
  Deno.exit(1);
}
console.log("dependency direction ok");
