/**
 * Exec endpoints: create (`POST /containers/{id}/exec`), start (hijacked: `101 UPGRADED` when
 * the client asks for `Upgrade: tcp`, else `200` with a raw stream; framed unless tty; or
 * detached), inspect and resize — mapped onto the engine's exec verbs.
 *
 * @module
 */
import { z } from "zod";
import { InvalidArgumentError } from "../../errors.ts";
import type { ConsoleSize } from "../../engine_api.ts";
import type { ResponseWriter } from "../http_server.ts";
import { encodeFrame } from "../stream_framing.ts";
import { type ApiContext, type ApiRequest, type RouteTable, sendJson } from "./_common.ts";
import { need } from "./lifecycle.ts";
import { RAW_STREAM_HEAD, UPGRADE_HEAD, wantsUpgrade } from "./containers.ts";

const strList = z.array(z.string()).nullish();

const ExecCreateSchema = z.looseObject({
  AttachStdin: z.boolean().nullish(),
  AttachStdout: z.boolean().nullish(),
  AttachStderr: z.boolean().nullish(),
  Tty: z.boolean().nullish(),
  Cmd: z.union([z.string(), z.array(z.string())]).nullish(),
  Env: strList,
  WorkingDir: z.string().nullish(),
  User: z.string().nullish(),
  Privileged: z.boolean().nullish(),
  ConsoleSize: z.array(z.number()).nullish(),
});

const ExecStartSchema = z.looseObject({
  Detach: z.boolean().nullish(),
  Tty: z.boolean().nullish(),
  ConsoleSize: z.array(z.number()).nullish(),
});

/** What the server remembers of an exec beyond the engine's record. */
interface ExecFacts {
  containerId: string;
  containerName: string;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  cmd: string;
  consoleSize?: ConsoleSize;
  /** An attached start is under way (set until it returns). */
  starting?: boolean;
}

function factsOf(ctx: ApiContext): Map<string, ExecFacts> {
  let m = ctx.state.get("execs") as Map<string, ExecFacts> | undefined;
  if (!m) ctx.state.set("execs", m = new Map());
  return m;
}

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

function sizeOf(v: number[] | null | undefined): ConsoleSize | undefined {
  return v && v.length === 2 && v[0] > 0 && v[1] > 0 ? { rows: v[0], cols: v[1] } : undefined;
}

async function execCreate(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const create = need(ctx.engine, "execCreate", "exec");
  const b = parse(ExecCreateSchema, await req.json(), "exec config");
  const cmd = typeof b.Cmd === "string" ? [b.Cmd] : b.Cmd ?? [];
  if (cmd.length === 0) throw new InvalidArgumentError("No exec command specified");
  const info = await ctx.engine.inspect(req.params.id);
  const tty = b.Tty ?? false;
  const id = await create(info.Id, {
    cmd,
    env: b.Env ?? [],
    user: b.User || undefined,
    workdir: b.WorkingDir || undefined,
    tty,
    interactive: b.AttachStdin ?? false,
    privileged: b.Privileged ?? false,
  });
  const name = info.Name.replace(/^\//, "");
  factsOf(ctx).set(id, {
    containerId: info.Id,
    containerName: name,
    stdout: b.AttachStdout ?? false,
    stderr: b.AttachStderr ?? false,
    tty,
    cmd: cmd.join(" "),
    consoleSize: sizeOf(b.ConsoleSize),
  });
  ctx.events.emit("container", `exec_create: ${cmd.join(" ")}`, info.Id, {
    name,
    execID: id,
  });
  await sendJson(res, 201, { Id: id });
}

async function execStart(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const start = need(ctx.engine, "execStart", "exec");
  const id = req.params.id;
  const b = parse(ExecStartSchema, await req.json(), "exec start config");
  // Unknown ids answer 404 before the connection is taken over.
  const inspect = await need(ctx.engine, "execInspect", "exec")(id);
  const facts = factsOf(ctx).get(id) ?? {
    containerId: inspect.ContainerID,
    containerName: "",
    stdout: true,
    stderr: true,
    tty: inspect.ProcessConfig.tty,
    cmd: [inspect.ProcessConfig.entrypoint, ...inspect.ProcessConfig.arguments].join(" "),
  };
  const attrs = { name: facts.containerName, execID: id };
  if (b.Detach) {
    await start(id, { detach: true });
    ctx.events.emit("container", `exec_start: ${facts.cmd}`, facts.containerId, attrs);
    followExit(ctx, id, facts, attrs);
    await res.send(200, "", { "Content-Type": "application/json" });
    return;
  }
  const conn = await res.hijack(wantsUpgrade(req) ? UPGRADE_HEAD : RAW_STREAM_HEAD);
  const tty = facts.tty;
  let chain: Promise<void> = Promise.resolve();
  const sink = (stream: 1 | 2): WritableStream<Uint8Array> =>
    new WritableStream<Uint8Array>({
      write(chunk): Promise<void> {
        const bytes = tty ? chunk : encodeFrame(stream, chunk);
        // A client that left must not stall the process's pipe: its writes just fail.
        chain = chain.then(() => conn.write(bytes)).catch(() => {});
        return chain;
      },
    });
  ctx.events.emit("container", `exec_start: ${facts.cmd}`, facts.containerId, attrs);
  facts.starting = true;
  try {
    await start(id, {
      stdin: inspect.OpenStdin ? conn.readable : null,
      stdout: facts.stdout ? sink(1) : null,
      stderr: facts.stderr && !tty ? sink(2) : null,
      consoleSize: sizeOf(b.ConsoleSize) ?? facts.consoleSize,
    });
  } catch (err) {
    // The head is out: report the failure as output on the stream (stderr unless tty); the
    // client reads the exit code (126/127) from exec inspect, as with dockerd.
    const msg = new TextEncoder().encode(`${(err as Error).message}\r\n`);
    await conn.write(tty ? msg : encodeFrame(2, msg)).catch(() => {});
  } finally {
    facts.starting = false;
  }
  await chain;
  emitDie(ctx, id, facts, attrs);
}

function emitDie(
  ctx: ApiContext,
  id: string,
  facts: ExecFacts,
  attrs: Record<string, string>,
): void {
  need(ctx.engine, "execInspect", "exec")(id).then((i) => {
    ctx.events.emit("container", "exec_die", facts.containerId, {
      ...attrs,
      exitCode: String(i.ExitCode ?? -1),
    });
  }, () => {});
  // Clients inspect an exec right after it ends; after a minute its facts are only a leak.
  const t = setTimeout(() => factsOf(ctx).delete(id), 60_000);
  Deno.unrefTimer(t);
}

/** Reports `exec_die` of a detached exec once it ends (polled: the engine has no exec feed). */
function followExit(
  ctx: ApiContext,
  id: string,
  facts: ExecFacts,
  attrs: Record<string, string>,
): void {
  const inspect = need(ctx.engine, "execInspect", "exec");
  const tick = async (): Promise<void> => {
    try {
      const i = await inspect(id);
      if (i.Running) {
        setTimeout(tick, 500);
        return;
      }
    } catch {
      return;
    }
    emitDie(ctx, id, facts, attrs);
  };
  setTimeout(tick, 100);
}

async function execInspect(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const i = await need(ctx.engine, "execInspect", "exec")(req.params.id);
  const facts = factsOf(ctx).get(req.params.id);
  await sendJson(res, 200, {
    CanRemove: false,
    DetachKeys: "",
    ...i,
    OpenStdout: facts?.stdout ?? i.OpenStdout,
    OpenStderr: facts?.stderr ?? i.OpenStderr,
  });
}

async function execResize(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const rows = req.int("h");
  const cols = req.int("w");
  if (!rows || !cols || rows < 0 || cols < 0) {
    throw new InvalidArgumentError("Invalid resize request: h and w must be positive integers");
  }
  const facts = factsOf(ctx).get(req.params.id);
  const inspect = need(ctx.engine, "execInspect", "exec");
  let running = (await inspect(req.params.id)).Running;
  if (!running && facts?.starting) {
    // docker's CLI resizes right after its start request, while the process is being spawned:
    // the size it sends then is the terminal's, so wait (briefly) to apply it.
    for (let i = 0; i < 80 && !running && facts.starting; i++) {
      await new Promise((r) => setTimeout(r, 25));
      running = (await inspect(req.params.id)).Running;
    }
  }
  if (!running) {
    // `docker exec -t` may resize before start: keep the size for it.
    if (facts) facts.consoleSize = { rows, cols };
  } else {
    await need(ctx.engine, "execResize", "exec")(req.params.id, { rows, cols });
  }
  await res.send(200, "", { "Content-Type": "text/plain; charset=utf-8" });
}

/** Registers the exec routes. */
export function registerExec(r: RouteTable): void {
  r.add("POST", "/containers/{id}/exec", execCreate);
  r.add("POST", "/exec/{id}/start", execStart);
  r.add("POST", "/exec/{id}/resize", execResize);
  r.add("GET", "/exec/{id}/json", execInspect);
}
