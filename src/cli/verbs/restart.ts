/**
 * `docker-ts restart`: stop (if running), then start detached.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { forEachContainer, need } from "../container_verbs.ts";

/** The `restart` verb. */
export const command: Command = {
  name: "restart",
  usage: "[OPTIONS] CONTAINER [CONTAINER...]",
  description: "Restart one or more containers",
  aliases: [`${PROG} container restart`, `${PROG} restart`],
  flags: [
    { name: "signal", short: "s", kind: "string", description: "Signal to send to the container" },
    {
      name: "time",
      short: "t",
      kind: "int",
      description: "Seconds to wait before killing the container",
      aliases: ["timeout"],
    },
  ],
  args: { min: 1 },
  action(ctx, parsed): Promise<number> {
    const timeout = parsed.changed.has("time") ? Number(parsed.values.time) : undefined;
    return forEachContainer(
      ctx,
      parsed.positionals,
      (e, id) => need(e, "restart")(id, { timeout }),
    );
  },
};
