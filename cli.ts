/**
 * The `docker-ts` command line as a program: `deno run -A cli.ts [flags] <verb> …`.
 *
 * The entry the scripts and README use. Unlike `mod.ts` (the library surface, which re-exports
 * the Engine and so imports its whole module graph before anything runs), this loads only the
 * CLI's small core; each verb then imports what it needs (`--version` and `--help` never load
 * the engine, `run` loads it once). `deno run mod.ts` still works, at the engine's import cost.
 *
 * @module
 */
import { main } from "./src/cli/main.ts";
import { guardInspectorSignal } from "./src/runtime/inspector_guard.ts";

if (import.meta.main) {
  // A long-running root CLI must not open Deno's SIGUSR1 inspector (see inspector_guard.ts).
  guardInspectorSignal();
  Deno.exit(await main(Deno.args));
}
