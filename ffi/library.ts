/**
 * The one door to libc. Symbol sets are declared per feature (mount, namespaces, spawn, …)
 * and opened lazily, because every dlopen'ed symbol costs start-up time (~0.13 ms each).
 *
 * @module
 */

const LIBC_CANDIDATES: Record<string, string[]> = {
  x86_64: [
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/lib64/libc.so.6",
  ],
  aarch64: [
    "/lib/aarch64-linux-gnu/libc.so.6",
    "/usr/lib/aarch64-linux-gnu/libc.so.6",
    "/lib64/libc.so.6",
  ],
};

let libcPathCache: string | undefined;

/** Absolute path of the C library; scoped `--allow-ffi=PATH` must name exactly this string. */
export function libcPath(): string {
  if (libcPathCache) return libcPathCache;
  const fromEnv = Deno.env.get("DOCKER_TS_LIBC");
  const candidates = fromEnv ? [fromEnv] : LIBC_CANDIDATES[Deno.build.arch] ?? [];
  for (const candidate of candidates) {
    try {
      Deno.statSync(candidate);
      libcPathCache = candidate;
      return candidate;
    } catch {
      // try the next location
    }
  }
  throw new Error(`Cannot find libc for architecture "${Deno.build.arch}"`);
}

const opened = new Map<string, Deno.DynamicLibrary<Deno.ForeignLibraryInterface>>();

/**
 * Opens (once per feature name) a set of libc symbols.
 *
 * Each feature module calls this lazily from its wrappers so that a process only pays for the
 * symbols it uses.
 */
export function libc<S extends Deno.ForeignLibraryInterface>(
  feature: string,
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] {
  let lib = opened.get(feature);
  if (!lib) {
    lib = Deno.dlopen(libcPath(), symbols) as unknown as Deno.DynamicLibrary<
      Deno.ForeignLibraryInterface
    >;
    opened.set(feature, lib);
  }
  return (lib as unknown as Deno.DynamicLibrary<S>).symbols;
}
