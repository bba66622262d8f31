/**
 * `docker-ts ps`: list containers as docker's table or a `--format` template.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { bool, num, PROG, str } from "../command.ts";
import type { ContainerSummary } from "../../engine_api.ts";
import { renderList } from "../table.ts";
import { humanSize, shortId, timeAgo } from "../units.ts";
import {
  checkContainerFilters,
  containerFiltersNeedAll,
  filterContainers,
  filtersFromFlags,
} from "../../api/filters.ts";

const DEFAULT_TABLE =
  "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

const HEADERS: Record<string, string> = {
  ID: "CONTAINER ID",
  Image: "IMAGE",
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  RunningFor: "CREATED",
  Ports: "PORTS",
  State: "STATE",
  Status: "STATUS",
  Size: "SIZE",
  Names: "NAMES",
  Labels: "LABELS",
  Mounts: "MOUNTS",
  Networks: "NETWORKS",
  LocalVolumes: "LOCAL VOLUMES",
};

/** docker's `Ellipsis`: cut to `max` characters, the last one being `…`. */
export function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join("") + "…";
}

function formatPorts(ports: ContainerSummary["Ports"]): string {
  return ports.map((p) =>
    p.PublicPort
      ? `${p.IP ?? "0.0.0.0"}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`
      : `${p.PrivatePort}/${p.Type}`
  ).join(", ");
}

/** A `ps` row; the sizes are present when the list was asked with `size`. */
type SizedSummary = ContainerSummary & { SizeRw?: number; SizeRootFs?: number };

/** docker's SIZE cell: `<rw>` or `<rw> (virtual <rootfs>)` once SizeRootFs is known. */
export function sizeText(c: SizedSummary): string {
  const rw = humanSize(c.SizeRw ?? 0);
  return c.SizeRootFs && c.SizeRootFs > 0 ? `${rw} (virtual ${humanSize(c.SizeRootFs)})` : rw;
}

/**
 * The fields `ps --format` templates see for one container, keys sorted: docker marshals its
 * row as a Go map, so `{{json .}}` and `--format json` print the keys alphabetically.
 */
export function psRow(
  c: SizedSummary,
  trunc: boolean,
  now = Date.now(),
): Record<string, unknown> {
  const command = trunc ? ellipsis(c.Command, 20) : c.Command;
  const names = c.Names.map((n) => n.replace(/^\//, ""));
  const row: Record<string, unknown> = {
    ID: trunc ? shortId(c.Id) : c.Id,
    Image: trunc && /^sha256:/.test(c.Image) ? shortId(c.Image) : c.Image,
    Command: JSON.stringify(command),
    CreatedAt: new Date(c.Created * 1000).toISOString().replace("T", " ").replace(
      /\.\d+Z$/,
      " +0000 UTC",
    ),
    RunningFor: timeAgo(c.Created * 1000, now),
    Ports: formatPorts(c.Ports ?? []),
    State: c.State,
    Status: c.Status,
    Size: sizeText(c),
    Names: names.join(","),
    Labels: Object.entries(c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(","),
    // docker's `{{.Label "key"}}` (a method of its row); absent from `{{json .}}`, as there.
    Label: (key: unknown) => (c.Labels ?? {})[String(key)] ?? "",
    Mounts: (c.Mounts ?? []).map((m) => m.Source || m.Destination).join(","),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).sort().join(","),
    LocalVolumes: "0",
  };
  return Object.fromEntries(Object.keys(row).sort().map((k) => [k, row[k]]));
}

/** The `ps` verb. */
export const command: Command = {
  name: "ps",
  usage: "[OPTIONS]",
  description: "List containers",
  aliases: [
    `${PROG} container ls`,
    `${PROG} container list`,
    `${PROG} container ps`,
    `${PROG} ps`,
  ],
  flags: [
    {
      name: "all",
      short: "a",
      kind: "bool",
      description: "Show all containers (default shows just running)",
    },
    {
      name: "filter",
      short: "f",
      kind: "list",
      valueName: "filter",
      description: "Filter output based on conditions provided",
    },
    {
      name: "format",
      kind: "string",
      description:
        "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template",
    },
    {
      name: "last",
      short: "n",
      kind: "int",
      description: "Show n last created containers (includes all states)",
      default: -1,
    },
    {
      name: "latest",
      short: "l",
      kind: "bool",
      description: "Show the latest created container (includes all states)",
    },
    { name: "no-trunc", kind: "bool", description: "Don't truncate output" },
    { name: "quiet", short: "q", kind: "bool", description: "Only display container IDs" },
    { name: "size", short: "s", kind: "bool", description: "Display total file sizes" },
  ],
  args: { max: 0 },
  async action(ctx, parsed): Promise<number> {
    let last = num(parsed, "last");
    if (bool(parsed, "latest")) last = 1;
    // Docker's filter semantics (OR within a key, AND across keys, status values checked)
    // whether the list comes from the in-process engine or a daemon.
    const filters = filtersFromFlags(parsed.values.filter as string[]);
    checkContainerFilters(filters);
    const all = bool(parsed, "all") || last > 0 || containerFiltersNeedAll(filters);
    const engine = await ctx.engine();
    const size = bool(parsed, "size");
    // A variable, not a literal: EngineApi.list's declared options predate `size`.
    const listOptions = size ? { all, size } : { all };
    let rows = await engine.list(listOptions);
    rows = await filterContainers(rows, filters, (ref) => engine.inspect(ref));
    rows.sort((a, b) => b.Created - a.Created);
    if (last > 0) rows = rows.slice(0, last);
    const trunc = !bool(parsed, "no-trunc");
    if (bool(parsed, "quiet")) {
      ctx.io.writeOut(rows.map((c) => (trunc ? shortId(c.Id) : c.Id) + "\n").join(""));
      return 0;
    }
    const now = Date.now();
    ctx.io.writeOut(renderList(rows.map((c) => psRow(c, trunc, now)), {
      format: str(parsed, "format"),
      // docker appends the SIZE column to its default table with --size.
      defaultTable: size ? `${DEFAULT_TABLE}\t{{.Size}}` : DEFAULT_TABLE,
      headers: HEADERS,
      typeName: "*formatter.ContainerContext",
      // docker heads a label's column with its last dotted part, `-` and `_` as spaces.
      methodHeaders: {
        Label: (key) => (String(key).split(".").pop() ?? "").replace(/[-_]/g, " "),
      },
    }));
    return 0;
  },
};
