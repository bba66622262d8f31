/**
 * `docker-ts rm`: remove containers, printing each name as given; failures are reported one per
 * line and make the exit code 1, as docker does.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG, reportError } from "../command.ts";

/** The `rm` verb. */
export const command: Command = {
  name: "rm",
  usage: "[OPTIONS] CONTAINER [CONTAINER...]",
  description: "Remove one or more containers",
  aliases: [`${PROG} container rm`, `${PROG} container remove`, `${PROG} rm`],
  flags: [
    {
      name: "force",
      short: "f",
      kind: "bool",
      description: "Force the removal of a running container (uses SIGKILL)",
    },
    {
      name: "volumes",
      short: "v",
      kind: "bool",
      description: "Remove anonymous volumes associated with the container",
    },
  ],
  args: { min: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    let failed = false;
    for (const id of parsed.positionals) {
      try {
        await engine.remove(id, { force: bool(parsed, "force"), volumes: bool(parsed, "volumes") });
        ctx.io.writeOut(`${id}\n`);
      } catch (err) {
        reportError(ctx, err);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};
