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

const errnoSymbols = {
  /** int *__errno_location(void); */
  __errno_location: { parameters: [], result: "pointer" },
  /** char *strerror(int errnum); */
  strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let errnoLib: Deno.DynamicLibrary<typeof errnoSymbols> | undefined;
let errnoView: Deno.UnsafePointerView | null = null;

/**
 * Looks up the calling thread's errno location, the first time any symbol set is opened: the
 * lookup (a dlopen, an allocation) may itself set errno, so it must never run between a failed
 * call and the read of its errno. Module instances are per thread (per Worker), and so is this.
 */
function prepareErrno(): void {
  if (errnoLib !== undefined) return;
  errnoLib = Deno.dlopen(libcPath(), errnoSymbols);
  const p = errnoLib.symbols.__errno_location();
  errnoView = p === null ? null : new Deno.UnsafePointerView(p);
}

/**
 * The calling thread's errno, read without a call or an allocation in between (either could
 * run a syscall of its own first: a GC step's futex wait leaves EAGAIN). Prepared when the
 * failed call's symbols were opened. For the same reason every symbol whose errno is read
 * declares an `i32` result, never `isize`/`i64`: Deno returns those as a fresh BigInt, an
 * allocation between the call and the read (the values all fit: sizes, fds, 0 and -1).
 */
export function readErrno(): number {
  prepareErrno();
  return errnoView === null ? 0 : errnoView.getInt32(0);
}

/** strerror(3) from the same library handle. */
export function strerrorPointer(value: number): Deno.PointerObject | null {
  prepareErrno();
  return errnoLib!.symbols.strerror(value);
}

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
    prepareErrno();
    lib = Deno.dlopen(libcPath(), symbols) as unknown as Deno.DynamicLibrary<
      Deno.ForeignLibraryInterface
    >;
    opened.set(feature, lib);
  }
  return (lib as unknown as Deno.DynamicLibrary<S>).symbols;
}
