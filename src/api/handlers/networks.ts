/**
 * Network endpoints: list (filters), inspect, create, remove, connect, disconnect, prune —
 * mapped onto the engine's network verbs (user-defined bridges only, as the engine offers).
 *
 * @module
 */
import { z } from "zod";
import { InvalidArgumentError } from "../../errors.ts";
import type { NetworkInspect } from "../../engine_api.ts";
import type { ResponseWriter } from "../http_server.ts";
import { checkFilterNames, matchLabels, parseFilters } from "../filters.ts";
import { type ApiContext, type ApiRequest, type RouteTable, sendJson } from "./_common.ts";
import { need } from "./lifecycle.ts";

const CreateSchema = z.looseObject({
  Name: z.string().min(1),
  Driver: z.string().nullish(),
  Internal: z.boolean().nullish(),
  Labels: z.record(z.string(), z.string()).nullish(),
  IPAM: z.looseObject({
    Config: z.array(z.looseObject({
      Subnet: z.string().nullish(),
      Gateway: z.string().nullish(),
    })).nullish(),
  }).nullish(),
});

const ConnectSchema = z.looseObject({
  Container: z.string().min(1),
  Force: z.boolean().nullish(),
  EndpointConfig: z.looseObject({
    Aliases: z.array(z.string()).nullish(),
    IPAMConfig: z.looseObject({ IPv4Address: z.string().nullish() }).nullish(),
  }).nullish(),
});

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidArgumentError(
      `Invalid ${what}: "${issue.path.join(".") || "body"}": ${issue.message}`,
      { cause: r.error },
    );
  }
  return r.data;
}

function networkMatches(n: NetworkInspect, f: ReturnType<typeof parseFilters>): boolean {
  const any = (name: string, test: (v: string) => boolean): boolean => {
    const values = f.get(name);
    return !values?.length || values.some(test);
  };
  const builtin = ["bridge", "host", "none"].includes(n.Name);
  return any("name", (v) => n.Name.includes(v)) &&
    any("id", (v) => n.Id.startsWith(v)) &&
    any("driver", (v) => n.Driver === v) &&
    any("scope", (v) => n.Scope === v) &&
    any("type", (v) => v === (builtin ? "builtin" : "custom")) &&
    (!f.get("label")?.length ||
      matchLabels((n as { Labels?: Record<string, string> }).Labels ?? {}, f.get("label")!));
}

async function list(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const filters = parseFilters(req.query.get("filters"));
  checkFilterNames(filters, ["name", "id", "driver", "scope", "type", "label", "dangling"]);
  const all = await need(ctx.engine, "listNetworks", "list networks")();
  await sendJson(res, 200, all.filter((n) => networkMatches(n, filters)));
}

async function inspect(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  await sendJson(
    res,
    200,
    await need(ctx.engine, "inspectNetwork", "inspect networks")(req.params.id),
  );
}

async function create(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const b = parse(CreateSchema, await req.json(), "network config");
  const ipam = b.IPAM?.Config?.[0];
  const n = await need(ctx.engine, "createNetwork", "create networks")({
    name: b.Name,
    driver: b.Driver || undefined,
    internal: b.Internal ?? false,
    labels: b.Labels ?? {},
    subnet: ipam?.Subnet || undefined,
    gateway: ipam?.Gateway || undefined,
  });
  ctx.events.emit("network", "create", n.Id, { name: n.Name, type: n.Driver });
  await sendJson(res, 201, { Id: n.Id, Warning: "" });
}

async function remove(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const n = await need(ctx.engine, "inspectNetwork", "inspect networks")(req.params.id);
  await need(ctx.engine, "removeNetwork", "remove networks")(n.Id);
  ctx.events.emit("network", "destroy", n.Id, { name: n.Name, type: n.Driver });
  await res.send(204);
}

async function connect(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const b = parse(ConnectSchema, await req.json(), "connect request");
  const ep = b.EndpointConfig;
  await need(ctx.engine, "connectNetwork", "connect containers")(req.params.id, b.Container, {
    aliases: ep?.Aliases ?? undefined,
    ip: ep?.IPAMConfig?.IPv4Address || undefined,
  });
  ctx.events.emit("network", "connect", req.params.id, { container: b.Container });
  await res.send(200, "");
}

async function disconnect(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const b = parse(ConnectSchema, await req.json(), "disconnect request");
  await need(ctx.engine, "disconnectNetwork", "disconnect containers")(
    req.params.id,
    b.Container,
    { force: b.Force ?? false },
  );
  ctx.events.emit("network", "disconnect", req.params.id, { container: b.Container });
  await res.send(200, "");
}

async function prune(_req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const names = await need(ctx.engine, "pruneNetworks", "prune networks")();
  await sendJson(res, 200, { NetworksDeleted: names.length ? names : null });
}

/** Registers the network routes. */
export function registerNetworks(r: RouteTable): void {
  r.add("GET", "/networks", list);
  r.add("GET", "/networks/json", list);
  r.add("POST", "/networks/create", create);
  r.add("POST", "/networks/prune", prune);
  r.add("GET", "/networks/{id}", inspect);
  r.add("DELETE", "/networks/{id}", remove);
  r.add("POST", "/networks/{id}/connect", connect);
  r.add("POST", "/networks/{id}/disconnect", disconnect);
}
