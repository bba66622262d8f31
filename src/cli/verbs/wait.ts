/**
 * `docker-ts wait`: block until containers stop and print their exit codes.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG, reportError } from "../command.ts";

/** The `wait` verb. */
export const command: Command = {
  name: "wait",
  usage: "CONTAINER [CONTAINER...]",
  description: "Block until one or more containers stop, then print their exit codes",
  aliases: [`${PROG} container wait`, `${PROG} wait`],
  flags: [],
  args: { min: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    let failed = false;
    for (const id of parsed.positionals) {
      try {
        ctx.io.writeOut(`${await engine.wait(id)}\n`);
      } catch (err) {
        reportError(ctx, err);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
