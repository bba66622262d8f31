/**
 * Container endpoints: create, list (filters), inspect, start, wait (headers at once), kill,
 * stop, restart, remove, resize, attach (hijacked, before start), prune. What the engine cannot
 * do yet answers 501 with the reason.
 *
 * Attach works the way `docker run` uses it: the client attaches to a created container, then
 * starts it; the server keeps the attach sessions and hands their streams to `engine.start`, so
 * output is captured from the first byte.
 *
 * @module
 */
import { z } from "zod";
import { describeError, InvalidArgumentError, NotImplementedError } from "../../errors.ts";
import type {
  ConsoleSize,
  ContainerStatus,
  RunOptionsInput,
  StartOptions,
  SupervisionOptionsInput,
} from "../../engine_api.ts";
import type { HijackedConn, ResponseWriter } from "../http_server.ts";
import {
  checkContainerFilters,
  containerFiltersNeedAll,
  filterContainers,
  parseFilters,
} from "../filters.ts";
import { encodeFrame } from "../stream_framing.ts";
import type { ContainerAttachApi } from "../../container/attach_hub.ts";
import { type ApiContext, type ApiRequest, type RouteTable, sendJson } from "./_common.ts";
import { logEntryBytes, need } from "./lifecycle.ts";

// ---------------------------------------------------------------------------------------------
// Create: Docker's Config + HostConfig → the engine's run options

const strOrList = z.union([z.string(), z.array(z.string())]).nullish();
const strList = z.array(z.string()).nullish();

const MountSchema = z.looseObject({
  Type: z.string().nullish(),
  Source: z.string().nullish(),
  Target: z.string().nullish(),
  ReadOnly: z.boolean().nullish(),
  BindOptions: z.looseObject({ Propagation: z.string().nullish() }).nullish(),
  TmpfsOptions: z.looseObject({
    SizeBytes: z.number().nullish(),
    Mode: z.number().nullish(),
  }).nullish(),
});

const HostConfigSchema = z.looseObject({
  Binds: strList,
  Mounts: z.array(MountSchema).nullish(),
  Tmpfs: z.record(z.string(), z.string()).nullish(),
  NetworkMode: z.string().nullish(),
  PortBindings: z.record(z.string(), z.array(z.unknown()).nullish()).nullish(),
  PublishAllPorts: z.boolean().nullish(),
  RestartPolicy: z.looseObject({
    Name: z.string().nullish(),
    MaximumRetryCount: z.number().nullish(),
  }).nullish(),
  AutoRemove: z.boolean().nullish(),
  Privileged: z.boolean().nullish(),
  ReadonlyRootfs: z.boolean().nullish(),
  CapAdd: strList,
  GroupAdd: strList,
  CapDrop: strList,
  SecurityOpt: strList,
  Ulimits: z.array(z.looseObject({ Name: z.string(), Soft: z.number(), Hard: z.number() }))
    .nullish(),
  Memory: z.number().nullish(),
  MemorySwap: z.number().nullish(),
  NanoCpus: z.number().nullish(),
  CpuShares: z.number().nullish(),
  CpusetCpus: z.string().nullish(),
  PidsLimit: z.number().nullish(),
  ShmSize: z.number().nullish(),
  Dns: strList,
  DnsSearch: strList,
  DnsOptions: strList,
  ExtraHosts: strList,
  Init: z.boolean().nullish(),
  Devices: z.array(z.unknown()).nullish(),
  VolumesFrom: strList,
  Links: strList,
  ConsoleSize: z.array(z.number()).nullish(),
  LogConfig: z.looseObject({
    Type: z.string().nullish(),
    Config: z.record(z.string(), z.string()).nullish(),
  }).nullish(),
});

/** The create body: Config fields at the top level, plus HostConfig (lenient: clients send all). */
const CreateBodySchema = z.looseObject({
  Image: z.string().nullish(),
  Cmd: strOrList,
  Entrypoint: strOrList,
  Env: strList,
  WorkingDir: z.string().nullish(),
  User: z.string().nullish(),
  Hostname: z.string().nullish(),
  Labels: z.record(z.string(), z.string()).nullish(),
  Tty: z.boolean().nullish(),
  OpenStdin: z.boolean().nullish(),
  StdinOnce: z.boolean().nullish(),
  StopSignal: z.string().nullish(),
  StopTimeout: z.number().int().nullish(),
  Healthcheck: z.looseObject({ Test: strList }).nullish(),
  ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
  HostConfig: HostConfigSchema.nullish(),
  NetworkingConfig: z.looseObject({
    EndpointsConfig: z.record(
      z.string(),
      z.looseObject({
        Aliases: strList,
        IPAMConfig: z.looseObject({ IPv4Address: z.string().nullish() }).nullish(),
      }).nullish(),
    ).nullish(),
  }).nullish(),
});

type CreateBody = z.infer<typeof CreateBodySchema>;

/** What `create` yields besides the engine's options. */
export interface CreateRequest {
  options: RunOptionsInput & SupervisionOptionsInput;
  /** `HostConfig.ConsoleSize` as rows/cols, when given. */
  consoleSize?: ConsoleSize;
}

function list(v: string | string[] | null | undefined): string[] | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === "string" ? [v] : v;
}

function mountCsv(m: z.infer<typeof MountSchema>): string {
  const parts = [`type=${m.Type ?? "volume"}`];
  if (m.Source) parts.push(`source=${m.Source}`);
  if (m.Target) parts.push(`target=${m.Target}`);
  if (m.ReadOnly) parts.push("readonly");
  if (m.BindOptions?.Propagation) parts.push(`bind-propagation=${m.BindOptions.Propagation}`);
  if (m.TmpfsOptions?.SizeBytes) parts.push(`tmpfs-size=${m.TmpfsOptions.SizeBytes}`);
  if (m.TmpfsOptions?.Mode) parts.push(`tmpfs-mode=${m.TmpfsOptions.Mode.toString(8)}`);
  return parts.join(",");
}

const BindingSchema = z.looseObject({
  HostIp: z.string().nullish(),
  HostPort: z.string().nullish(),
});

/**
 * `HostConfig.PortBindings` → `-p` specs: `{"80/tcp": [{HostIp: "127.0.0.1", HostPort:
 * "8080"}]}` → `127.0.0.1:8080:80/tcp`; an empty host port asks for a free one.
 *
 * @example
 * ```ts
 * import { publishFromPortBindings } from "./containers.ts";
 * const p = publishFromPortBindings({ "80/tcp": [{ HostIp: "", HostPort: "8080" }] });
 * console.assert(p[0] === "8080:80/tcp");
 * ```
 */
export function publishFromPortBindings(
  bindings: Record<string, unknown[] | null | undefined> | null | undefined,
): string[] {
  const out: string[] = [];
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const m = /^(\d{1,5}(?:-\d{1,5})?)(?:\/(tcp|udp|sctp))?$/i.exec(key);
    if (!m) throw new InvalidArgumentError(`Invalid port specification: "${key}"`);
    const container = `${m[1]}/${(m[2] ?? "tcp").toLowerCase()}`;
    for (const raw of list ?? [{}]) {
      const parsed = BindingSchema.safeParse(raw ?? {});
      if (!parsed.success) {
        throw new InvalidArgumentError(`Invalid port binding for "${key}"`);
      }
      const ip = parsed.data.HostIp ?? "";
      const hostPort = parsed.data.HostPort ?? "";
      const host = ip.includes(":") ? `[${ip}]` : ip;
      out.push(
        host
          ? `${host}:${hostPort}:${container}`
          : hostPort
          ? `${hostPort}:${container}`
          : container,
      );
    }
  }
  return out;
}

function unsupported(what: string): never {
  throw new NotImplementedError(`Cannot create container: ${what} is not supported yet`);
}

/**
 * Maps a `POST /containers/create` body (+ the `name` query parameter) to the engine's run
 * options. Settings docker-ts cannot honour yet are refused with 501 rather than ignored.
 *
 * @example
 * ```ts
 * import { runOptionsFromCreateBody } from "./containers.ts";
 * const { options } = runOptionsFromCreateBody({ Image: "busybox", Cmd: ["true"] }, "web");
 * console.assert(options.image === "busybox" && options.name === "web");
 * ```
 */
export function runOptionsFromCreateBody(body: unknown, name?: string | null): CreateRequest {
  const res = CreateBodySchema.safeParse(body ?? {});
  if (!res.success) {
    const issue = res.error.issues[0];
    throw new InvalidArgumentError(
      `Invalid container config: "${issue.path.join(".") || "body"}": ${issue.message}`,
      { cause: res.error },
    );
  }
  const b: CreateBody = res.data;
  if (!b.Image) {
    throw new InvalidArgumentError("Config cannot be empty in order to create a container");
  }
  const h = b.HostConfig ?? {};
  const logType = h.LogConfig?.Type ?? "";
  if (logType !== "" && logType !== "json-file") unsupported(`log driver "${logType}"`);
  if (h.Init) unsupported("an init process (HostConfig.Init)");
  if (h.Devices?.length) unsupported("devices (HostConfig.Devices)");
  if (h.VolumesFrom?.length) unsupported("volumes-from");
  if (h.Links?.length) unsupported("links");
  if (b.Healthcheck?.Test?.length && b.Healthcheck.Test[0] !== "NONE") {
    unsupported("a health check");
  }
  const entry = list(b.Entrypoint);
  const options: RunOptionsInput & SupervisionOptionsInput = {
    image: b.Image,
    cmd: list(b.Cmd),
    // `[""]` is how the CLI says `--entrypoint ""` (clear the image's entrypoint).
    entrypoint: entry === undefined
      ? undefined
      : (entry.length === 1 && entry[0] === "")
      ? ""
      : entry,
    env: b.Env ?? [],
    workdir: b.WorkingDir || undefined,
    user: b.User || undefined,
    hostname: b.Hostname || undefined,
    name: name || undefined,
    labels: b.Labels ?? {},
    addHosts: h.ExtraHosts ?? [],
    dns: h.Dns ?? [],
    dnsSearch: h.DnsSearch ?? [],
    dnsOptions: h.DnsOptions ?? [],
    stopSignal: b.StopSignal || undefined,
    stopTimeout: b.StopTimeout ?? undefined,
    volumes: h.Binds ?? [],
    mounts: (h.Mounts ?? []).map(mountCsv),
    tmpfs: Object.entries(h.Tmpfs ?? {}).map(([p, o]) => (o ? `${p}:${o}` : p)),
    readOnly: h.ReadonlyRootfs ?? false,
    // "default" is left unset so the daemon's default network (`--bridge none`) applies.
    network: h.NetworkMode && h.NetworkMode !== "default" ? h.NetworkMode : undefined,
    capAdd: h.CapAdd ?? [],
    groupAdd: h.GroupAdd ?? [],
    capDrop: h.CapDrop ?? [],
    privileged: h.Privileged ?? false,
    securityOpt: h.SecurityOpt ?? [],
    ulimits: (h.Ulimits ?? []).map((u) => `${u.Name}=${u.Soft}:${u.Hard}`),
    memory: h.Memory ? h.Memory : undefined,
    memorySwap: h.MemorySwap ? h.MemorySwap : undefined,
    cpus: h.NanoCpus ? h.NanoCpus / 1e9 : undefined,
    cpuShares: h.CpuShares ? h.CpuShares : undefined,
    cpusetCpus: h.CpusetCpus || undefined,
    pidsLimit: h.PidsLimit && h.PidsLimit > 0 ? h.PidsLimit : undefined,
    shmSize: h.ShmSize ? h.ShmSize : undefined,
    tty: b.Tty ?? false,
    interactive: b.OpenStdin ?? false,
    stdinOnce: b.StdinOnce ?? false,
    rm: h.AutoRemove ?? false,
    // The API never pulls on create: a 404 is the client's cue to pull (the CLI's auto-pull).
    pull: "never",
  };
  const publish = publishFromPortBindings(h.PortBindings);
  if (publish.length) options.publish = publish;
  // The endpoint of the container's own network mode carries `--ip` and `--network-alias`.
  const endpoints = b.NetworkingConfig?.EndpointsConfig ?? {};
  const endpoint = endpoints[h.NetworkMode ?? "default"] ?? Object.values(endpoints)[0];
  if (endpoint?.Aliases?.length) options.networkAliases = endpoint.Aliases;
  if (endpoint?.IPAMConfig?.IPv4Address) options.ip = endpoint.IPAMConfig.IPv4Address;
  if (h.PublishAllPorts) options.publishAll = true;
  const expose = Object.keys(b.ExposedPorts ?? {});
  if (expose.length) options.expose = expose;
  const restart = h.RestartPolicy?.Name ?? "";
  if (restart !== "" && restart !== "no") {
    options.restart = {
      Name: restart,
      MaximumRetryCount: h.RestartPolicy?.MaximumRetryCount ?? 0,
    };
  }
  const logOpts = h.LogConfig?.Config ?? {};
  if (Object.keys(logOpts).length) options.logOpts = logOpts;
  const cs = h.ConsoleSize;
  const consoleSize = cs && cs.length === 2 && cs[0] > 0 && cs[1] > 0
    ? { rows: cs[0], cols: cs[1] }
    : undefined;
  return { options, consoleSize };
}

// ---------------------------------------------------------------------------------------------
// Attach sessions

/** One hijacked attach connection waiting for (or following) a start. */
interface AttachSession {
  conn: HijackedConn;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Serialises writes of stdout and stderr frames onto the one socket. */
  write(bytes: Uint8Array): Promise<void>;
  started: boolean;
  /** Ends the session: the attach handler returns and the server closes the socket. */
  finish(): void;
  finished: Promise<void>;
}

/** Per-server container bookkeeping the engine does not keep. */
class ContainerSessions {
  readonly attach = new Map<string, Set<AttachSession>>();
  readonly consoleSize = new Map<string, ConsoleSize>();
  /**
   * Exit codes of auto-removed containers: a `condition=removed` waiter may only notice the
   * removal after the record (and its exit code) is gone.
   */
  readonly removedExit = new Map<string, number>();

  take(id: string): AttachSession[] {
    const set = this.attach.get(id);
    this.attach.delete(id);
    return set ? [...set] : [];
  }
}

function sessionsOf(ctx: ApiContext): ContainerSessions {
  let s = ctx.state.get("containers") as ContainerSessions | undefined;
  if (!s) {
    s = new ContainerSessions();
    ctx.state.set("containers", s);
  }
  return s;
}

/** A writable that copies every chunk to the sessions (framed unless tty); never errors. */
function fanout(
  sessions: AttachSession[],
  stream: 1 | 2,
  tty: boolean,
): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    async write(chunk): Promise<void> {
      const bytes = tty ? chunk : encodeFrame(stream, chunk);
      // A client that went away must not stall the container's pipe: its writes just fail.
      await Promise.all(sessions.map((s) => s.write(bytes).catch(() => {})));
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Handlers

async function createContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const { options, consoleSize } = runOptionsFromCreateBody(
    await req.json(),
    req.query.get("name"),
  );
  // A missing network or `container:` target is a 400 from the engine's own check: a 404 from
  // create means "no such image" to every client (the docker CLI then pulls).
  const result = await ctx.engine.create(options);
  if (consoleSize) sessionsOf(ctx).consoleSize.set(result.Id, consoleSize);
  ctx.events.emit("container", "create", result.Id, {
    image: options.image,
    ...(options.name ? { name: options.name } : {}),
  });
  await sendJson(res, 201, result);
}

async function listContainers(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const filters = parseFilters(req.query.get("filters"));
  checkContainerFilters(filters);
  const limit = req.int("limit") ?? -1;
  const all = req.bool("all") || limit > 0 || containerFiltersNeedAll(filters);
  // A variable, not a literal: EngineApi.list's declared options predate `size`.
  const listOptions = req.bool("size") ? { all, size: true } : { all };
  let rows = await ctx.engine.list(listOptions);
  rows = await filterContainers(rows, filters, (ref) => ctx.engine.inspect(ref));
  if (limit > 0) rows = rows.slice(0, limit);
  await sendJson(res, 200, rows);
}

async function inspectContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const info = await ctx.engine.inspect(req.params.id);
  const size = sessionsOf(ctx).consoleSize.get(info.Id);
  if (size) info.HostConfig.ConsoleSize = [size.rows, size.cols];
  if (req.bool("size")) {
    // docker's `inspect --size`: the same numbers `ps -s` shows for this container.
    const listOptions = { all: true, size: true };
    const row = (await ctx.engine.list(listOptions)).find((r) => r.Id === info.Id) as
      | { SizeRw?: number; SizeRootFs?: number }
      | undefined;
    Object.assign(info, { SizeRw: row?.SizeRw ?? 0, SizeRootFs: row?.SizeRootFs ?? 0 });
  }
  await sendJson(res, 200, info);
}

function isUp(status: ContainerStatus): boolean {
  return status === "running" || status === "paused";
}

/**
 * Starts a container with the waiting attach sessions as its streams, and follows it in the
 * background: ends the sessions at exit, reports `die`, removes it when AutoRemove says so.
 * Resolves false when it was already running (304).
 */
async function startWithSessions(ctx: ApiContext, ref: string): Promise<boolean> {
  const info = await ctx.engine.inspect(ref);
  if (isUp(info.State.Status)) return false;
  const id = info.Id;
  const book = sessionsOf(ctx);
  const sessions = book.take(id);
  const tty = info.Config.Tty;
  const outs = sessions.filter((s) => s.stdout);
  const errs = sessions.filter((s) => s.stderr);
  const stdinFrom = info.Config.OpenStdin ? sessions.find((s) => s.stdin) : undefined;
  const options: StartOptions = {
    stdout: outs.length ? fanout(outs, 1, tty) : null,
    stderr: errs.length && !tty ? fanout(errs, 2, tty) : null,
    stdin: stdinFrom ? stdinFrom.conn.readable : null,
    consoleSize: book.consoleSize.get(id),
  };
  for (const s of sessions) s.started = true;
  const attrs = { name: info.Name.replace(/^\//, ""), image: info.Config.Image };
  const autoRemove = async (code: number | undefined): Promise<void> => {
    if (!info.HostConfig.AutoRemove) return;
    try {
      if (code !== undefined) book.removedExit.set(id, code);
      await ctx.engine.remove(id, { force: true });
      book.consoleSize.delete(id);
      ctx.events.emit("container", "destroy", id, attrs);
    } catch {
      // already removed
    }
    // Waiters poll; keep the code long enough for them, then forget it.
    setTimeout(() => book.removedExit.delete(id), 60_000);
  };
  try {
    await ctx.engine.start(id, options);
  } catch (err) {
    for (const s of sessions) s.finish();
    // Docker removes an auto-remove container whose start failed (the CLI waits for that).
    const code = (err as { exitCode?: unknown }).exitCode;
    await autoRemove(typeof code === "number" ? code : 125);
    throw err;
  }
  ctx.events.emit("container", "start", id, attrs);
  (async () => {
    let code: number | undefined;
    try {
      code = await ctx.engine.wait(id, { condition: "not-running" });
    } catch {
      // removed meanwhile
    }
    for (const s of sessions) s.finish();
    // An engine with an event feed reports `die` itself (forwarded by the server).
    if (!ctx.engine.events) {
      ctx.events.emit("container", "die", id, {
        ...attrs,
        ...(code !== undefined ? { exitCode: String(code) } : {}),
      });
    }
    await autoRemove(code);
  })();
  return true;
}

async function startContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const started = await startWithSessions(ctx, req.params.id);
  await res.send(started ? 204 : 304);
}

const WAIT_CONDITIONS = ["not-running", "next-exit", "removed"] as const;

async function waitContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const condition = req.query.get("condition") || "not-running";
  if (!(WAIT_CONDITIONS as readonly string[]).includes(condition)) {
    throw new InvalidArgumentError(`invalid condition: "${condition}"`);
  }
  let info;
  try {
    info = await ctx.engine.inspect(req.params.id);
  } catch (err) {
    // An auto-removed container that exited before the client asked (dockerode's `run` waits
    // after `start`): its code is still known for a while.
    const code = sessionsOf(ctx).removedExit.get(req.params.id);
    if (code === undefined) throw err;
    await sendJson(res, 200, { Error: null, StatusCode: code });
    return;
  }
  // Headers go out before waiting: `docker run` waits for them before it sends `start`.
  const out = await res.stream(200, { "Content-Type": "application/json" });
  let body: unknown;
  try {
    let code = await ctx.engine.wait(info.Id, {
      condition: condition as (typeof WAIT_CONDITIONS)[number],
      signal: req.http.signal,
    });
    if (condition === "removed") code = sessionsOf(ctx).removedExit.get(info.Id) ?? code;
    body = { Error: null, StatusCode: code };
  } catch (err) {
    if (req.http.signal.aborted) return;
    body = { Error: { Message: describeError(err) }, StatusCode: -1 };
  }
  await out.write(JSON.stringify(body) + "\n");
  await out.end();
}

async function killContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const signal = req.query.get("signal") || "KILL";
  const info = await ctx.engine.inspect(req.params.id);
  await ctx.engine.kill(req.params.id, signal);
  ctx.events.emit("container", "kill", info.Id, {
    name: info.Name.replace(/^\//, ""),
    signal,
  });
  await res.send(204);
}

async function stopContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const info = await ctx.engine.inspect(req.params.id);
  if (!isUp(info.State.Status)) {
    await res.send(304);
    return;
  }
  await ctx.engine.stop(info.Id, {
    timeout: req.int("t"),
    signal: req.query.get("signal") || undefined,
  });
  ctx.events.emit("container", "stop", info.Id, { name: info.Name.replace(/^\//, "") });
  await res.send(204);
}

async function restartContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const info = await ctx.engine.inspect(req.params.id);
  if (ctx.engine.restart && !sessionsOf(ctx).attach.has(info.Id)) {
    // The engine's restart stops, starts detached and reports `restart` itself.
    await ctx.engine.restart(info.Id, { timeout: req.int("t") });
    ctx.events.emit("container", "start", info.Id, { name: info.Name.replace(/^\//, "") });
  } else {
    if (isUp(info.State.Status)) await ctx.engine.stop(info.Id, { timeout: req.int("t") });
    await startWithSessions(ctx, info.Id);
    if (!ctx.engine.events) {
      ctx.events.emit("container", "restart", info.Id, { name: info.Name.replace(/^\//, "") });
    }
  }
  await res.send(204);
}

async function removeContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const info = await ctx.engine.inspect(req.params.id);
  await ctx.engine.remove(info.Id, { force: req.bool("force"), volumes: req.bool("v") });
  sessionsOf(ctx).consoleSize.delete(info.Id);
  for (const s of sessionsOf(ctx).take(info.Id)) s.finish();
  ctx.events.emit("container", "destroy", info.Id, { name: info.Name.replace(/^\//, "") });
  await res.send(204);
}

async function resizeContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const rows = req.int("h");
  const cols = req.int("w");
  if (!rows || !cols || rows < 0 || cols < 0) {
    throw new InvalidArgumentError("Invalid resize request: h and w must be positive integers");
  }
  const info = await ctx.engine.inspect(req.params.id);
  if (!isUp(info.State.Status)) {
    // Before start (docker run -it races it): remember the size for the start.
    sessionsOf(ctx).consoleSize.set(info.Id, { rows, cols });
  } else {
    await ctx.engine.resize(info.Id, { rows, cols });
  }
  await res.send(200, "", { "Content-Type": "text/plain; charset=utf-8" });
}

/** The exact response heads clients expect on attach and exec start. */
export const UPGRADE_HEAD =
  "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n";
/** The non-upgraded raw-stream head (data follows until close). */
export const RAW_STREAM_HEAD =
  "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n";

/** Whether the request asked for `Upgrade: tcp`. */
export function wantsUpgrade(req: ApiRequest): boolean {
  const conn = req.http.headers.get("connection")?.toLowerCase() ?? "";
  const up = req.http.headers.get("upgrade")?.toLowerCase() ?? "";
  return conn.split(",").map((s) => s.trim()).includes("upgrade") && up === "tcp";
}

async function attachContainer(
  req: ApiRequest,
  res: ResponseWriter,
  ctx: ApiContext,
): Promise<void> {
  const info = await ctx.engine.inspect(req.params.id);
  const up = isUp(info.State.Status);
  const withLogs = req.bool("logs");
  const read = up || withLogs
    ? need(ctx.engine, "logs", "attach to a started container")
    : undefined;
  // Unread request bytes (dockerode sends a JSON body) must not reach the container's stdin.
  await req.bytes().catch(() => {});
  const conn = await res.hijack(wantsUpgrade(req) ? UPGRADE_HEAD : RAW_STREAM_HEAD);
  const stream = req.bool("stream");
  const attach = (ctx.engine as Partial<ContainerAttachApi>).attach;
  if (up && stream && typeof attach === "function") {
    await attachRunning(req, ctx, conn, info, withLogs);
    return;
  }
  if (read) {
    const streams = { stdout: req.bool("stdout"), stderr: req.bool("stderr") };
    if (!streams.stdout && !streams.stderr) {
      // Only stdin asked for, which a detached container does not take: hold until it exits.
      if (up && stream) await ctx.engine.wait(info.Id).catch(() => {});
      return;
    }
    // A started container writes to its log files: replay (logs=1) and follow (stream=1) them.
    const follow = up && stream;
    if (withLogs || follow) {
      const stop = new AbortController();
      const tty = info.Config.Tty;
      // Input is not wired to a detached container: read and drop it so the client can send.
      (async () => {
        try {
          for await (const _ of conn.readable) { /* dropped */ }
        } catch {
          // gone
        }
      })();
      try {
        for await (
          const e of read(info.Id, {
            ...streams,
            follow,
            tail: withLogs ? undefined : 0,
            signal: stop.signal,
          })
        ) {
          await conn.write(logEntryBytes(e, { tty, timestamps: false }));
        }
      } catch {
        // the client left: its writes fail
      } finally {
        stop.abort();
      }
    }
    if (up || !stream) return;
  }
  if (!stream) return;
  let chain: Promise<void> = Promise.resolve();
  let finish!: () => void;
  const finished = new Promise<void>((r) => finish = r);
  const session: AttachSession = {
    conn,
    stdin: req.bool("stdin"),
    stdout: req.bool("stdout"),
    stderr: req.bool("stderr"),
    write(bytes: Uint8Array): Promise<void> {
      chain = chain.then(() => conn.write(bytes));
      return chain;
    },
    started: false,
    finish,
    finished,
  };
  const book = sessionsOf(ctx);
  let set = book.attach.get(info.Id);
  if (!set) book.attach.set(info.Id, set = new Set());
  set.add(session);
  // A client's EOF is no sign it left: the CLI half-closes at once when it sends no stdin. A
  // session whose client is gone ends at the next start (writes fail) or at removal.
  await finished;
  await chain.catch(() => {});
}

/**
 * `attach?stream=1` to a running container through the engine's `attach`: the client's input
 * to the container's stdin (with `stdin=1` and `OpenStdin`), its output from now on (after the
 * log's replay with `logs=1`). Ends when the container exits, the client detaches (detach keys,
 * `detachKeys=` or Ctrl-P Ctrl-Q) or its input ends (docker's rule); the server then closes the
 * connection.
 */
async function attachRunning(
  req: ApiRequest,
  ctx: ApiContext,
  conn: HijackedConn,
  info: { Id: string; Config: { Tty: boolean; OpenStdin: boolean } },
  withLogs: boolean,
): Promise<void> {
  const tty = info.Config.Tty;
  const streams = { stdout: req.bool("stdout"), stderr: req.bool("stderr") && !tty };
  // One socket for both streams: frames are written whole, in order.
  let chain: Promise<void> = Promise.resolve();
  const send = (bytes: Uint8Array): Promise<void> => {
    chain = chain.then(() => conn.write(bytes));
    return chain;
  };
  if (withLogs && (streams.stdout || streams.stderr)) {
    const read = need(ctx.engine, "logs", "attach to a started container");
    try {
      for await (const e of read(info.Id, streams)) {
        await send(logEntryBytes(e, { tty, timestamps: false }));
      }
    } catch {
      return; // the client left
    }
  }
  const sink = (n: 1 | 2): WritableStream<Uint8Array> =>
    new WritableStream({ write: (chunk) => send(tty ? chunk : encodeFrame(n, chunk)) });
  const withStdin = req.bool("stdin") && info.Config.OpenStdin;
  if (!withStdin) {
    // Input not taken: read and drop it so the client can still send.
    (async () => {
      try {
        for await (const _ of conn.readable) { /* dropped */ }
      } catch {
        // gone
      }
    })();
  }
  await (ctx.engine as unknown as ContainerAttachApi).attach(info.Id, {
    stdin: withStdin ? conn.readable : null,
    stdout: streams.stdout ? sink(1) : null,
    stderr: streams.stderr ? sink(2) : null,
    detachKeys: req.query.get("detachKeys") || undefined,
  });
  await chain.catch(() => {});
}

function notYet(what: string) {
  return (req: ApiRequest): Promise<void> =>
    Promise.reject(
      new NotImplementedError(
        `Cannot ${what} container ${req.params.id}: not supported by docker-ts yet`,
      ),
    );
}

/** Registers the container routes. */
export function registerContainers(r: RouteTable): void {
  r.add("POST", "/containers/create", createContainer);
  r.add("GET", "/containers/json", listContainers);
  r.add("GET", "/containers/{id}/json", inspectContainer);
  r.add("POST", "/containers/{id}/start", startContainer);
  r.add("POST", "/containers/{id}/wait", waitContainer);
  r.add("POST", "/containers/{id}/kill", killContainer);
  r.add("POST", "/containers/{id}/stop", stopContainer);
  r.add("POST", "/containers/{id}/restart", restartContainer);
  r.add("POST", "/containers/{id}/resize", resizeContainer);
  r.add("POST", "/containers/{id}/attach", attachContainer);
  r.add("DELETE", "/containers/{id}", removeContainer);
  r.add("GET", "/containers/{id}/export", notYet("export"));
  r.add("GET", "/containers/{id}/changes", notYet("list changes of"));
  r.add("POST", "/containers/{id}/update", notYet("update"));
}
