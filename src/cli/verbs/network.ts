/**
 * `docker-ts network create|ls|inspect|rm|prune|connect|disconnect`: one management verb that
 * dispatches its sub-commands (each a {@link Command} of its own, with docker's flags, help and
 * exit codes), so the CLI's verb table needs a single `network` entry.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, list, PROG, reportError, runCommand, str } from "../command.ts";
import type { CliContext } from "../context.ts";
import { CliError } from "../cli_error.ts";
import { GoTemplate } from "../go_template.ts";
import { renderList, unescapeFormat } from "../table.ts";
import { shortId } from "../units.ts";
import { NotImplementedError } from "../../errors.ts";
import type { EngineApi, EngineApiNetwork } from "../../engine_api.ts";

type NetEngine = EngineApi & Required<EngineApiNetwork>;

async function netEngine(ctx: CliContext): Promise<NetEngine> {
  const engine = await ctx.engine();
  if (typeof engine.createNetwork !== "function") {
    throw new NotImplementedError("Cannot manage networks: this engine does not support them");
  }
  return engine as NetEngine;
}

function labelsOf(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq < 0) out[v] = "";
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

const create: Command = {
  name: "network create",
  usage: "[OPTIONS] NETWORK",
  description: "Create a network",
  flags: [
    {
      name: "driver",
      short: "d",
      kind: "string",
      description: "Driver to manage the Network",
      default: "bridge",
    },
    {
      name: "subnet",
      kind: "list",
      description: "Subnet in CIDR format that represents a network segment",
    },
    { name: "gateway", kind: "list", description: "IPv4 Gateway for the master subnet" },
    { name: "internal", kind: "bool", description: "Restrict external access to the network" },
    { name: "label", kind: "list", description: "Set metadata on a network" },
  ],
  args: { min: 1, max: 1 },
  async action(ctx, parsed): Promise<number> {
    const subnets = list(parsed, "subnet");
    const gateways = list(parsed, "gateway");
    if (subnets.length > 1 || gateways.length > 1) {
      throw new CliError("only one --subnet and one --gateway are supported", 1);
    }
    const engine = await netEngine(ctx);
    const n = await engine.createNetwork({
      name: parsed.positionals[0],
      driver: str(parsed, "driver"),
      subnet: subnets[0],
      gateway: gateways[0],
      internal: bool(parsed, "internal"),
      labels: labelsOf(list(parsed, "label")),
    });
    ctx.io.writeOut(`${n.Id}\n`);
    return 0;
  },
};

const ls: Command = {
  name: "network ls",
  usage: "[OPTIONS]",
  description: "List networks",
  aliases: [`${PROG} network ls`, `${PROG} network list`],
  flags: [
    { name: "quiet", short: "q", kind: "bool", description: "Only display network IDs" },
    { name: "format", kind: "string", description: "Format output using a custom template" },
    { name: "no-trunc", kind: "bool", description: "Do not truncate the output" },
  ],
  args: { max: 0 },
  async action(ctx, parsed): Promise<number> {
    const engine = await netEngine(ctx);
    const nets = await engine.listNetworks();
    nets.sort((a, b) => a.Name.localeCompare(b.Name));
    const noTrunc = bool(parsed, "no-trunc");
    if (bool(parsed, "quiet")) {
      for (const n of nets) ctx.io.writeOut(`${noTrunc ? n.Id : shortId(n.Id)}\n`);
      return 0;
    }
    const rows = nets.map((n) => ({
      ID: noTrunc ? n.Id : shortId(n.Id),
      Name: n.Name,
      Driver: n.Driver,
      Scope: n.Scope,
      Internal: String(n.Internal),
      IPv6: String(n.EnableIPv6),
      CreatedAt: n.Created,
      Labels: Object.entries(n.Labels).map(([k, v]) => `${k}=${v}`).join(","),
    }));
    ctx.io.writeOut(renderList(rows, {
      format: str(parsed, "format"),
      defaultTable: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
      headers: {
        ID: "NETWORK ID",
        Name: "NAME",
        Driver: "DRIVER",
        Scope: "SCOPE",
        Internal: "INTERNAL",
        IPv6: "IPV6",
        CreatedAt: "CREATED AT",
        Labels: "LABELS",
      },
    }));
    return 0;
  },
};

const inspect: Command = {
  name: "network inspect",
  usage: "[OPTIONS] NETWORK [NETWORK...]",
  description: "Display detailed information on one or more networks",
  flags: [{
    name: "format",
    short: "f",
    kind: "string",
    description: "Format output using a custom template",
  }],
  args: { min: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await netEngine(ctx);
    const format = str(parsed, "format");
    const template = format && format !== "json"
      ? new GoTemplate(unescapeFormat(format))
      : undefined;
    const found: unknown[] = [];
    let failed = false;
    for (const ref of parsed.positionals) {
      try {
        const n = await engine.inspectNetwork(ref);
        found.push(n);
        if (template) ctx.io.writeOut(template.execute(n) + "\n");
        else if (format === "json") ctx.io.writeOut(JSON.stringify(n) + "\n");
      } catch (err) {
        if ((err as { kind?: string }).kind !== "NotFound") throw err;
        reportError(ctx, err);
        failed = true;
      }
    }
    if (!format) ctx.io.writeOut(found.length ? JSON.stringify(found, null, 4) + "\n" : "[]\n");
    return failed ? 1 : 0;
  },
};

const rm: Command = {
  name: "network rm",
  usage: "NETWORK [NETWORK...]",
  description: "Remove one or more networks",
  aliases: [`${PROG} network rm`, `${PROG} network remove`],
  flags: [{
    name: "force",
    short: "f",
    kind: "bool",
    description: "Do not error if the network does not exist",
  }],
  args: { min: 1 },
  async action(ctx, parsed): Promise<number> {
    const engine = await netEngine(ctx);
    let failed = false;
    for (const ref of parsed.positionals) {
      try {
        await engine.removeNetwork(ref);
        ctx.io.writeOut(`${ref}\n`);
      } catch (err) {
        if (bool(parsed, "force") && (err as { kind?: string }).kind === "NotFound") continue;
        reportError(ctx, err);
        failed = true;
      }
    }
    return failed ? 1 : 0;
  },
};

const prune: Command = {
  name: "network prune",
  usage: "[OPTIONS]",
  description: "Remove all unused networks",
  flags: [{
    name: "force",
    short: "f",
    kind: "bool",
    description: "Do not prompt for confirmation",
  }],
  args: { max: 0 },
  async action(ctx): Promise<number> {
    // No prompt: the CLI has no interactive confirmation (as with `-f`).
    const engine = await netEngine(ctx);
    const removed = await engine.pruneNetworks();
    if (removed.length > 0) {
      ctx.io.writeOut(`Deleted Networks:\n${removed.map((n) => `${n}\n`).join("")}`);
    }
    return 0;
  },
};

const connect: Command = {
  name: "network connect",
  usage: "[OPTIONS] NETWORK CONTAINER",
  description: "Connect a container to a network",
  flags: [
    { name: "alias", kind: "list", description: "Add network-scoped alias for the container" },
    { name: "ip", kind: "string", description: "IPv4 address (e.g., 172.30.100.104)" },
  ],
  args: { min: 2, max: 2 },
  async action(ctx, parsed): Promise<number> {
    const engine = await netEngine(ctx);
    const ip = str(parsed, "ip");
    await engine.connectNetwork(parsed.positionals[0], parsed.positionals[1], {
      aliases: list(parsed, "alias"),
      ip: ip === "" ? undefined : ip,
    });
    return 0;
  },
};

const disconnect: Command = {
  name: "network disconnect",
  usage: "[OPTIONS] NETWORK CONTAINER",
  description: "Disconnect a container from a network",
  flags: [{
    name: "force",
    short: "f",
    kind: "bool",
    description: "Force the container to disconnect from a network",
  }],
  args: { min: 2, max: 2 },
  async action(ctx, parsed): Promise<number> {
    const engine = await netEngine(ctx);
    await engine.disconnectNetwork(parsed.positionals[0], parsed.positionals[1], {
      force: bool(parsed, "force"),
    });
    return 0;
  },
};

/** The sub-commands by name (aliases included). */
export const SUBCOMMANDS: Record<string, Command> = {
  create,
  ls,
  list: ls,
  inspect,
  rm,
  remove: rm,
  prune,
  connect,
  disconnect,
};

function usage(): string {
  const names = ["connect", "create", "disconnect", "inspect", "ls", "prune", "rm"];
  return [
    `Usage:  ${PROG} network COMMAND`,
    "",
    "Manage networks",
    "",
    "Commands:",
    ...names.map((n) => `  ${n.padEnd(12)}${SUBCOMMANDS[n].description}`),
    "",
    `Run '${PROG} network COMMAND --help' for more information on a command.`,
    "",
  ].join("\n");
}

/** The `network` verb: `network <sub> …`. */
export const command: Command = {
  name: "network",
  usage: "COMMAND",
  description: "Manage networks",
  flags: [],
  interspersed: false,
  async action(ctx, parsed): Promise<number> {
    const [sub, ...rest] = parsed.positionals;
    if (sub === undefined) {
      ctx.io.writeOut(usage());
      return 0;
    }
    const cmd = SUBCOMMANDS[sub];
    if (!cmd) {
      ctx.io.writeErr(
        `${PROG}: '${sub}' is not a ${PROG} network command.\nSee '${PROG} network --help'\n`,
      );
      return 1;
    }
    return await runCommand(cmd, ctx, rest);
  },
};
