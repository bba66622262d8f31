/**
 * `docker-ts push`: upload an image, when the engine offers it.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG } from "../command.ts";
import { NotImplementedError } from "../../errors.ts";

/** The `push` verb. */
export const command: Command = {
  name: "push",
  usage: "[OPTIONS] NAME[:TAG]",
  description: "Upload an image to a registry",
  aliases: [`${PROG} image push`, `${PROG} push`],
  flags: [
    { name: "quiet", short: "q", kind: "bool", description: "Suppress verbose output" },
  ],
  args: { min: 1, max: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    // `push` is optional in EngineApi until every implementation offers it.
    if (typeof engine.push !== "function") {
      throw new NotImplementedError("Cannot push: this engine does not support push yet");
    }
    const quiet = bool(parsed, "quiet");
    const ref = parsed.positionals[0];
    await engine.push(ref, {
      onProgress: quiet ? undefined : (e) => {
        if (e.progressDetail?.current !== undefined) return;
        ctx.io.writeOut(e.id ? `${e.id}: ${e.status}\n` : `${e.status}\n`);
      },
    });
    if (quiet) ctx.io.writeOut(`${ref}\n`);
    return 0;
  },
};
