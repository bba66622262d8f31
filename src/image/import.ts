/**
 * `import`: turns a rootfs tarball (plain, gzip or zstd) into a one-layer image. The layer is
 * stored uncompressed (as docker does), so its blob digest is also its diff id.
 *
 * @module
 */
import { InvalidArgumentError } from "../errors.ts";
import { decompress, sniffCompression } from "../storage/decompress.ts";
import type { ContentStore } from "./content_store.ts";
import type { ImageRecord, ImageStore } from "./image_store.ts";
import type { LayerUnpacker } from "./layers.ts";
import {
  type ContainerConfig,
  encodeJson,
  hostPlatform,
  type ImageConfig,
  type ImageManifest,
  MediaType,
  type PlatformSpec,
} from "./manifest.ts";
import { parseReference } from "./reference.ts";

/** Options of {@link importImage}. */
export interface ImportOptions {
  /** Name to tag the image with (`repo[:tag]`). */
  ref?: string;
  /** Dockerfile instructions applied to the config (`CMD ["sh"]`, `ENV A=b`, …). */
  changes?: string[];
  /** History comment (docker: `--message`). */
  message?: string;
  platform?: PlatformSpec;
  signal?: AbortSignal;
}

function splitArgs(value: string): string[] {
  const v = value.trim();
  if (v.startsWith("[")) {
    try {
      const arr = JSON.parse(v);
      if (Array.isArray(arr) && arr.every((x) => typeof x === "string")) return arr;
    } catch { /* shell form below */ }
  }
  return ["/bin/sh", "-c", v];
}

function keyValues(value: string): [string, string][] {
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  if (!value.includes("=")) {
    const sp = value.trim().split(/\s+/);
    return [[sp[0], sp.slice(1).join(" ")]];
  }
  for (const m of value.matchAll(re)) {
    out.push([m[1], m[2].startsWith('"') ? JSON.parse(m[2]) : m[2]]);
  }
  return out;
}

/** Applies `--change` instructions (the subset docker import accepts) to a container config. */
export function applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const c: ContainerConfig = { ...config };
  for (const change of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(change);
    if (!m) throw new InvalidArgumentError(`Invalid change "${change}"`);
    const value = m[2];
    switch (m[1].toUpperCase()) {
      case "CMD":
        c.Cmd = splitArgs(value);
        break;
      case "ENTRYPOINT":
        c.Entrypoint = splitArgs(value);
        break;
      case "ENV": {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues(value)) {
          const i = env.findIndex((e) => e.startsWith(`${k}=`));
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case "LABEL":
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(keyValues(value)) };
        break;
      case "WORKDIR":
        c.WorkingDir = value.trim();
        break;
      case "USER":
        c.User = value.trim();
        break;
      case "STOPSIGNAL":
        c.StopSignal = value.trim();
        break;
      case "EXPOSE": {
        const ports = { ...(c.ExposedPorts ?? {}) };
        for (const p of value.trim().split(/\s+/)) ports[p.includes("/") ? p : `${p}/tcp`] = {};
        c.ExposedPorts = ports;
        break;
      }
      case "VOLUME": {
        const vols = { ...(c.Volumes ?? {}) };
        for (
          const v of splitArgs(value)[0] === "/bin/sh"
            ? value.trim().split(/\s+/)
            : splitArgs(value)
        ) {
          vols[v] = {};
        }
        c.Volumes = vols;
        break;
      }
      default:
        throw new InvalidArgumentError(`${m[1].toUpperCase()} is not a valid change command`);
    }
  }
  return c;
}

/** Imports a rootfs tarball; resolves to the new image id. */
export async function importImage(
  ctx: { content: ContentStore; images: ImageStore; layers: LayerUnpacker },
  input: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  opts: ImportOptions = {},
): Promise<string> {
  const target = opts.ref !== undefined ? parseReference(opts.ref) : undefined;
  // Peek at the first chunk to learn the compression, then stream everything through.
  const it = (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? new Uint8Array() : first.value;
  const all = (async function* (): AsyncGenerator<Uint8Array> {
    if (head.byteLength > 0) yield head;
    while (true) {
      const n = await it.next();
      if (n.done) return;
      yield n.value;
    }
  })();
  const kind = sniffCompression(head);
  const source = kind === "none" ? all : decompress(all, {
    mediaType: kind === "gzip" ? MediaType.OciLayerGzip : MediaType.OciLayerZstd,
    signal: opts.signal,
  });
  const { digest, size } = await ctx.content.ingestAny(source, opts.signal);
  const platform = opts.platform ?? hostPlatform();
  const created = new Date().toISOString();
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created,
    config: applyChanges({}, opts.changes ?? []),
    rootfs: { type: "layers", diff_ids: [digest] },
    history: [{ created, created_by: "", comment: opts.message ?? "Imported from -" }],
  };
  const configBytes = encodeJson(config);
  const configDigest = ctx.content.putBytes(configBytes);
  const layerType = "application/vnd.docker.image.rootfs.diff.tar";
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.DockerManifest,
    config: {
      mediaType: MediaType.DockerConfig,
      digest: configDigest,
      size: configBytes.byteLength,
    },
    layers: [{ mediaType: layerType, digest, size }],
  };
  const manifestBytes = encodeJson(manifest);
  const manifestDigest = ctx.content.putBytes(manifestBytes);
  if (!(await ctx.layers.has(digest))) {
    await ctx.layers.unpack({
      chainId: digest,
      diffId: digest,
      mediaType: layerType,
      open: () => ctx.content.open(digest),
      signal: opts.signal,
    });
  }
  const rec: ImageRecord = {
    id: configDigest,
    manifestDigest,
    manifestMediaType: MediaType.DockerManifest,
    manifestBlobs: [manifestDigest],
    layers: [{ digest, mediaType: layerType, size, diffId: digest, chainId: digest }],
    created,
    stored: created,
    size: size + configBytes.byteLength,
    os: config.os,
    architecture: config.architecture,
    ...(config.variant !== undefined ? { variant: config.variant } : {}),
  };
  ctx.images.putImage(rec);
  if (target) ctx.images.setRef(target, { imageId: configDigest, manifestDigest });
  return configDigest;
}
