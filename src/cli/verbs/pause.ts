/**
 * `docker-ts pause`: freeze the container's cgroup.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { forEachContainer, need } from "../container_verbs.ts";

/** The `pause` verb. */
export const command: Command = {
  name: "pause",
  usage: "CONTAINER [CONTAINER...]",
  description: "Pause all processes within one or more containers",
  aliases: [`${PROG} container pause`, `${PROG} pause`],
  flags: [],
  args: { min: 1 },
  action(ctx, parsed): Promise<number> {
    return forEachContainer(ctx, parsed.positionals, (e, id) => need(e, "pause")(id));
  },
};
