/**
 * `docker cp` over the API: `HEAD|GET|PUT /containers/{id}/archive?path=…`, for running and
 * stopped containers alike.
 *
 * HEAD and GET answer with docker's `X-Docker-Container-Path-Stat` header; GET streams the
 * engine's tar of the path. PUT hands the request body to the engine's `archiveIn`, which
 * stages and checks the archive before touching the container (refusing `..`, never writing
 * through a link). Only the engine touches the container's root.
 *
 * @module
 */
import { InvalidArgumentError } from "../../errors.ts";
import type { ContainerPathStat } from "../../engine_api.ts";
import type { ResponseWriter } from "../http_server.ts";
import type { ApiContext, ApiRequest, RouteTable } from "./_common.ts";
import { need } from "./lifecycle.ts";

function statHeader(stat: ContainerPathStat): string {
  // JSON is ASCII-safe only after escaping: names may hold any UTF-8, and btoa takes bytes.
  const bytes = new TextEncoder().encode(JSON.stringify(stat));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function pathParam(req: ApiRequest): string {
  const p = req.query.get("path");
  if (!p) throw new InvalidArgumentError("Bad parameter: path cannot be empty");
  return p;
}

async function headArchive(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const statPath = need(ctx.engine, "statPath", "stat files in containers");
  const stat = await statPath(req.params.id, pathParam(req));
  await res.send(200, "", { "X-Docker-Container-Path-Stat": statHeader(stat) });
}

async function getArchive(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const archiveOut = need(ctx.engine, "archiveOut", "copy files from containers");
  // NotFound and friends are thrown here, before the head goes out.
  const { stat, tar } = await archiveOut(req.params.id, pathParam(req));
  const reader = tar.getReader();
  try {
    const out = await res.stream(200, {
      "Content-Type": "application/x-tar",
      "X-Docker-Container-Path-Stat": statHeader(stat),
    });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      await out.write(value);
    }
    await out.end();
  } catch (err) {
    // A client gone away, or a read error mid-stream: end the tar (and the container's mount).
    await reader.cancel(err).catch(() => {});
    throw err;
  }
}

/** Reads and drops the rest of a body, so an error answer reaches a client still sending. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    for (;;) if ((await reader.read()).done) return;
  } catch {
    // the connection broke: nothing to answer on anyway
  }
}

async function putArchive(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const archiveIn = need(ctx.engine, "archiveIn", "copy files into containers");
  const p = pathParam(req);
  const reader = req.http.body.getReader();
  let consumed = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller): Promise<void> {
      const { value, done } = await reader.read();
      if (done) {
        consumed = true;
        controller.close();
      } else controller.enqueue(value);
    },
    // The engine stops reading on a bad archive: keep the reader so the rest can be drained.
    cancel(): void {},
  }, { highWaterMark: 0 });
  try {
    await archiveIn(req.params.id, p, body, {
      copyUIDGID: req.bool("copyUIDGID"),
      noOverwriteDirNonDir: req.bool("noOverwriteDirNonDir"),
    });
  } catch (err) {
    // A client (docker's CLI, docker-ts's) writes its whole body before reading the answer.
    if (!consumed) await drain(reader);
    throw err;
  }
  if (!consumed) await drain(reader);
  reader.releaseLock();
  await res.send(200, "");
}

/** Registers the archive routes. */
export function registerArchive(r: RouteTable): void {
  r.add("HEAD", "/containers/{id}/archive", headArchive);
  r.add("GET", "/containers/{id}/archive", getArchive);
  r.add("PUT", "/containers/{id}/archive", putArchive);
}
