/**
 * `docker-ts stats`: CPU, memory and pids of running containers (`--no-stream`: one sample).
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, PROG, str } from "../command.ts";
import { need } from "../container_verbs.ts";
import type { ContainerStats } from "../../engine_api.ts";
import { renderTemplate } from "../go_template.ts";
import { alignTabs, unescapeFormat } from "../table.ts";

function binarySize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(2).replace(/\.?0+$/, "")}${units[i]}`;
}

interface Row {
  Container: string;
  ID: string;
  Name: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

/** Docker's row for one stats record. */
export function statsRow(s: ContainerStats, noTrunc: boolean): Row {
  const cpu = s.cpu_stats as {
    cpu_usage?: { total_usage?: number };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  const pre = s.precpu_stats as typeof cpu;
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const sysDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const cpuPerc = sysDelta > 0 && cpuDelta > 0
    ? (cpuDelta / sysDelta) * (cpu.online_cpus ?? 1) * 100
    : 0;
  const mem = s.memory_stats as {
    usage?: number;
    limit?: number;
    stats?: Record<string, number>;
  };
  // Docker subtracts inactive file cache (v1: total_inactive_file, v2: inactive_file).
  const cache = mem.stats?.total_inactive_file ?? mem.stats?.inactive_file ?? 0;
  const used = Math.max(0, (mem.usage ?? 0) - cache);
  const limit = mem.limit ?? 0;
  return {
    Container: noTrunc ? s.id : s.id.slice(0, 12),
    ID: noTrunc ? s.id : s.id.slice(0, 12),
    Name: s.name.replace(/^\//, ""),
    CPUPerc: `${cpuPerc.toFixed(2)}%`,
    MemUsage: `${binarySize(used)} / ${binarySize(limit)}`,
    MemPerc: `${limit ? ((used / limit) * 100).toFixed(2) : "0.00"}%`,
    NetIO: "0B / 0B",
    BlockIO: "0B / 0B",
    PIDs: String(s.pids_stats.current ?? 0),
  };
}

const DEFAULT =
  "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const HEADERS: Record<string, string> = {
  ID: "CONTAINER ID",
  Container: "CONTAINER",
  Name: "NAME",
  CPUPerc: "CPU %",
  MemUsage: "MEM USAGE / LIMIT",
  MemPerc: "MEM %",
  NetIO: "NET I/O",
  BlockIO: "BLOCK I/O",
  PIDs: "PIDS",
};

/** The `stats` verb. */
export const command: Command = {
  name: "stats",
  usage: "[OPTIONS] [CONTAINER...]",
  description: "Display a live stream of container(s) resource usage statistics",
  aliases: [`${PROG} container stats`, `${PROG} stats`],
  flags: [
    {
      name: "all",
      short: "a",
      kind: "bool",
      description: "Show all containers (default shows just running)",
    },
    { name: "format", kind: "string", description: "Format output using a custom template" },
    {
      name: "no-stream",
      kind: "bool",
      description: "Disable streaming stats and only pull the first result",
    },
    { name: "no-trunc", kind: "bool", description: "Do not truncate output" },
  ],
  async action(ctx, parsed): Promise<number> {
    const engine = await ctx.engine();
    const stats = need(engine, "stats");
    const format = unescapeFormat(str(parsed, "format") || DEFAULT);
    const table = format.startsWith("table");
    const body = table ? format.replace(/^table\s*/, "") : format;
    const render = async (): Promise<string> => {
      const ids = parsed.positionals.length
        ? parsed.positionals
        : (await engine.list({ all: bool(parsed, "all") })).map((c) => c.Id);
      const rows = await Promise.all(
        ids.map(async (id) => statsRow(await stats(id), bool(parsed, "no-trunc"))),
      );
      const lines = rows.map((r) => renderTemplate(body, r));
      if (!table) return lines.join("\n") + (lines.length ? "\n" : "");
      const header = body.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, k) => HEADERS[k] ?? k);
      return alignTabs([header, ...lines]).join("\n") + "\n";
    };
    if (bool(parsed, "no-stream")) {
      ctx.io.writeOut(await render());
      return 0;
    }
    for (;;) {
      const text = await render();
      ctx.io.writeOut("\x1b[2J\x1b[H" + text);
      await new Promise((r) => setTimeout(r, 1000));
    }
  },
};
