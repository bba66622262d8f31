/**
 * `push`: uploads a stored image's layers, config and manifest to a registry, plus
 * {@link pushArtifacts}, which builds and pushes an image straight from in-memory blobs (used
 * by test fixtures and the bench to publish images they build).
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import type { ContentStore } from "./content_store.ts";
import { sha256Digest } from "./content_store.ts";
import type { ImageStore } from "./image_store.ts";
import { encodeJson, MediaType } from "./manifest.ts";
import { emit, type ProgressHandler, shortId } from "./progress.ts";
import type { RegistryClient } from "./registry_client.ts";
import { familiarName, parseReference, type Reference } from "./reference.ts";

/** Options of {@link push}. */
export interface PushOptions {
  signal?: AbortSignal;
  onProgress?: ProgressHandler;
}

/** What a push produced. */
export interface PushResult {
  /** Digest of the pushed manifest. */
  digest: string;
  /** Size of the pushed manifest in bytes. */
  size: number;
}

/** Pushes a stored image under the given name (which must be a local tag of it). */
export async function push(
  ctx: { client: RegistryClient; content: ContentStore; images: ImageStore },
  input: string,
  opts: PushOptions = {},
): Promise<PushResult> {
  const ref = parseReference(input);
  const { image } = ctx.images.resolve(input);
  const { signal, onProgress } = opts;
  emit(onProgress, {
    status: `The push refers to repository [${familiarName(ref)}]`,
  });
  await Promise.all(image.layers.map(async (l) => {
    const id = shortId(l.digest);
    emit(onProgress, { status: "Preparing", id });
    await ctx.client.pushBlob(
      ref,
      l.digest,
      { size: l.size, open: () => ctx.content.open(l.digest) },
      signal,
    );
    emit(onProgress, { status: "Pushed", id });
  }));
  await ctx.client.pushBlob(ref, image.id, ctx.content.readBytes(image.id), signal);
  const bytes = ctx.content.readBytes(image.manifestDigest);
  const tag = ref.tag ?? "latest";
  const digest = await ctx.client.putManifest(ref, tag, bytes, image.manifestMediaType, signal);
  emit(onProgress, { status: `${tag}: digest: ${digest} size: ${bytes.byteLength}` });
  return { digest, size: bytes.byteLength };
}

/** One layer for {@link pushArtifacts}: the blob as stored in the registry. */
export interface ArtifactLayer {
  bytes: Uint8Array;
  mediaType: string;
}

/** A manifest that {@link pushArtifacts} uploaded. */
export interface PushedManifest {
  digest: string;
  mediaType: string;
  size: number;
  bytes: Uint8Array;
}

/**
 * Builds a manifest for a config and layers, pushes blobs and manifest, and tags it.
 * `format` picks Docker schema2 or OCI media types for the manifest and config descriptor.
 */
export async function pushArtifacts(
  client: RegistryClient,
  target: string | Reference,
  artifacts: {
    config: Uint8Array;
    layers: ArtifactLayer[];
    format?: "docker" | "oci";
    /** Push under this tag (default the reference's tag); `null` pushes by digest only. */
    tag?: string | null;
    signal?: AbortSignal;
  },
): Promise<PushedManifest> {
  const ref = typeof target === "string" ? parseReference(target) : target;
  const oci = artifacts.format === "oci";
  for (const l of artifacts.layers) {
    await client.pushBlob(ref, sha256Digest(l.bytes), l.bytes, artifacts.signal);
  }
  const configDigest = sha256Digest(artifacts.config);
  await client.pushBlob(ref, configDigest, artifacts.config, artifacts.signal);
  const mediaType = oci ? MediaType.OciManifest : MediaType.DockerManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: oci ? MediaType.OciConfig : MediaType.DockerConfig,
      digest: configDigest,
      size: artifacts.config.byteLength,
    },
    layers: artifacts.layers.map((l) => ({
      mediaType: l.mediaType,
      digest: sha256Digest(l.bytes),
      size: l.bytes.byteLength,
    })),
  };
  const bytes = encodeJson(manifest);
  const digest = sha256Digest(bytes);
  const tag = artifacts.tag === undefined ? (ref.tag ?? digest) : (artifacts.tag ?? digest);
  await client.putManifest(ref, tag, bytes, mediaType, artifacts.signal);
  return { digest, mediaType, size: bytes.byteLength, bytes };
}

/** Pushes a raw manifest or index document under a tag (or its digest). */
export async function pushManifestBytes(
  client: RegistryClient,
  target: string | Reference,
  bytes: Uint8Array,
  mediaType: string,
  tag?: string,
): Promise<string> {
  const ref = typeof target === "string" ? parseReference(target) : target;
  const digest = sha256Digest(bytes);
  const reference = tag ?? ref.tag ?? digest;
  if (reference === "") throw new InvalidArgumentError("A tag or digest is required to push");
  await client.putManifest(ref, reference, bytes, mediaType);
  return digest;
}
