/**
 * `docker-ts tag SOURCE TARGET`.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";

/** The `tag` verb. */
export const command: Command = {
  name: "tag",
  usage: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
  description: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
  aliases: [`${PROG} image tag`, `${PROG} tag`],
  flags: [],
  args: { min: 2, max: 2 },
  async action(ctx, parsed): Promise<number> {
    const [source, target] = parsed.positionals;
    await (await ctx.engine()).tag(source, target);
    return 0;
  },
};
