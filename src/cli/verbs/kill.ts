/**
 * `docker-ts kill`: send a signal (default KILL) to running containers.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { forEachContainer } from "../container_verbs.ts";

/** The `kill` verb. */
export const command: Command = {
  name: "kill",
  usage: "[OPTIONS] CONTAINER [CONTAINER...]",
  description: "Kill one or more running containers",
  aliases: [`${PROG} container kill`, `${PROG} kill`],
  flags: [
    {
      name: "signal",
      short: "s",
      kind: "string",
      description: "Signal to send to the container",
      default: "KILL",
    },
  ],
  args: { min: 1 },
  action(ctx, parsed): Promise<number> {
    const signal = String(parsed.values.signal || "KILL");
    return forEachContainer(ctx, parsed.positionals, (e, id) => e.kill(id, signal));
  },
};
