/**
 * Registry documents: Docker schema2 manifest, OCI image manifest, Docker manifest list, OCI
 * index and the image config. Schemas are tolerant (registries add fields); parsing happens once
 * at the edge and the rest of the code trusts the types.
 *
 * @module
 */
import { z } from "zod";
import { InvalidArgumentError, NotImplementedError } from "../errors.ts";
import { sha256Digest } from "./content_store.ts";

/** Media types docker-ts understands. */
export const MediaType = {
  DockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  DockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  DockerConfig: "application/vnd.docker.container.image.v1+json",
  DockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  DockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  DockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  DockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
  OciManifest: "application/vnd.oci.image.manifest.v1+json",
  OciIndex: "application/vnd.oci.image.index.v1+json",
  OciConfig: "application/vnd.oci.image.config.v1+json",
  OciLayer: "application/vnd.oci.image.layer.v1.tar",
  OciLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  OciLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  OciLayerNondistGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
} as const;

/** The Accept header for manifest requests (schema1 included so we can say it is unsupported). */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
  MediaType.DockerSchema1Signed,
  MediaType.DockerSchema1,
].join(", ");

const LAYER_TYPES: ReadonlySet<string> = new Set([
  MediaType.DockerLayerGzip,
  MediaType.DockerForeignLayerGzip,
  MediaType.OciLayer,
  MediaType.OciLayerGzip,
  MediaType.OciLayerZstd,
  MediaType.OciLayerNondistGzip,
  "application/vnd.docker.image.rootfs.diff.tar",
]);

const digestSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/, "expected a sha256 digest");

const platformSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  "os.version": z.string().optional(),
  "os.features": z.array(z.string()).optional(),
  features: z.array(z.string()).optional(),
}).passthrough();

/** A content descriptor. */
export const descriptorSchema = z.object({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: platformSchema.optional(),
}).passthrough();
/** A content descriptor. */
export type Descriptor = z.infer<typeof descriptorSchema>;
/** os/architecture[/variant]. */
export type Platform = z.infer<typeof platformSchema>;

/** A single-platform image manifest (Docker schema2 or OCI). */
export const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
}).passthrough();
/** A single-platform image manifest (Docker schema2 or OCI). */
export type ImageManifest = z.infer<typeof imageManifestSchema>;

/** A multi-platform index (Docker manifest list or OCI index). */
export const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
}).passthrough();
/** A multi-platform index (Docker manifest list or OCI index). */
export type ImageIndex = z.infer<typeof indexSchema>;

const healthSchema = z.object({
  Test: z.array(z.string()).optional(),
  Interval: z.number().optional(),
  Timeout: z.number().optional(),
  StartPeriod: z.number().optional(),
  StartInterval: z.number().optional(),
  Retries: z.number().optional(),
}).passthrough();

/** The runtime part of an image config (`config` in the JSON). */
export const containerConfigSchema = z.object({
  User: z.string().optional(),
  ExposedPorts: z.record(z.string(), z.object({}).passthrough()).nullish(),
  Env: z.array(z.string()).nullish(),
  Entrypoint: z.array(z.string()).nullish(),
  Cmd: z.array(z.string()).nullish(),
  Volumes: z.record(z.string(), z.object({}).passthrough()).nullish(),
  WorkingDir: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullish(),
  StopSignal: z.string().optional(),
  Healthcheck: healthSchema.optional(),
  ArgsEscaped: z.boolean().optional(),
  OnBuild: z.array(z.string()).nullish(),
  Shell: z.array(z.string()).nullish(),
}).passthrough();
/** The runtime part of an image config. */
export type ContainerConfig = z.infer<typeof containerConfigSchema>;

/** The image config blob (the image id is its digest). */
export const imageConfigSchema = z.object({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  created: z.string().optional(),
  author: z.string().optional(),
  config: containerConfigSchema.optional(),
  rootfs: z.object({
    type: z.literal("layers"),
    diff_ids: z.array(digestSchema),
  }).passthrough(),
  history: z.array(z.object({}).passthrough()).optional(),
}).passthrough();
/** The image config blob. */
export type ImageConfig = z.infer<typeof imageConfigSchema>;

/** A fetched manifest of either kind. */
export type ParsedManifest =
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest }
  | { kind: "index"; mediaType: string; index: ImageIndex };

function decodeJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new InvalidArgumentError(`Failed to parse ${what}: malformed JSON`, { cause: err });
  }
}

function zodMessage(err: z.ZodError): string {
  const issue = err.issues[0];
  return issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid";
}

/**
 * Parses manifest bytes. `headerType` is the Content-Type the registry sent; the document's own
 * `mediaType` wins when present.
 *
 * @throws {NotImplementedError} for schema1; {@link InvalidArgumentError} for malformed JSON or an
 * unknown media type.
 */
export function parseManifest(bytes: Uint8Array, headerType?: string): ParsedManifest {
  const doc = decodeJson(bytes, "manifest");
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new InvalidArgumentError("Failed to parse manifest: not a JSON object");
  }
  const rec = doc as Record<string, unknown>;
  const header = headerType?.split(";")[0].trim();
  let mediaType = typeof rec.mediaType === "string" ? rec.mediaType : undefined;
  if (
    rec.schemaVersion === 1 || header === MediaType.DockerSchema1 ||
    header === MediaType.DockerSchema1Signed
  ) {
    throw new NotImplementedError("schema1 manifests are not supported");
  }
  if (mediaType === undefined) {
    // OCI allows omitting mediaType: decide by shape, then by header.
    if (Array.isArray(rec.manifests)) mediaType = MediaType.OciIndex;
    else if (rec.config !== undefined) mediaType = MediaType.OciManifest;
    else mediaType = header;
  }
  switch (mediaType) {
    case MediaType.DockerManifest:
    case MediaType.OciManifest: {
      const r = imageManifestSchema.safeParse(doc);
      if (!r.success) {
        throw new InvalidArgumentError(`Failed to parse manifest: ${zodMessage(r.error)}`);
      }
      return { kind: "manifest", mediaType, manifest: r.data };
    }
    case MediaType.DockerManifestList:
    case MediaType.OciIndex: {
      const r = indexSchema.safeParse(doc);
      if (!r.success) {
        throw new InvalidArgumentError(`Failed to parse manifest list: ${zodMessage(r.error)}`);
      }
      return { kind: "index", mediaType, index: r.data };
    }
    default:
      throw new InvalidArgumentError(
        `Unsupported manifest media type "${mediaType ?? "(none)"}"`,
      );
  }
}

/** Parses and validates an image config blob. */
export function parseImageConfig(bytes: Uint8Array): ImageConfig {
  const r = imageConfigSchema.safeParse(decodeJson(bytes, "image config"));
  if (!r.success) {
    throw new InvalidArgumentError(`Failed to parse image config: ${zodMessage(r.error)}`);
  }
  return r.data;
}

/** Checks that a layer descriptor has a media type we can unpack. */
export function checkLayerMediaType(d: Descriptor): void {
  if (!LAYER_TYPES.has(d.mediaType)) {
    throw new InvalidArgumentError(
      `Unsupported layer media type "${d.mediaType}" for "${d.digest}"`,
    );
  }
}

/** Checks that a config descriptor is an image config. */
export function checkConfigMediaType(d: Descriptor): void {
  if (d.mediaType !== MediaType.DockerConfig && d.mediaType !== MediaType.OciConfig) {
    throw new InvalidArgumentError(`Unsupported config media type "${d.mediaType}"`);
  }
}

/** A platform request: `linux/amd64`, `linux/arm64/v8`. */
export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: "amd64",
  x86: "386",
  i386: "386",
  aarch64: "arm64",
  armhf: "arm",
  armel: "arm",
};

/** Normalizes os/arch/variant the way containerd's platforms package does. */
export function normalizePlatform(p: PlatformSpec): PlatformSpec {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  if (p.architecture.toLowerCase() === "armhf") variant ??= "v7";
  if (p.architecture.toLowerCase() === "armel") variant ??= "v6";
  if (architecture === "arm64") {
    if (variant === undefined || variant === "8") variant = "v8";
  } else if (architecture === "arm") {
    if (variant === undefined || variant === "7") variant = "v7";
    else if (variant === "6" || variant === "5") variant = `v${variant}`;
  }
  return variant !== undefined ? { os, architecture, variant } : { os, architecture };
}

/** Operating systems Go knows (GOOS values), for a one-word `--platform`. */
const KNOWN_OS = new Set([
  "aix",
  "android",
  "darwin",
  "dragonfly",
  "freebsd",
  "hurd",
  "illumos",
  "ios",
  "js",
  "linux",
  "nacl",
  "netbsd",
  "openbsd",
  "plan9",
  "solaris",
  "wasip1",
  "windows",
  "zos",
]);

/** Architectures Go knows (GOARCH values, after alias normalization). */
const KNOWN_ARCH = new Set([
  "386",
  "amd64",
  "amd64p32",
  "arm",
  "armbe",
  "arm64",
  "arm64be",
  "loong64",
  "mips",
  "mipsle",
  "mips64",
  "mips64le",
  "mips64p32",
  "mips64p32le",
  "ppc",
  "ppc64",
  "ppc64le",
  "riscv",
  "riscv64",
  "s390",
  "s390x",
  "sparc",
  "sparc64",
  "wasm",
]);

/** Parses `os/arch[/variant]` (or `arch` alone, meaning linux). */
export function parsePlatform(text: string): PlatformSpec {
  const parts = text.split("/");
  if (parts.some((p) => p === "" || !/^[A-Za-z0-9_.-]+$/.test(p)) || parts.length > 3) {
    throw new InvalidArgumentError(`Invalid platform "${text}": expected os/arch[/variant]`);
  }
  if (parts.length === 1) {
    // One word is an OS (with this machine's arch) or an arch (with linux), as containerd's
    // platforms.Parse decides; anything else is refused rather than sought in the index.
    const word = parts[0].toLowerCase();
    if (KNOWN_OS.has(word)) {
      return normalizePlatform({ os: word, architecture: hostPlatform().architecture });
    }
    const arch = normalizePlatform({ os: "linux", architecture: word });
    if (KNOWN_ARCH.has(arch.architecture)) return arch;
    throw new InvalidArgumentError(
      `Invalid platform "${text}": unknown operating system or architecture`,
    );
  }
  return normalizePlatform({ os: parts[0], architecture: parts[1], variant: parts[2] });
}

/** The platform of this machine (linux plus Deno's arch). */
export function hostPlatform(): PlatformSpec {
  return normalizePlatform({ os: "linux", architecture: Deno.build.arch });
}

/** `linux/arm64/v8`. */
export function formatPlatform(p: PlatformSpec): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== "").join("/");
}

function platformMatches(want: PlatformSpec, have: Platform): boolean {
  const h = normalizePlatform({
    os: have.os,
    architecture: have.architecture,
    variant: have.variant,
  });
  if (h.os !== want.os || h.architecture !== want.architecture) return false;
  // A requested variant must match; arm64 images without a variant are v8 (normalized above).
  if (want.variant !== undefined && h.variant !== undefined) return want.variant === h.variant;
  return true;
}

/**
 * Picks the manifest for a platform from an index. Attestation manifests (platform
 * unknown/unknown) never match.
 *
 * @throws {NotFoundError}-like {@link InvalidArgumentError} naming the platform when none match.
 */
export function selectPlatform(index: ImageIndex, want: PlatformSpec): Descriptor {
  const w = normalizePlatform(want);
  const candidates = index.manifests.filter((d) =>
    d.platform !== undefined && platformMatches(w, d.platform) &&
    (d.mediaType === MediaType.DockerManifest || d.mediaType === MediaType.OciManifest)
  );
  // Prefer an exact variant match over a variant-less one.
  const exact = candidates.find((d) =>
    normalizePlatform({
      os: d.platform!.os,
      architecture: d.platform!.architecture,
      variant: d.platform!.variant,
    }).variant === w.variant
  );
  const chosen = exact ?? candidates[0];
  if (chosen === undefined) {
    throw new InvalidArgumentError(
      `no matching manifest for ${formatPlatform(w)} in the manifest list entries`,
    );
  }
  return chosen;
}

/**
 * Chain ids of a layer stack (OCI image spec): chain(0) = diff(0);
 * chain(n) = sha256(chain(n-1) + " " + diff(n)).
 */
export function computeChainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    out.push(out.length === 0 ? d : sha256Digest(`${out[out.length - 1]} ${d}`));
  }
  return out;
}

/** Serializes a document to canonical-enough JSON bytes for pushing/storing. */
export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}
