/**
 * `docker-ts rename`: rename a container.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { need } from "../container_verbs.ts";

/** The `rename` verb. */
export const command: Command = {
  name: "rename",
  usage: "CONTAINER NEW_NAME",
  description: "Rename a container",
  aliases: [`${PROG} container rename`, `${PROG} rename`],
  flags: [],
  args: { min: 2, max: 2 },
  async action(ctx, parsed): Promise<number> {
    const [from, to] = parsed.positionals;
    await need(await ctx.engine(), "rename")(from, to);
    return 0;
  },
};
