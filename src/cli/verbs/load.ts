/**
 * `docker-ts load`: load a docker-archive or OCI-layout tar from `-i FILE` or stdin.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT_ENGINE_ERROR } from "../../errors.ts";
import { given, PROG } from "../command.ts";
import { CliError } from "../cli_error.ts";

/** The `load` verb. */
export const command: Command = {
  name: "load",
  usage: "[OPTIONS]",
  description: "Load an image from a tar archive or STDIN",
  aliases: [`${PROG} image load`, `${PROG} load`],
  flags: [
    {
      name: "input",
      short: "i",
      kind: "string",
      description: "Read from tar archive file, instead of STDIN",
    },
    { name: "quiet", short: "q", kind: "bool", description: "Suppress the load output" },
  ],
  args: { max: 0 },
  // The issue asks 125 when the engine fails an image transfer (docker's CLI exits 1).
  engineErrorCode: EXIT_ENGINE_ERROR,
  async action(ctx, parsed): Promise<number> {
    const input = given<string>(parsed, "input");
    if (input === undefined && ctx.io.stdinIsTerminal()) {
      throw new CliError("requested load from stdin, but stdin is empty");
    }
    const engine = await ctx.engine();
    const loaded = await engine.load(input ?? ctx.io.stdin());
    // `-q` only silences progress, which the in-process load does not print; docker still
    // prints the "Loaded image" lines.
    for (const name of loaded) {
      ctx.io.writeOut(
        /^sha256:[a-f0-9]{64}$/.test(name)
          ? `Loaded image ID: ${name}\n`
          : `Loaded image: ${name}\n`,
      );
    }
    return 0;
  },
};
