/**
 * `docker-ts rmi`: remove images, printing `Untagged: …` / `Deleted: sha256:…` lines.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG, reportError } from "../command.ts";

/** The `rmi` verb. */
export const command: Command = {
  name: "rmi",
  usage: "[OPTIONS] IMAGE [IMAGE...]",
  description: "Remove one or more images",
  aliases: [`${PROG} image rm`, `${PROG} image remove`, `${PROG} rmi`],
  flags: [
    { name: "force", short: "f", kind: "bool", description: "Force removal of the image" },
    { name: "no-prune", kind: "bool", description: "Do not delete untagged parents" },
  ],
  args: { min: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    let failed = false;
    for (const ref of parsed.positionals) {
      try {
        const reports = await engine.removeImage(ref, {
          force: bool(parsed, "force"),
          noPrune: bool(parsed, "no-prune"),
        });
        for (const r of reports) {
          ctx.io.writeOut(
            "Untagged" in r ? `Untagged: ${r.Untagged}\n` : `Deleted: ${r.Deleted}\n`,
          );
        }
      } catch (err) {
        reportError(ctx, err);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
