/**
 * `docker-ts logout [SERVER]`.
 *
 * @module
 */
import type { Command } from "../command.ts";

const HUB = "https://index.docker.io/v1/";

/** The `logout` verb. */
export const command: Command = {
  name: "logout",
  usage: "[SERVER]",
  description:
    "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
  flags: [],
  args: { max: 1 },
  async action(ctx, parsed): Promise<number> {
    const server = parsed.positionals[0];
    await (await ctx.engine()).logout(server);
    ctx.io.writeOut(`Removing login credentials for ${server ?? HUB}\n`);
    return 0;
  },
};
