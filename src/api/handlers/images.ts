/**
 * Image endpoints: list, inspect, create (pull and import, with docker's JSON progress stream),
 * push, tag, remove, save (`get`), load, prune.
 *
 * @module
 */
import { describeError, InvalidArgumentError, NotImplementedError } from "../../errors.ts";
import type { ImageSummary, PullProgress } from "../../engine_api.ts";
import type { ResponseWriter } from "../http_server.ts";
import { checkFilterNames, matchLabels, parseFilters } from "../filters.ts";
import {
  type ApiContext,
  type ApiRequest,
  type RouteTable,
  sendError,
  sendJson,
} from "./_common.ts";

/**
 * Runs `work`, forwarding its progress events as docker's JSON-lines stream. The response head
 * waits for the first event, so an error before any progress gets a real status code (the
 * CLI prints those as `Error response from daemon: …`); later errors become `{"error"}` lines.
 */
async function progressStream(
  res: ResponseWriter,
  work: (onProgress: (e: PullProgress) => void) => Promise<PullProgress[] | void>,
): Promise<void> {
  let out: Awaited<ReturnType<ResponseWriter["stream"]>> | undefined;
  let chain: Promise<void> = Promise.resolve();
  let broken = false;
  const send = (value: unknown): void => {
    chain = chain.then(async () => {
      if (broken) return;
      try {
        out ??= await res.stream(200, { "Content-Type": "application/json" });
        await out.write(JSON.stringify(value) + "\n");
      } catch {
        // The client went away; the work itself still finishes (a pull is worth keeping).
        broken = true;
      }
    });
  };
  const onProgress = (e: PullProgress): void => {
    send({
      status: e.status,
      ...(e.progressDetail ? { progressDetail: e.progressDetail } : { progressDetail: {} }),
      ...(e.progress ? { progress: e.progress } : {}),
      ...(e.id ? { id: e.id } : {}),
    });
  };
  try {
    const tail = await work(onProgress);
    for (const e of tail ?? []) onProgress(e);
  } catch (err) {
    await chain;
    if (!out && !broken) {
      await sendError(res, err);
      return;
    }
    const message = describeError(err);
    send({ errorDetail: { message }, error: message });
  }
  await chain;
  if (broken) return;
  if (!out) out = await res.stream(200, { "Content-Type": "application/json" });
  await out.end();
}

/** `fromImage` + `tag` → one reference (`tag` may be a digest). */
function pullRef(fromImage: string, tag: string | null): string {
  if (!tag) return fromImage;
  if (tag.includes(":")) return `${fromImage}@${tag}`;
  // `fromImage` may already carry a tag (`busybox:1`): the explicit tag parameter wins.
  const lastSlash = fromImage.lastIndexOf("/");
  const colon = fromImage.lastIndexOf(":");
  const base = colon > lastSlash ? fromImage.slice(0, colon) : fromImage;
  return `${base}:${tag}`;
}

async function createImage(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const fromImage = req.query.get("fromImage");
  const fromSrc = req.query.get("fromSrc");
  const tag = req.query.get("tag");
  if (fromImage) {
    const ref = pullRef(fromImage, tag);
    const platform = req.query.get("platform") || undefined;
    await progressStream(res, async (onProgress) => {
      await ctx.engine.pull(ref, { platform, onProgress, signal: req.http.signal });
      ctx.events.emit("image", "pull", ref, { name: ref });
    });
    return;
  }
  if (fromSrc) {
    if (fromSrc !== "-") {
      throw new NotImplementedError(
        `Cannot import from "${fromSrc}": importing from a URL is not supported`,
      );
    }
    const repo = req.query.get("repo");
    const ref = repo ? pullRef(repo, tag) : undefined;
    const changes = req.query.getAll("changes");
    await progressStream(res, async () => {
      const id = await ctx.engine.importImage(req.http.body, { ref, changes });
      ctx.events.emit("image", "import", id, ref ? { name: ref } : {});
      return [{ status: id }];
    });
    return;
  }
  throw new InvalidArgumentError("Invalid image create request: fromImage or fromSrc is required");
}

function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, ".");
  return new RegExp(`^${esc}$`);
}

/**
 * Docker's `reference` filter: a pattern matches a tag in full or by its repository, and the
 * image is listed with only its matching tags (as dockerd does).
 */
function filterByReference(images: ImageSummary[], patterns: string[]): ImageSummary[] {
  const res = patterns.map(globToRegExp);
  const matches = (name: string): boolean => {
    const at = name.indexOf("@");
    const repo = at >= 0 ? name.slice(0, at) : name.slice(0, name.lastIndexOf(":"));
    return res.some((re) => re.test(name) || re.test(repo));
  };
  return images
    .map((img) => ({
      ...img,
      RepoTags: img.RepoTags.filter(matches),
      RepoDigests: img.RepoDigests.filter(matches),
    }))
    .filter((img) => img.RepoTags.length > 0 || img.RepoDigests.length > 0);
}

async function listImages(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const filters = parseFilters(req.query.get("filters"));
  checkFilterNames(filters, ["reference", "label", "dangling", "before", "since"]);
  let images = await ctx.engine.listImages({ all: req.bool("all") });
  const ref = filters.get("reference");
  if (ref?.length) images = filterByReference(images, ref);
  const label = filters.get("label");
  if (label?.length) images = images.filter((i) => matchLabels(i.Labels, label));
  const dangling = filters.get("dangling");
  if (dangling?.length) {
    const want = dangling[0] === "true" || dangling[0] === "1";
    images = images.filter((i) => (i.RepoTags.length === 0) === want);
  }
  for (const key of ["before", "since"] as const) {
    const v = filters.get(key);
    if (!v?.length) continue;
    const pivot = await ctx.engine.inspectImage(v[0]);
    const t = Math.floor(Date.parse(pivot.Created) / 1000);
    images = images.filter((i) => key === "before" ? i.Created < t : i.Created > t);
  }
  await sendJson(res, 200, images);
}

async function inspectImage(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  await sendJson(res, 200, await ctx.engine.inspectImage(req.params.name));
}

async function tagImage(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const repo = req.query.get("repo");
  if (!repo) throw new InvalidArgumentError("Invalid tag request: repo is required");
  const tag = req.query.get("tag") || "latest";
  const target = `${repo}:${tag}`;
  await ctx.engine.tag(req.params.name, target);
  ctx.events.emit("image", "tag", req.params.name, { name: target });
  await res.send(201, "");
}

async function removeImage(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const reports = await ctx.engine.removeImage(req.params.name, {
    force: req.bool("force"),
    noPrune: req.bool("noprune"),
  });
  for (const r of reports) {
    if ("Untagged" in r) ctx.events.emit("image", "untag", r.Untagged, { name: r.Untagged });
    else ctx.events.emit("image", "delete", r.Deleted, {});
  }
  await sendJson(res, 200, reports);
}

async function pushImage(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const push = ctx.engine.push?.bind(ctx.engine);
  if (!push) throw new NotImplementedError("Cannot push: the engine does not support push");
  const tag = req.query.get("tag");
  const ref = pullRef(req.params.name, tag);
  await progressStream(res, async (onProgress) => {
    await push(ref, { onProgress });
    ctx.events.emit("image", "push", ref, { name: ref });
  });
}

/** Streams a `docker save` tar; errors before the first byte get a status code. */
async function saveImages(refs: string[], res: ResponseWriter, ctx: ApiContext): Promise<void> {
  if (refs.length === 0) throw new InvalidArgumentError("Invalid save request: no image names");
  const t = new TransformStream<Uint8Array, Uint8Array>();
  const saving = ctx.engine.save(refs, t.writable);
  const reader = t.readable.getReader();
  // Only a failure may win against the first chunk; success alone says nothing about data.
  const failed = saving.then(() => new Promise<never>(() => {}));
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await Promise.race([reader.read(), failed]);
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
  const out = await res.stream(200, { "Content-Type": "application/x-tar" });
  try {
    let r = first;
    while (!r.done) {
      await out.write(r.value);
      r = await reader.read();
    }
    await saving;
    await out.end();
  } catch (err) {
    reader.cancel().catch(() => {});
    saving.catch(() => {});
    throw err;
  }
}

async function getImages(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  await saveImages(req.query.getAll("names"), res, ctx);
}

async function getImage(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  await saveImages([req.params.name], res, ctx);
}

async function loadImages(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const names = await ctx.engine.load(req.http.body);
  const lines = names.map((n) =>
    JSON.stringify({
      stream: /^sha256:[a-f0-9]{64}$/.test(n) ? `Loaded image ID: ${n}\n` : `Loaded image: ${n}\n`,
    }) + "\n"
  );
  for (const n of names) ctx.events.emit("image", "load", n, { name: n });
  await res.send(200, lines.join(""), { "Content-Type": "application/json" });
}

async function pruneImages(req: ApiRequest, res: ResponseWriter, ctx: ApiContext): Promise<void> {
  const filters = parseFilters(req.query.get("filters"));
  checkFilterNames(filters, ["dangling", "label", "until"]);
  const dangling = filters.get("dangling")?.[0] ?? "true";
  const onlyDangling = dangling === "true" || dangling === "1";
  if (!onlyDangling) {
    throw new NotImplementedError(
      "Cannot prune unused images: docker-ts prunes dangling images only",
    );
  }
  const deleted: unknown[] = [];
  let reclaimed = 0;
  const label = filters.get("label");
  for (const img of await ctx.engine.listImages()) {
    if (img.RepoTags.length > 0) continue;
    if (label?.length && !matchLabels(img.Labels, label)) continue;
    try {
      deleted.push(...await ctx.engine.removeImage(img.Id));
      reclaimed += img.Size;
    } catch {
      // in use by a container: docker skips those too
    }
  }
  await sendJson(res, 200, {
    ImagesDeleted: deleted.length ? deleted : null,
    SpaceReclaimed: reclaimed,
  });
}

/** Registers the image routes (static paths first: they would match the patterns too). */
export function registerImages(r: RouteTable): void {
  r.add("GET", "/images/json", listImages);
  r.add("POST", "/images/create", createImage);
  r.add("POST", "/images/load", loadImages);
  r.add("GET", "/images/get", getImages);
  r.add("POST", "/images/prune", pruneImages);
  r.add("GET", "/images/{name+}/json", inspectImage);
  r.add("GET", "/images/{name+}/get", getImage);
  r.add("POST", "/images/{name+}/tag", tagImage);
  r.add("POST", "/images/{name+}/push", pushImage);
  r.add("DELETE", "/images/{name+}", removeImage);
}
