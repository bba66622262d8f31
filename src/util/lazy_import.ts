/**
 * Run-time imports that stay out of Deno's start-up module graph.
 *
 * `deno run` builds (reads, hashes, resolves) the graph of every `import("literal")` it can see
 * before the program starts, even when the branch never runs: the CLI's table of lazily loaded
 * verbs alone cost about 20 ms on every command. A specifier computed at run time is not
 * analysed, so only the modules a command really loads are read. The type argument keeps the
 * result fully typed (`typeof import(…)` is a type query, erased at run time).
 *
 * @example
 * ```ts
 * import { lazyImport } from "./lazy_import.ts";
 * const path = await lazyImport<typeof import("./path.ts")>(new URL("./path.ts", import.meta.url));
 * console.assert(path.joinPath("/a", "b") === "/a/b");
 * ```
 *
 * @module
 */

/** Imports the module at `url` when called; `T` is its `typeof import(…)` type. */
export function lazyImport<T>(url: URL): Promise<T> {
  return import(url.href);
}
