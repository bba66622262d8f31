/**
 * `docker-ts port`: the container's published ports (`80/tcp -> 0.0.0.0:8080`).
 *
 * @module
 */
import type { Command } from "../command.ts";
import { PROG } from "../command.ts";
import { CliError } from "../cli_error.ts";

/** The `port` verb. */
export const command: Command = {
  name: "port",
  usage: "CONTAINER [PRIVATE_PORT[/PROTO]]",
  description: "List port mappings or a specific mapping for the container",
  aliases: [`${PROG} container port`, `${PROG} port`],
  flags: [],
  args: { min: 1, max: 2 },
  async action(ctx, parsed): Promise<number> {
    const [id, want] = parsed.positionals;
    const info = await (await ctx.engine()).inspect(id);
    const ports = info.NetworkSettings.Ports ?? {};
    const key = want && !want.includes("/") ? `${want}/tcp` : want;
    const lines: string[] = [];
    for (const [port, bindings] of Object.entries(ports)) {
      if (key && port !== key) continue;
      for (const b of bindings ?? []) {
        const hostIp = b.HostIp || "0.0.0.0";
        const addr = hostIp.includes(":") ? `[${hostIp}]:${b.HostPort}` : `${hostIp}:${b.HostPort}`;
        lines.push(key ? addr : `${port} -> ${addr}`);
      }
    }
    if (key && !lines.length) {
      throw new CliError(`Error: No public port '${key}' published for ${id}`);
    }
    if (lines.length) ctx.io.writeOut(lines.join("\n") + "\n");
    return 0;
  },
};
