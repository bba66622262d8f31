/**
 * Container endpoints of detached containers: logs (framed unless tty, follow, tail, since,
 * until, timestamps), pause/unpause, top, stats (one sample or a stream), rename and prune —
 * thin mappings onto the engine's lifecycle verbs.
 *
 * @module
 */
import { InvalidArgumentError, NotImplementedError } from "../../errors.ts";
import type { ContainerStats, EngineApi, LogEntry } from "../../engine_api.ts";
import type { ResponseWriter } from "../http_server.ts";
import { checkFilterNames, matchLabels, parseFilters } from "../filters.ts";
import { encodeFrame } from "../stream_framing.ts";
import { type ApiContext, type ApiRequest, type RouteTable, sendJson } from "./_common.ts";

const encoder = new TextEncoder();

/** The engine's optional verb, or a 501 naming what is missing. */
export function need<K extends keyof EngineApi>(
  engine: EngineApi,
  key: K,
  what: string,
): NonNullable<EngineApi[K]> {
  const fn = engine[key];
  if (typeof fn !== "function") {
    throw new NotImplementedError(`Cannot ${what}: not supported by this engine`);
  }
  return (fn as (...a: unknown[]) => unknown).bind(engine) as NonNullable<EngineApi[K]>;
}

/** Bytes of one log entry on the wire: `<time> ` prefix with timestamps, a frame unless tty. */
export function logEntryBytes(
  e: LogEntry,
  options: { tty: boolean; timestamps: boolean },
): Uint8Array {
  let data = e.data;
  if (options.timestamps) {
    const prefix = encoder.encode(`${e.time} `);
    const both = new Uint8Array(prefix.length + data.length);
    both.set(prefix);
    both.set(data, prefix.length);
    data = both;
  }
  return options.tty ? data : encodeFrame(e.stream === "stderr" ? 2 : 1, data);
}

/** `tail`: `all`/absent → everything; else a count. */
function tailParam(req: ApiRequest): number | undefined {
  const v = req.query.get("tail");
  if (v === null || v === "" || v === "all") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) {
    throw new InvalidArgumentError(`Invalid value for "tail": "${v}" is not an integer`);
  }
  return n < 0 ? undefined : n;
}

/** `since`/`until` as sent by the CLI: unix seconds with fractions; `0` means unset. */
function timeParam(req: ApiRequest, name: string): string | undefined {
  const v = req.query.get(name);
  if (v === null || v === "" || v === "0") return undefined;
  return v;
}

async function logs(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const stdout = req.bool("stdout");
  const stderr = req.bool("stderr");
  if (!stdout && !stderr) {
    throw new InvalidArgumentError("Bad parameters: you must choose at least one stream");
  }
  const read = need(ctx.engine, "logs", "read container logs");
  const info = await ctx.engine.inspect(req.params.id);
  const tty = info.Config.Tty;
  const follow = req.bool("follow");
  const stop = new AbortController();
  const entries = read(info.Id, {
    stdout,
    stderr,
    follow,
    tail: tailParam(req),
    since: timeParam(req, "since"),
    until: timeParam(req, "until"),
    signal: stop.signal,
  });
  // Validation errors (a bad `since`) surface on the first read: pull it before the head goes.
  const it = entries[Symbol.asyncIterator]();
  let first: IteratorResult<LogEntry>;
  try {
    first = await it.next();
  } catch (err) {
    stop.abort();
    throw err;
  }
  const out = await res.stream(200, {
    "Content-Type": tty
      ? "application/vnd.docker.raw-stream"
      : "application/vnd.docker.multiplexed-stream",
  });
  if (follow) req.http.signal.addEventListener("abort", () => stop.abort(), { once: true });
  const timestamps = req.bool("timestamps");
  try {
    for (let r = first; !r.done; r = await it.next()) {
      await out.write(logEntryBytes(r.value, { tty, timestamps }));
    }
  } catch (err) {
    if (stop.signal.aborted) return;
    throw err;
  } finally {
    stop.abort();
    await it.return?.();
  }
  await out.end();
}

async function pause(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  await need(ctx.engine, "pause", "pause containers")(req.params.id);
  await res.send(204);
}

async function unpause(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  await need(ctx.engine, "unpause", "unpause containers")(req.params.id);
  await res.send(204);
}

async function top(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const psArgs = req.query.get("ps_args") || undefined;
  await sendJson(res, 200, await need(ctx.engine, "top", "list processes")(req.params.id, psArgs));
}

async function stats(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const sample = need(ctx.engine, "stats", "get container stats");
  const stream = req.bool("stream", true) && !req.bool("one-shot");
  const first = await sample(req.params.id);
  if (!stream) {
    await sendJson(res, 200, first);
    return;
  }
  const out = await res.stream(200, { "Content-Type": "application/json" });
  const signal = req.http.signal;
  let prev: ContainerStats = first;
  await out.write(JSON.stringify(first) + "\n");
  while (!signal.aborted) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      signal.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
    if (signal.aborted) return;
    let next: ContainerStats;
    try {
      next = await sample(first.id);
    } catch {
      break; // removed
    }
    // Each message carries the previous one's CPU figures, as dockerd's stream does.
    next = { ...next, preread: prev.read, precpu_stats: prev.cpu_stats };
    await out.write(JSON.stringify(next) + "\n");
    prev = next;
    const pids = next.pids_stats?.current;
    if (pids === 0) break;
  }
  await out.end();
}

async function rename(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const name = req.query.get("name");
  if (!name) throw new InvalidArgumentError("Neither old nor new names may be empty");
  await need(ctx.engine, "rename", "rename containers")(req.params.id, name);
  await res.send(204);
}

/** Prune for an engine without its own: remove each stopped container that matches. */
async function pruneByRemoval(
  engine: EngineApi,
  labels: string[],
  until: string | undefined,
): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
  const untilSec = until === undefined
    ? Infinity
    : /^\d+(\.\d+)?$/.test(until)
    ? Number(until)
    : Date.parse(until) / 1000;
  const deleted: string[] = [];
  for (const c of await engine.list({ all: true })) {
    if (c.State === "running" || c.State === "paused") continue;
    if (labels.length && !matchLabels(c.Labels, labels)) continue;
    if (c.Created > untilSec) continue;
    try {
      await engine.remove(c.Id);
      deleted.push(c.Id);
    } catch {
      // started or removed meanwhile
    }
  }
  return { ContainersDeleted: deleted, SpaceReclaimed: 0 };
}

async function prune(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const filters = parseFilters(req.query.get("filters"));
  checkFilterNames(filters, ["label", "until"]);
  const labels = filters.get("label") ?? [];
  const until = filters.get("until")?.[0];
  const report = ctx.engine.prune
    ? await ctx.engine.prune({ labels, until })
    : await pruneByRemoval(ctx.engine, labels, until);
  for (const id of report.ContainersDeleted) ctx.events.emit("container", "destroy", id, {});
  await sendJson(res, 200, {
    ContainersDeleted: report.ContainersDeleted.length ? report.ContainersDeleted : null,
    SpaceReclaimed: report.SpaceReclaimed,
  });
}

/** Registers the lifecycle routes (before the container table's fallbacks). */
export function registerLifecycle(r: RouteTable): void {
  r.add("GET", "/containers/{id}/logs", logs);
  r.add("POST", "/containers/{id}/pause", pause);
  r.add("POST", "/containers/{id}/unpause", unpause);
  r.add("GET", "/containers/{id}/top", top);
  r.add("GET", "/containers/{id}/stats", stats);
  r.add("POST", "/containers/{id}/rename", rename);
  r.add("POST", "/containers/prune", prune);
}
