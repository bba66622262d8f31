/**
 * Helpers shared by the per-container lifecycle verbs (`stop`, `kill`, `pause`, …): run an
 * action for each named container, print the name as given, report failures one per line.
 *
 * @module
 */
import type { CliContext } from "./context.ts";
import { reportError } from "./command.ts";
import { CliError } from "./cli_error.ts";
import type { EngineApi } from "../engine_api.ts";

/** Runs `fn` for each container; prints each name on success; 1 when any failed. */
export async function forEachContainer(
  ctx: CliContext,
  names: string[],
  fn: (engine: EngineApi, name: string) => Promise<void>,
): Promise<number> {
  const engine = await ctx.engine();
  let failed = false;
  for (const name of names) {
    try {
      await fn(engine, name);
      ctx.io.writeOut(`${name}\n`);
    } catch (err) {
      reportError(ctx, err);
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

/** The engine method, or a clear error when this engine (e.g. an older daemon) lacks it. */
export function need<K extends keyof EngineApi>(
  engine: EngineApi,
  method: K,
): NonNullable<EngineApi[K]> {
  const fn = engine[method];
  if (typeof fn !== "function") {
    throw new CliError(`This engine does not support "${String(method)}"`);
  }
  return (fn as (...a: unknown[]) => unknown).bind(engine) as NonNullable<EngineApi[K]>;
}
