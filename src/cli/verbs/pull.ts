/**
 * `docker-ts pull`: download an image with docker's progress display.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, given, PROG } from "../command.ts";
import { pullWithProgress } from "../pull_progress.ts";

/** The `pull` verb. */
export const command: Command = {
  name: "pull",
  usage: "[OPTIONS] NAME[:TAG|@DIGEST]",
  description: "Download an image from a registry",
  aliases: [`${PROG} image pull`, `${PROG} pull`],
  flags: [
    {
      name: "platform",
      kind: "string",
      description: "Set platform if server is multi-platform capable",
    },
    { name: "quiet", short: "q", kind: "bool", description: "Suppress verbose output" },
  ],
  args: { min: 1, max: 1 },
  async action(ctx, parsed): Promise<number> {
    await pullWithProgress(ctx, await ctx.engine(), parsed.positionals[0], {
      platform: given<string>(parsed, "platform"),
      quiet: bool(parsed, "quiet"),
    });
    return 0;
  },
};
