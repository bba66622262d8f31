/**
 * `pull`: resolve the manifest (index → platform), fetch the config, then for every layer
 * download, hash, write to ingest and unpack in one pass (the download is the unpacker's input
 * stream, so decompression and extraction overlap the transfer), commit the blob once it
 * verifies, and write the image record last. An abort or failure leaves no partial blob, layer or
 * image; committed blobs are complete and verified, so the next attempt reuses them.
 *
 * @module
 */
import { DockerTsError, InvalidArgumentError, NotFoundError, UnavailableError } from "../errors.ts";
import type { ContentStore, IngestWriter } from "./content_store.ts";
import { DigestMismatchError } from "./content_store.ts";
import type { ImageRecord, ImageStore, LayerRecord } from "./image_store.ts";
import type { LayerUnpacker } from "./layers.ts";
import {
  checkConfigMediaType,
  checkLayerMediaType,
  computeChainIds,
  type Descriptor,
  formatPlatform,
  hostPlatform,
  type ImageConfig,
  type ImageManifest,
  normalizePlatform,
  parseImageConfig,
  parseManifest,
  parsePlatform,
  type PlatformSpec,
  selectPlatform,
} from "./manifest.ts";
import { emit, type ProgressHandler, shortId } from "./progress.ts";
import { readLimited, type RegistryClient } from "./registry_client.ts";
import { familiar, parseReference, type Reference } from "./reference.ts";

/** Largest image config accepted. */
const MAX_CONFIG_BYTES = 8 << 20;
/** Layers downloaded at once (docker's default). */
const DEFAULT_CONCURRENCY = 3;
/** Attempts per layer for transient failures (network, truncation, corrupt bytes). */
const LAYER_ATTEMPTS = 3;

/** Everything a pull touches. */
export interface PullContext {
  client: RegistryClient;
  content: ContentStore;
  images: ImageStore;
  layers: LayerUnpacker;
  /** Identifies the store for in-process dedupe of layer work (the root path). */
  storeKey: string;
}

/** Options of {@link pull}. */
export interface PullOptions {
  /** `os/arch[/variant]` or a parsed platform; default: this machine. */
  platform?: string | PlatformSpec;
  signal?: AbortSignal;
  onProgress?: ProgressHandler;
  /** Parallel layer downloads (default 3). */
  concurrency?: number;
}

/** What a pull produced. */
export interface PullResult {
  /** The image id (config digest). */
  imageId: string;
  /** The normalized reference pulled. */
  ref: Reference;
  /** Digest of the top-level manifest (the index for multi-platform images). */
  manifestDigest: string;
  /** True when the name already pointed at this manifest and nothing was downloaded. */
  upToDate: boolean;
}

// Layer work in flight in this process, keyed by store + chain id, so concurrent pulls sharing
// layers download and unpack each once.
const layerJobs = new Map<string, Promise<void>>();

class Semaphore {
  #free: number;
  #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiters.push(r));
    return () => {
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}

async function fetchVerifiedBlob(
  ctx: PullContext,
  ref: Reference,
  desc: Descriptor,
  limit: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (ctx.content.has(desc.digest)) return ctx.content.readBytes(desc.digest);
  if (desc.size > limit) {
    throw new InvalidArgumentError(`Blob "${desc.digest}" is larger than ${limit} bytes`);
  }
  const res = await ctx.client.getBlob(ref, desc.digest, signal);
  let bytes: Uint8Array;
  try {
    bytes = await readLimited(res, limit, `blob "${desc.digest}"`);
  } catch (err) {
    throw asDownloadError(err, ref, desc.digest, signal);
  }
  if (bytes.byteLength !== desc.size) {
    throw new DigestMismatchError(
      `Failed to verify blob "${desc.digest}": got ${bytes.byteLength} bytes, expected ${desc.size}`,
    );
  }
  ctx.content.putBytes(bytes, desc.digest);
  return bytes;
}

/** Resolves a reference to a single-platform manifest, storing every manifest blob fetched. */
async function resolveManifest(
  ctx: PullContext,
  ref: Reference,
  platform: PlatformSpec,
  signal?: AbortSignal,
): Promise<
  {
    topDigest: string;
    manifestDigest: string;
    mediaType: string;
    manifest: ImageManifest;
    blobs: string[];
  }
> {
  const top = await ctx.client.getManifest(ref, signal);
  const parsed = parseManifest(top.bytes, top.mediaType);
  ctx.content.putBytes(top.bytes, top.digest);
  if (parsed.kind === "manifest") {
    return {
      topDigest: top.digest,
      manifestDigest: top.digest,
      mediaType: parsed.mediaType,
      manifest: parsed.manifest,
      blobs: [top.digest],
    };
  }
  const chosen = selectPlatform(parsed.index, platform);
  const child = await ctx.client.getManifest(ref, signal, chosen.digest);
  const inner = parseManifest(child.bytes, child.mediaType);
  if (inner.kind !== "manifest") {
    throw new InvalidArgumentError(
      `Manifest list entry "${chosen.digest}" is not an image manifest`,
    );
  }
  ctx.content.putBytes(child.bytes, child.digest);
  return {
    topDigest: top.digest,
    manifestDigest: child.digest,
    mediaType: inner.mediaType,
    manifest: inner.manifest,
    blobs: [top.digest, child.digest],
  };
}

/** reader.read() that rejects as soon as the signal aborts (a stalled body may never settle). */
function readOrAbort(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (!signal) return reader.read();
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reader.cancel(signal.reason).catch(() => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    reader.read().then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * A failure while reading a blob's body (connection reset, truncated chunked body) surfaces from
 * fetch as a bare TypeError ("error reading a body from connection"): name the blob and the
 * registry, and make it an Unavailable error so that it is retried and mapped like other
 * network failures. Aborts and docker-ts's own errors pass through unchanged.
 */
function asDownloadError(
  err: unknown,
  ref: Reference,
  digest: string,
  signal: AbortSignal | undefined,
): unknown {
  if (signal?.aborted || err instanceof DockerTsError) return err;
  if (err instanceof Error && err.name === "AbortError") return err;
  return new UnavailableError(
    `Failed to download blob "${digest}" from "${ref.domain}": the transfer broke off`,
    { cause: err },
  );
}

function isRetryable(err: unknown): boolean {
  if (err instanceof DigestMismatchError) return true;
  if (err instanceof DockerTsError) return err.kind === "Unavailable";
  return true; // network errors surface as TypeError and friends
}

/**
 * Downloads one layer blob while feeding it to the unpacker. The unpacker's stream closes only
 * after the blob verified and was committed; on mismatch it errors, so the layer store commits
 * nothing.
 */
async function downloadAndUnpack(
  ctx: PullContext,
  ref: Reference,
  layer: LayerRecord,
  parentChainId: string | undefined,
  signal: AbortSignal | undefined,
  onProgress: ProgressHandler | undefined,
): Promise<void> {
  const id = shortId(layer.digest);
  const needUnpack = !(await ctx.layers.has(layer.chainId));
  if (ctx.content.has(layer.digest)) {
    if (needUnpack) {
      emit(onProgress, {
        status: "Extracting",
        id,
        progressDetail: { current: 0, total: layer.size },
      });
      await ctx.layers.unpack({
        chainId: layer.chainId,
        parentChainId,
        diffId: layer.diffId,
        mediaType: layer.mediaType,
        open: () => ctx.content.open(layer.digest),
        signal,
      });
    }
    return;
  }
  const res = await ctx.client.getBlob(ref, layer.digest, signal);
  const body = res.body;
  if (body === null) {
    throw new DigestMismatchError(`Failed to verify blob "${layer.digest}": empty response`);
  }
  const reader = body.getReader();
  const writer: IngestWriter = ctx.content.writer(layer.digest, layer.size);
  let finished = false; // body fully read and blob committed
  let lastReport = 0;

  const readOne = async (): Promise<Uint8Array | null> => {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await readOrAbort(reader, signal);
    } catch (err) {
      throw asDownloadError(err, ref, layer.digest, signal);
    }
    const { done, value } = step;
    if (done) {
      writer.commit(); // verifies size + digest; aborts the ingest on mismatch
      finished = true;
      emit(onProgress, { status: "Verifying Checksum", id });
      emit(onProgress, { status: "Download complete", id });
      return null;
    }
    writer.write(value);
    if (
      lastReport === 0 || writer.written - lastReport >= 512 * 1024 ||
      writer.written === layer.size
    ) {
      lastReport = writer.written;
      emit(onProgress, {
        status: "Downloading",
        id,
        progressDetail: { current: writer.written, total: layer.size },
      });
    }
    return value;
  };

  // One drain at a time: the unpacker's cancel and the error path below may both ask for it.
  let draining: Promise<void> | undefined;
  const drain = (): Promise<void> =>
    draining ??= (async () => {
      while (!finished) await readOne();
    })();

  try {
    if (needUnpack) {
      let opened = false;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const chunk = await readOne();
            if (chunk === null) controller.close();
            else controller.enqueue(chunk);
          } catch (err) {
            controller.error(err);
            throw err;
          }
        },
        async cancel() {
          // The unpacker stopped early (end-of-archive seen): keep the blob complete anyway.
          await drain();
        },
      }, { highWaterMark: 8 });
      await ctx.layers.unpack({
        chainId: layer.chainId,
        parentChainId,
        diffId: layer.diffId,
        mediaType: layer.mediaType,
        open: () => {
          if (opened) throw new Error("Layer stream opened twice");
          opened = true;
          return stream;
        },
        signal,
      });
      try {
        await drain();
      } catch (err) {
        // The unpacker committed before the blob verified (it stopped reading early): undo it.
        await ctx.layers.remove(layer.chainId);
        throw err;
      }
    } else {
      await drain();
    }
  } catch (err) {
    let reported = err;
    if (!finished && !signal?.aborted && isDataError(err)) {
      // A corrupt download usually breaks gzip or tar parsing before the digest check at the
      // end is reached. Read the rest so that it is reported (and retried) as what it is, a
      // blob that does not match its digest, rather than as a malformed layer.
      try {
        await drain();
      } catch (drainErr) {
        if (drainErr instanceof DigestMismatchError || drainErr instanceof UnavailableError) {
          reported = drainErr;
        }
      }
    }
    await reader.cancel().catch(() => {});
    writer.abort();
    throw reported;
  }
}

/** Bad layer data (tar, compression, diff id), as opposed to I/O, network or abort errors. */
function isDataError(err: unknown): boolean {
  return err instanceof InvalidArgumentError && !(err instanceof DigestMismatchError);
}

async function pullLayer(
  ctx: PullContext,
  ref: Reference,
  layer: LayerRecord,
  parentChainId: string | undefined,
  opts: PullOptions,
): Promise<void> {
  const key = `${ctx.storeKey}|${layer.chainId}|${layer.digest}`;
  for (let attempt = 1;; attempt++) {
    opts.signal?.throwIfAborted();
    let job = layerJobs.get(key);
    const mine = job === undefined;
    if (!job) {
      job = downloadAndUnpack(ctx, ref, layer, parentChainId, opts.signal, opts.onProgress)
        .finally(() => layerJobs.delete(key));
      layerJobs.set(key, job);
    }
    try {
      await job;
      return;
    } catch (err) {
      opts.signal?.throwIfAborted();
      // Someone else's job failed on their abort: take over without counting an attempt.
      if (!mine && (err as Error)?.name === "AbortError") {
        attempt--;
        continue;
      }
      if (attempt >= LAYER_ATTEMPTS || !isRetryable(err)) throw err;
      emit(opts.onProgress, {
        status: `Retrying in ${attempt} second${attempt > 1 ? "s" : ""}`,
        id: shortId(layer.digest),
      });
      await abortableSleep(250 * 2 ** (attempt - 1), opts.signal);
    }
  }
}

function wantedPlatform(p: string | PlatformSpec | undefined): PlatformSpec {
  if (p === undefined) return hostPlatform();
  return typeof p === "string" ? parsePlatform(p) : normalizePlatform(p);
}

/** Pulls an image into the stores and points the reference at it. */
export async function pull(
  ctx: PullContext,
  input: string | Reference,
  opts: PullOptions = {},
): Promise<PullResult> {
  const ref = typeof input === "string" ? parseReference(input) : input;
  const { signal, onProgress } = opts;
  const platform = wantedPlatform(opts.platform);
  emit(onProgress, { status: `Pulling from ${ref.path}`, id: ref.digest ?? ref.tag ?? "latest" });

  const resolved = await resolveManifest(ctx, ref, platform, signal);
  const { manifest } = resolved;
  checkConfigMediaType(manifest.config);
  for (const l of manifest.layers) checkLayerMediaType(l);

  const configBytes = await fetchVerifiedBlob(ctx, ref, manifest.config, MAX_CONFIG_BYTES, signal);
  const config: ImageConfig = parseImageConfig(configBytes);
  if (opts.platform !== undefined) {
    const have = normalizePlatform({
      os: config.os,
      architecture: config.architecture,
      variant: config.variant,
    });
    if (have.os !== platform.os || have.architecture !== platform.architecture) {
      throw new NotFoundError(
        `image with reference ${
          familiar(ref)
        } was found but does not match the specified platform: wanted ${
          formatPlatform(platform)
        }, actual: ${formatPlatform(have)}`,
      );
    }
  }
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new InvalidArgumentError(
      `Image config of ${
        familiar(ref)
      } lists ${diffIds.length} layers but the manifest has ${manifest.layers.length}`,
    );
  }
  const chain = computeChainIds(diffIds);
  const layers: LayerRecord[] = manifest.layers.map((d, i) => ({
    digest: d.digest,
    mediaType: d.mediaType,
    size: d.size,
    diffId: diffIds[i],
    chainId: chain[i],
  }));
  const imageId = manifest.config.digest;
  const before = ctx.images.getRef(ref);
  const existed = ctx.images.getImage(imageId) !== undefined;

  // Layers: announce all, then run bounded in parallel (each layer unpacks independently; the
  // parent chain id is only metadata for the layer store).
  const sem = new Semaphore(opts.concurrency ?? DEFAULT_CONCURRENCY);
  const pending: Promise<void>[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const id = shortId(layer.digest);
    const present = ctx.content.has(layer.digest) && await ctx.layers.has(layer.chainId);
    if (present) {
      emit(onProgress, { status: "Already exists", id });
      continue;
    }
    emit(onProgress, { status: "Pulling fs layer", id });
    pending.push((async () => {
      const release = await sem.acquire();
      try {
        // No parent chain id: the layer store would then wait for the parent, and layers of
        // one image are independent diff directories that unpack in parallel.
        await pullLayer(ctx, ref, layer, undefined, opts);
      } finally {
        release();
      }
      emit(onProgress, { status: "Pull complete", id });
    })());
  }
  const results = await Promise.allSettled(pending);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    signal?.throwIfAborted();
    throw failed.reason;
  }
  signal?.throwIfAborted();

  const rec: ImageRecord = {
    id: imageId,
    manifestDigest: resolved.manifestDigest,
    manifestMediaType: resolved.mediaType,
    manifestBlobs: resolved.blobs,
    layers,
    created: config.created,
    stored: new Date().toISOString(),
    size: layers.reduce((n, l) => n + l.size, 0) + manifest.config.size,
    os: config.os,
    architecture: config.architecture,
    ...(config.variant !== undefined ? { variant: config.variant } : {}),
  };
  const old = ctx.images.getImage(imageId);
  if (old) {
    rec.stored = old.stored;
    rec.manifestBlobs = [...new Set([...old.manifestBlobs, ...rec.manifestBlobs])];
  }
  ctx.images.putImage(rec);
  if (ref.tag !== undefined) {
    ctx.images.setRef({ domain: ref.domain, path: ref.path, tag: ref.tag }, {
      imageId,
      manifestDigest: resolved.topDigest,
    });
  }
  ctx.images.setRef({ domain: ref.domain, path: ref.path, digest: resolved.topDigest }, {
    imageId,
    manifestDigest: resolved.topDigest,
  });
  const upToDate = existed && before?.manifestDigest === resolved.topDigest &&
    before.imageId === imageId;
  emit(onProgress, { status: `Digest: ${resolved.topDigest}` });
  emit(onProgress, {
    status: upToDate
      ? `Status: Image is up to date for ${familiar(ref)}`
      : `Status: Downloaded newer image for ${familiar(ref)}`,
  });
  return { imageId, ref, manifestDigest: resolved.topDigest, upToDate };
}
