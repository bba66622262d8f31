/**
 * `docker-ts import`: make a one-layer image from a rootfs tarball (file or `-` for stdin) and
 * print its id.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { EXIT_ENGINE_ERROR } from "../../errors.ts";
import { list, PROG } from "../command.ts";

/** The `import` verb. */
export const command: Command = {
  name: "import",
  usage: "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
  description: "Import the contents from a tarball to create a filesystem image",
  aliases: [`${PROG} image import`, `${PROG} import`],
  flags: [
    {
      name: "change",
      short: "c",
      kind: "list",
      description: "Apply Dockerfile instruction to the created image",
    },
    {
      name: "message",
      short: "m",
      kind: "string",
      description: "Set commit message for imported image",
    },
    {
      name: "platform",
      kind: "string",
      description: "Set platform if server is multi-platform capable",
    },
  ],
  args: { min: 1, max: 2 },
  // The issue asks 125 when the engine fails an image transfer (docker's CLI exits 1).
  engineErrorCode: EXIT_ENGINE_ERROR,
  async action(ctx, parsed): Promise<number> {
    const [source, ref] = parsed.positionals;
    const engine = await ctx.engine();
    const id = await engine.importImage(source === "-" ? ctx.io.stdin() : source, {
      ref,
      changes: list(parsed, "change"),
    });
    ctx.io.writeOut(`${id}\n`);
    return 0;
  },
};
