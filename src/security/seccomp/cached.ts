/**
 * The seccomp decision for a container, memoized on disk. Importing the compiler (zod schemas,
 * syscall tables) and compiling Docker's default profile costs ~30 ms per process, which would
 * dominate `run`; the result only depends on the profile text, the capabilities, the
 * architecture, the kernel release and the compiler's own source, so it is cached under
 * `<root>/cache/seccomp/` keyed by a digest of exactly those inputs.
 *
 * @module
 */
import { lazyImport } from "../../util/lazy_import.ts";
import { atomicWriteFileSync } from "../../util/atomic_write.ts";
import type { ContainerSeccompOptions, SpecSeccomp } from "./for_container.ts";

/** Options of {@link cachedSeccompForContainer}. */
export interface CachedSeccompOptions extends ContainerSeccompOptions {
  /** Cache directory; no caching when absent. */
  cacheDir?: string;
}

/** Fingerprint of the compiler's sources (names, sizes, mtimes); "" when not on a local disk. */
function compilerFingerprint(): string {
  const url = new URL(".", import.meta.url);
  if (url.protocol !== "file:") return "";
  const dir = decodeURIComponent(url.pathname).replace(/\/+$/, "");
  const parts: string[] = [];
  for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile) continue;
    const st = Deno.statSync(`${dir}/${entry.name}`);
    parts.push(`${entry.name}:${st.size}:${st.mtime?.getTime() ?? 0}`);
  }
  return parts.join(",");
}

/** Hex sha256 of a short string through Web Crypto (`node:crypto` costs ~20 ms to import). */
async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
  );
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Same contract as `seccompForContainer`: `undefined` means unconfined (`--privileged` or
 * `seccomp=unconfined`), else the spec's `linux.seccomp` with the compiled program.
 */
export async function cachedSeccompForContainer(
  options: CachedSeccompOptions,
): Promise<SpecSeccomp | undefined> {
  const opt = options.securityOpt?.trim();
  if (options.privileged || opt === "unconfined") return undefined;
  const custom = opt && opt !== "builtin" && opt !== "default";
  const compile = async (): Promise<SpecSeccomp | undefined> => {
    const { seccompForContainer } = await lazyImport<typeof import("./for_container.ts")>(
      new URL("./for_container.ts", import.meta.url),
    );
    const { cacheDir: _ignored, ...rest } = options;
    return seccompForContainer(rest);
  };
  // Custom profiles are read on every call (the file may change); only the default is cached.
  if (!options.cacheDir || custom) return await compile();
  const fingerprint = compilerFingerprint();
  if (!fingerprint) return await compile();
  const key = await sha256Hex(JSON.stringify({
    v: 1,
    caps: [...options.capabilities].sort(),
    arch: options.arch ?? Deno.build.arch,
    kernel: options.kernel ?? Deno.osRelease(),
    fingerprint,
  }));
  const file = `${options.cacheDir}/${key}.json`;
  try {
    return JSON.parse(Deno.readTextFileSync(file)) as SpecSeccomp;
  } catch {
    // miss or unreadable: compile and store
  }
  const result = await compile();
  if (result) {
    try {
      Deno.mkdirSync(options.cacheDir, { recursive: true });
      atomicWriteFileSync(file, JSON.stringify(result));
    } catch {
      // A cache that cannot be written only costs speed.
    }
  }
  return result;
}
