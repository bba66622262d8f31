/**
 * `docker-ts logs`: print a container's logs (json-file), optionally following.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG } from "../command.ts";
import { CliError } from "../cli_error.ts";
import { need } from "../container_verbs.ts";

/** The `logs` verb. */
export const command: Command = {
  name: "logs",
  usage: "[OPTIONS] CONTAINER",
  description: "Fetch the logs of a container",
  aliases: [`${PROG} container logs`, `${PROG} logs`],
  flags: [
    { name: "details", kind: "bool", description: "Show extra details provided to logs" },
    { name: "follow", short: "f", kind: "bool", description: "Follow log output" },
    {
      name: "since",
      kind: "string",
      description:
        'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
    {
      name: "tail",
      short: "n",
      kind: "string",
      description: 'Number of lines to show from the end of the logs (default "all")',
    },
    { name: "timestamps", short: "t", kind: "bool", description: "Show timestamps" },
    {
      name: "until",
      kind: "string",
      description:
        'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
  ],
  args: { min: 1, max: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    const tailArg = String(parsed.values.tail || "all");
    let tail: number | undefined;
    if (tailArg !== "all") {
      tail = Number(tailArg);
      if (!Number.isInteger(tail)) throw new CliError(`invalid value for --tail: "${tailArg}"`);
    }
    const ac = new AbortController();
    const onInt = (): void => ac.abort();
    Deno.addSignalListener("SIGINT", onInt);
    const stamps = bool(parsed, "timestamps");
    const enc = new TextEncoder();
    try {
      const it = need(engine, "logs")(parsed.positionals[0], {
        follow: bool(parsed, "follow"),
        tail,
        since: String(parsed.values.since || "") || undefined,
        until: String(parsed.values.until || "") || undefined,
        signal: ac.signal,
      });
      for await (const entry of it) {
        const line = stamps
          ? new Uint8Array([...enc.encode(`${entry.time} `), ...entry.data])
          : entry.data;
        if (entry.stream === "stderr") ctx.io.writeErr(line);
        else ctx.io.writeOut(line);
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onInt);
    }
    return 0;
  },
};
