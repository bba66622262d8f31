/**
 * `load`: reads a docker-archive (`manifest.json` + config + layer tars, as `docker save` and
 * `podman save` write) or an OCI image layout archive (`oci-layout`, `index.json`,
 * `blobs/sha256/…`), stores the blobs, unpacks the layers and records the images with their tags.
 * Everything in the archive is written once, straight into the content store.
 *
 * @module
 */
import { z } from "zod";
import { InvalidArgumentError } from "../errors.ts";
import { sniffCompression } from "../storage/decompress.ts";
import type { ContentStore } from "./content_store.ts";
import type { ImageRecord, ImageStore, LayerRecord } from "./image_store.ts";
import type { LayerUnpacker } from "./layers.ts";
import {
  computeChainIds,
  encodeJson,
  hostPlatform,
  type ImageManifest,
  MediaType,
  parseImageConfig,
  parseManifest,
  type PlatformSpec,
  selectPlatform,
} from "./manifest.ts";
import { emit, type ProgressHandler } from "./progress.ts";
import { familiar, parseReference, type Reference } from "./reference.ts";
import { tarEntries } from "./tar_reader.ts";

/** Files smaller than this that are not blobs are kept in memory (JSON metadata). */
const SMALL_FILE = 8 << 20;

const dockerManifestSchema = z.array(
  z.object({
    Config: z.string(),
    RepoTags: z.array(z.string()).nullish(),
    Layers: z.array(z.string()),
  }).passthrough(),
);

/** Options of {@link loadArchive}. */
export interface LoadOptions {
  signal?: AbortSignal;
  onProgress?: ProgressHandler;
  /** Platform to pick from OCI indexes (default: this machine). */
  platform?: PlatformSpec;
}

interface LoadCtx {
  content: ContentStore;
  images: ImageStore;
  layers: LayerUnpacker;
}

function normalizeName(name: string): string {
  return name.replace(/^(\.\/)+/, "").replace(/^\/+/, "");
}

function headOf(content: ContentStore, digest: string): Promise<Uint8Array> {
  return (async () => {
    const reader = content.open(digest).getReader();
    try {
      const { value } = await reader.read();
      return value ?? new Uint8Array();
    } finally {
      await reader.cancel().catch(() => {});
    }
  })();
}

/** Stores the image built from a config and layer blobs, unpacking layers; returns the record. */
async function commitImage(
  ctx: LoadCtx,
  manifestBytes: Uint8Array,
  manifestMediaType: string,
  manifest: ImageManifest,
  extraBlobs: string[],
  signal?: AbortSignal,
): Promise<ImageRecord> {
  const config = parseImageConfig(ctx.content.readBytes(manifest.config.digest));
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new InvalidArgumentError(
      `Failed to load image: config lists ${diffIds.length} layers but the archive has ${manifest.layers.length}`,
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
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    if (!ctx.content.has(l.digest)) {
      throw new InvalidArgumentError(
        `Failed to load image: layer "${l.digest}" is missing from the archive`,
      );
    }
    if (await ctx.layers.has(l.chainId)) continue;
    await ctx.layers.unpack({
      chainId: l.chainId,
      parentChainId: i > 0 ? chain[i - 1] : undefined, // unpacked in order here
      diffId: l.diffId,
      mediaType: l.mediaType,
      open: () => ctx.content.open(l.digest),
      signal,
    });
  }
  const manifestDigest = ctx.content.putBytes(manifestBytes);
  const old = ctx.images.getImage(manifest.config.digest);
  const rec: ImageRecord = {
    id: manifest.config.digest,
    manifestDigest,
    manifestMediaType,
    manifestBlobs: [...new Set([...(old?.manifestBlobs ?? []), manifestDigest, ...extraBlobs])],
    layers,
    created: config.created,
    stored: old?.stored ?? new Date().toISOString(),
    size: layers.reduce((n, l) => n + l.size, 0) + manifest.config.size,
    os: config.os,
    architecture: config.architecture,
    ...(config.variant !== undefined ? { variant: config.variant } : {}),
  };
  ctx.images.putImage(rec);
  return rec;
}

function tagImage(ctx: LoadCtx, ref: Reference, imageId: string, manifestDigest: string): string {
  ctx.images.setRef(ref, { imageId, manifestDigest });
  return familiar(ref);
}

/**
 * Loads a docker-archive or OCI-layout tar. Resolves to the loaded names (`busybox:latest`), or
 * image ids (`sha256:…`) for untagged images.
 */
export async function loadArchive(
  ctx: LoadCtx,
  input: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  opts: LoadOptions = {},
): Promise<string[]> {
  const { signal } = opts;
  const files = new Map<string, Uint8Array>();
  const blobs = new Map<string, string>(); // archive path → digest
  const before = new Set(ctx.content.list());
  const ingested = new Set<string>();
  const used = new Set<string>();
  try {
    for await (const entry of tarEntries(input)) {
      signal?.throwIfAborted();
      const name = normalizeName(entry.header.name);
      if (entry.header.type !== "file") {
        for await (const _ of entry.body) { /* skip */ }
        continue;
      }
      const isBlob = name.startsWith("blobs/") || name.endsWith(".tar") ||
        entry.header.size > SMALL_FILE;
      if (!isBlob) {
        const parts: Uint8Array[] = [];
        for await (const c of entry.body) parts.push(c);
        const buf = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
        let off = 0;
        for (const p of parts) {
          buf.set(p, off);
          off += p.byteLength;
        }
        files.set(name, buf);
        continue;
      }
      const { digest } = await ctx.content.ingestAny(entry.body, signal);
      if (!before.has(digest)) ingested.add(digest);
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
      if (m && digest !== `sha256:${m[1]}`) {
        throw new InvalidArgumentError(
          `Failed to load image: blob "${name}" has digest "${digest}"`,
        );
      }
      blobs.set(name, digest);
    }

    const bytesOf = (name: string): Uint8Array => {
      const n = normalizeName(name);
      const mem = files.get(n);
      if (mem) return mem;
      const d = blobs.get(n);
      if (d) return ctx.content.readBytes(d);
      throw new InvalidArgumentError(`Failed to load image: "${n}" is missing from the archive`);
    };

    const loaded: string[] = [];
    if (files.has("manifest.json")) {
      let doc: unknown;
      try {
        doc = JSON.parse(new TextDecoder().decode(files.get("manifest.json")!));
      } catch (err) {
        throw new InvalidArgumentError("Failed to load image: manifest.json is malformed JSON", {
          cause: err,
        });
      }
      const parsed = dockerManifestSchema.safeParse(doc);
      if (!parsed.success) {
        throw new InvalidArgumentError(
          "Failed to load image: manifest.json has an unexpected shape",
        );
      }
      for (const item of parsed.data) {
        const configBytes = bytesOf(item.Config);
        const configDigest = ctx.content.putBytes(configBytes);
        const layerDescs = [];
        let zstd = false;
        for (const lp of item.Layers) {
          const d = blobs.get(normalizeName(lp)) ?? ctx.content.putBytes(bytesOf(lp));
          used.add(d);
          const kind = sniffCompression(await headOf(ctx.content, d));
          if (kind === "zstd") zstd = true;
          const mediaType = kind === "gzip"
            ? MediaType.DockerLayerGzip
            : kind === "zstd"
            ? MediaType.OciLayerZstd
            : "application/vnd.docker.image.rootfs.diff.tar";
          layerDescs.push({ mediaType, digest: d, size: ctx.content.size(d) });
        }
        const mediaType = zstd ? MediaType.OciManifest : MediaType.DockerManifest;
        const manifest: ImageManifest = {
          schemaVersion: 2,
          mediaType,
          config: {
            mediaType: zstd ? MediaType.OciConfig : MediaType.DockerConfig,
            digest: configDigest,
            size: configBytes.byteLength,
          },
          layers: layerDescs,
        };
        const bytes = encodeJson(manifest);
        const rec = await commitImage(ctx, bytes, mediaType, manifest, [], signal);
        const tags = item.RepoTags ?? [];
        for (const t of tags) {
          loaded.push(tagImage(ctx, parseReference(t), rec.id, rec.manifestDigest));
        }
        if (tags.length === 0) loaded.push(rec.id);
        emit(opts.onProgress, {
          status: tags.length > 0
            ? `Loaded image: ${tags.join(", ")}`
            : `Loaded image ID: ${rec.id}`,
        });
      }
    } else if (files.has("index.json")) {
      const platform = opts.platform ?? hostPlatform();
      const index = parseManifest(files.get("index.json")!, MediaType.OciIndex);
      if (index.kind !== "index") {
        throw new InvalidArgumentError("Failed to load image: index.json is not an index");
      }
      for (const desc of index.index.manifests) {
        const annotations = desc.annotations ?? {};
        const name = annotations["io.containerd.image.name"] ??
          annotations["org.opencontainers.image.ref.name"];
        let d = desc;
        let outer: string[] = [];
        let doc = parseManifest(ctx.content.readBytes(d.digest), d.mediaType);
        used.add(d.digest);
        if (doc.kind === "index") {
          outer = [d.digest];
          d = selectPlatform(doc.index, platform);
          doc = parseManifest(ctx.content.readBytes(d.digest), d.mediaType);
          used.add(d.digest);
          if (doc.kind !== "manifest") {
            throw new InvalidArgumentError("Failed to load image: nested index");
          }
        }
        for (const l of doc.manifest.layers) used.add(l.digest);
        used.add(doc.manifest.config.digest);
        const rec = await commitImage(
          ctx,
          ctx.content.readBytes(d.digest),
          doc.mediaType,
          doc.manifest,
          outer,
          signal,
        );
        let ref: Reference | undefined;
        if (name !== undefined) {
          try {
            // A bare tag ("latest") names no repository; only full references become names.
            ref = /[/:]/.test(name) || !/^[\w][\w.-]*$/.test(name)
              ? parseReference(name)
              : undefined;
          } catch {
            ref = undefined;
          }
        }
        if (ref !== undefined && ref.tag !== undefined) {
          loaded.push(tagImage(ctx, ref, rec.id, outer[0] ?? rec.manifestDigest));
        } else loaded.push(rec.id);
        emit(opts.onProgress, {
          status: ref ? `Loaded image: ${familiar(ref)}` : `Loaded image ID: ${rec.id}`,
        });
      }
    } else {
      throw new InvalidArgumentError(
        "Failed to load image: the archive has neither manifest.json nor index.json",
      );
    }
    for (const d of ingested) {
      if (!used.has(d) && !ctx.images.listImages().some((i) => i.id === d)) ctx.content.delete(d);
    }
    return loaded;
  } catch (err) {
    // Leave nothing this load introduced that no image references.
    const keep = new Set<string>();
    for (const img of ctx.images.listImages()) {
      keep.add(img.id);
      for (const b of img.manifestBlobs) keep.add(b);
      for (const l of img.layers) keep.add(l.digest);
    }
    for (const d of ingested) if (!keep.has(d)) ctx.content.delete(d);
    throw err;
  }
}
