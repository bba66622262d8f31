/**
 * The pull step `run` and `create` share: docker's "Unable to find image … locally", then a
 * pull with progress on stderr. The progress renderer is imported only when a pull happens.
 *
 * @module
 */
import { lazyImport } from "../util/lazy_import.ts";
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
  const { pullWithProgress } = await lazyImport<typeof import("./pull_progress.ts")>(
    new URL("./pull_progress.ts", import.meta.url),
  );
  await pullWithProgress(ctx, engine, opts.image, {
    platform: opts.platform,
    quiet,
    toStderr: true,
  });
  return { ...opts, pull: "missing" };
}

/** The engine's "the image is not here" answer (NotFound, `No such image: …`). */
function isMissingImage(err: unknown): boolean {
  return isNotFound(err) && /^No such image/.test((err as Error).message);
}

/**
 * Runs `use` with the image of `opts` present, as {@link ensureImage} would, but for the common
 * case (pull policy `missing`, image present) without asking first: `use` is tried with pull
 * `never`, and only a "No such image" answer, which comes before anything was created, leads to
 * docker's message, the pull with progress and a second try. Saves a round trip to the daemon
 * on every `run`.
 */
export async function withImage<T>(
  ctx: CliContext,
  engine: EngineApi,
  opts: RunOptionsInput,
  quiet: boolean,
  use: (ready: RunOptionsInput) => Promise<T>,
): Promise<T> {
  if ((opts.pull ?? "missing") === "missing") {
    try {
      return await use({ ...opts, pull: "never" });
    } catch (err) {
      if (!isMissingImage(err)) throw err;
    }
  }
  return await use(await ensureImage(ctx, engine, opts, quiet));
}

/** The reference as docker shows it; an invalid one is docker's error, before any message. */
async function displayRef(ref: string): Promise<string> {
  const { parseReference, familiar } = await lazyImport<typeof import("../image/reference.ts")>(
    new URL("../image/reference.ts", import.meta.url),
  );
  return familiar(parseReference(ref));
}
