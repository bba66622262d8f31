/**
 * `docker-ts unpause`: thaw the container's cgroup.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { forEachContainer, need } from "../container_verbs.ts";

/** The `unpause` verb. */
export const command: Command = {
  name: "unpause",
  usage: "CONTAINER [CONTAINER...]",
  description: "Unpause all processes within one or more containers",
  aliases: [`${PROG} container unpause`, `${PROG} unpause`],
  flags: [],
  args: { min: 1 },
  action(ctx, parsed): Promise<number> {
    return forEachContainer(ctx, parsed.positionals, (e, id) => need(e, "unpause")(id));
  },
};
