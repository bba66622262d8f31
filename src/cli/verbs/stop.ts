/**
 * `docker-ts stop`: stop signal, then SIGKILL after the grace period.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { forEachContainer } from "../container_verbs.ts";

/** The `stop` verb. */
export const command: Command = {
  name: "stop",
  usage: "[OPTIONS] CONTAINER [CONTAINER...]",
  description: "Stop one or more running containers",
  aliases: [`${PROG} container stop`, `${PROG} stop`],
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
    const signal = parsed.changed.has("signal") ? String(parsed.values.signal) : undefined;
    return forEachContainer(ctx, parsed.positionals, (e, id) => e.stop(id, { timeout, signal }));
  },
};
