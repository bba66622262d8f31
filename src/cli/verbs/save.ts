/**
 * `docker-ts save`: write a docker-archive tar to `-o FILE` or to stdout when it is not a
 * terminal.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { given, PROG } from "../command.ts";
import { CliError } from "../cli_error.ts";

/** The `save` verb. */
export const command: Command = {
  name: "save",
  usage: "[OPTIONS] IMAGE [IMAGE...]",
  description: "Save one or more images to a tar archive (streamed to STDOUT by default)",
  aliases: [`${PROG} image save`, `${PROG} save`],
  flags: [
    {
      name: "output",
      short: "o",
      kind: "string",
      description: "Write to a file, instead of STDOUT",
    },
    { name: "platform", kind: "string", description: "Save only the given platform variant" },
  ],
  args: { min: 1 },
  async action(ctx, parsed): Promise<number> {
    const output = given<string>(parsed, "output");
    if (output === undefined && ctx.io.stdoutIsTerminal()) {
      throw new CliError("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    const engine = await ctx.engine();
    await engine.save(parsed.positionals, output ?? ctx.io.stdoutStream());
    return 0;
  },
};
