/**
 * The pull step `run` and `create` share: docker's "Unable to find image … locally", then a
 * pull with progress on stderr. The progress renderer is imported only when a pull happens.
 *
 * @module
 */
import type { EngineApi, RunOptionsInput } from "../engine_api.ts";
import type { CliContext } from "./context.ts";
import { DockerTsError } from "../errors.ts";

/** True when `err` is the engine's NotFound category. */
export function isNotFound(err: unknown): boolean {
  return err instanceof DockerTsError && err.kind === "NotFound";
}

/**
 * Makes sure the image of `opts` is present per its pull policy, pulling with progress on
 * stderr as docker does; returns the options to hand to the engine (pull already done).
 */
export async function ensureImage(
  ctx: CliContext,
  engine: EngineApi,
  opts: RunOptionsInput,
  quiet: boolean,
): Promise<RunOptionsInput> {
  const policy = opts.pull ?? "missing";
  if (policy === "never") return opts;
  if (policy === "missing") {
    try {
      await engine.inspectImage(opts.image);
      return opts;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    ctx.io.writeErr(`Unable to find image '${await displayRef(opts.image)}' locally\n`);
  }
  const { pullWithProgress } = await import("./pull_progress.ts");
  await pullWithProgress(ctx, engine, opts.image, {
    platform: opts.platform,
    quiet,
    toStderr: true,
  });
  return { ...opts, pull: "missing" };
}

async function displayRef(ref: string): Promise<string> {
  try {
    const { parseReference, familiar } = await import("../image/reference.ts");
    return familiar(parseReference(ref));
  } catch {
    return ref;
  }
}
