/**
 * The image side of the engine: pull, push, list, inspect, tag, remove (with garbage
 * collection of blobs and layers nothing else references), save, load, import, login/logout
 * and the lookup `run` needs. Composes the registry client, content store, image store and the
 * layer store on one {@link Paths} root.
 *
 * @module
 */
import * as fs from "node:fs";
import {
  ConflictError,
  InvalidArgumentError,
  InvalidStateError,
  NotFoundError,
} from "../errors.ts";
import type { Paths } from "../paths.ts";
import { AuthConfig, type Credentials } from "./auth_config.ts";
import { ContentStore } from "./content_store.ts";
import { type ImageRecord, ImageStore } from "./image_store.ts";
import { importImage, type ImportOptions } from "./import.ts";
import type { LayerUnpacker } from "./layers.ts";
import { loadArchive, type LoadOptions } from "./load.ts";
import { type ContainerConfig, parseImageConfig } from "./manifest.ts";
import type { ProgressHandler } from "./progress.ts";
import { pull, type PullOptions, type PullResult } from "./pull.ts";
import { push, type PushResult } from "./push.ts";
import {
  DEFAULT_DOMAIN,
  familiar,
  familiarName,
  isValidTag,
  parseReference,
  type Reference,
} from "./reference.ts";
import { loadInsecureRegistries, RegistryClient } from "./registry_client.ts";
import { saveStream, saveToFile } from "./save.ts";

/** One row of `docker images` (`GET /images/json`). */
export interface ImageSummaryRecord {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** Unix seconds. */
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize: number;
  Labels: Record<string, string> | null;
  Containers: number;
}

/** `docker image inspect` output for one image. */
export interface ImageInspectRecord {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  DockerVersion: string;
  Author: string;
  Config: Record<string, unknown>;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Name: string; Data: Record<string, string> | null };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  [key: string]: unknown;
}

/** One line of `docker rmi` output. */
export type RemoveReport = { Untagged: string } | { Deleted: string };

/** Options of {@link ImageService.remove}. */
export interface RemoveOptions {
  force?: boolean;
  /** Keep untagged parents (accepted for compatibility; images here have no parents). */
  noPrune?: boolean;
  /**
   * Whether a container uses the image: return the container id (or `true`) when it does. The
   * engine passes this; without it no image counts as used.
   */
  inUse?: (imageId: string) => string | boolean | undefined;
}

/** What `run` needs from an image. */
export interface RunImage {
  imageId: string;
  /** The image config's `config` object (Cmd, Entrypoint, Env, WorkingDir, User, …). */
  config: ContainerConfig;
  /** Unpacked layer directories, lowest first (reverse for overlay's lowerdir order). */
  layerDiffDirs: string[];
  /** The reference that was resolved, familiar form, when given by name. */
  name?: string;
}

/** Options of {@link ImageService}. */
export interface ImageServiceOptions {
  /** Credentials file; default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. */
  authConfigPath?: string;
  /** Extra insecure registries on top of `<root>/registries.json` and the env. */
  insecureRegistries?: string[];
  /** Registry client retries (tests lower it). */
  retries?: number;
  backoffMs?: number;
}

const shortHex = (id: string): string => id.replace(/^sha256:/, "").slice(0, 12);

function isIdLike(input: string): boolean {
  return /^(?:sha256:)?[a-f0-9]{4,64}$/.test(input);
}

/** The image service the engine exposes. */
export class ImageService {
  readonly paths: Paths;
  readonly content: ContentStore;
  readonly images: ImageStore;
  readonly layers: LayerUnpacker;
  readonly auth: AuthConfig;
  readonly client: RegistryClient;

  constructor(paths: Paths, layers: LayerUnpacker, options: ImageServiceOptions = {}) {
    this.paths = paths;
    this.layers = layers;
    this.content = new ContentStore(paths);
    this.images = new ImageStore(paths);
    this.auth = new AuthConfig(options.authConfigPath);
    this.client = new RegistryClient({
      credentials: (host) => this.#credentialsFor(host),
      insecureRegistries: [
        ...loadInsecureRegistries(paths.root),
        ...(options.insecureRegistries ?? []),
      ],
      retries: options.retries,
      backoffMs: options.backoffMs,
    });
  }

  #credentialsFor(host: string): Credentials | undefined {
    try {
      return this.auth.get(host);
    } catch {
      return undefined;
    }
  }

  /** Pulls an image (see {@link pull}). */
  pull(ref: string, options: PullOptions = {}): Promise<PullResult> {
    return pull(
      {
        client: this.client,
        content: this.content,
        images: this.images,
        layers: this.layers,
        storeKey: this.paths.root,
      },
      ref,
      options,
    );
  }

  /** Pushes a local image to its registry. */
  push(
    ref: string,
    options: { signal?: AbortSignal; onProgress?: ProgressHandler } = {},
  ): Promise<PushResult> {
    return push({ client: this.client, content: this.content, images: this.images }, ref, options);
  }

  /** Docker's image Size: the unpacked layers' bytes (the compressed sum when unknown). */
  #unpackedSize(image: ImageRecord): number {
    if (!this.layers.meta) return image.size;
    let total = 0;
    for (const l of image.layers) {
      try {
        total += this.layers.meta(l.chainId).size;
      } catch {
        return image.size;
      }
    }
    return total;
  }

  #config(image: ImageRecord): ReturnType<typeof parseImageConfig> {
    return parseImageConfig(this.content.readBytes(image.id));
  }

  #names(id: string): { tags: string[]; digests: string[]; lastTag?: Reference } {
    const tags: string[] = [];
    const digests: string[] = [];
    for (const r of this.images.refsOf(id)) {
      if (r.ref.tag !== undefined) tags.push(familiar(r.ref));
      else if (r.ref.digest !== undefined) digests.push(`${familiarName(r.ref)}@${r.ref.digest}`);
    }
    return { tags, digests };
  }

  /** Lists images (`docker images`), newest first. */
  list(_options: { all?: boolean } = {}): ImageSummaryRecord[] {
    const out: ImageSummaryRecord[] = [];
    for (const img of this.images.listImages()) {
      let labels: Record<string, string> | null = null;
      let created = 0;
      try {
        const cfg = this.#config(img);
        labels = cfg.config?.Labels ?? null;
        created = cfg.created ? Math.floor(Date.parse(cfg.created) / 1000) : 0;
      } catch { /* config blob lost: still list the image */ }
      const { tags, digests } = this.#names(img.id);
      out.push({
        Id: img.id,
        ParentId: "",
        RepoTags: tags,
        RepoDigests: digests,
        Created: Number.isFinite(created) ? created : 0,
        Size: this.#unpackedSize(img),
        SharedSize: -1,
        VirtualSize: this.#unpackedSize(img),
        Labels: labels,
        Containers: -1,
      });
    }
    return out.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  /** `docker image inspect` for a name or id. */
  inspect(input: string): ImageInspectRecord {
    const { image } = this.images.resolve(input);
    const cfg = this.#config(image);
    const { tags, digests } = this.#names(image.id);
    const c = cfg.config ?? {};
    const config: Record<string, unknown> = {
      Hostname: "",
      Domainname: "",
      User: c.User ?? "",
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ...(c.ExposedPorts ? { ExposedPorts: c.ExposedPorts } : {}),
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: c.Env ?? null,
      Cmd: c.Cmd ?? null,
      ...(c.Healthcheck ? { Healthcheck: c.Healthcheck } : {}),
      Image: "",
      Volumes: c.Volumes ?? null,
      WorkingDir: c.WorkingDir ?? "",
      Entrypoint: c.Entrypoint ?? null,
      OnBuild: c.OnBuild ?? null,
      Labels: c.Labels ?? null,
      ...(c.StopSignal ? { StopSignal: c.StopSignal } : {}),
      ...(c.Shell ? { Shell: c.Shell } : {}),
    };
    const dirs = image.layers.map((l) => this.layers.diffDir(l.chainId));
    const history = (cfg.history ?? []) as { comment?: string }[];
    return {
      Id: image.id,
      RepoTags: tags,
      RepoDigests: digests,
      Parent: "",
      Comment: history.at(-1)?.comment ?? "",
      Created: cfg.created ?? "0001-01-01T00:00:00Z",
      DockerVersion: typeof cfg.docker_version === "string" ? cfg.docker_version : "",
      Author: cfg.author ?? "",
      Config: config,
      Architecture: cfg.architecture,
      ...(cfg.variant ? { Variant: cfg.variant } : {}),
      Os: cfg.os,
      Size: this.#unpackedSize(image),
      VirtualSize: this.#unpackedSize(image),
      GraphDriver: {
        Name: "overlay2",
        Data: dirs.length > 0
          ? {
            LowerDir: dirs.slice(0, -1).reverse().join(":"),
            UpperDir: dirs[dirs.length - 1],
          }
          : null,
      },
      RootFS: { Type: "layers", Layers: cfg.rootfs.diff_ids },
      Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
    };
  }

  /** Adds `target` (`repo[:tag]`) as a name of `source`. */
  tag(source: string, target: string): void {
    const { image } = this.images.resolve(source);
    const ref = parseReference(target);
    if (ref.digest !== undefined) {
      throw new InvalidArgumentError(`refusing to create a tag with a digest reference`);
    }
    if (ref.tag !== undefined && !isValidTag(ref.tag)) {
      throw new InvalidArgumentError("invalid reference format");
    }
    this.images.setRef(ref, { imageId: image.id, manifestDigest: image.manifestDigest });
  }

  /**
   * Removes an image by name or id with docker's rules: a name is untagged, and the image is
   * deleted once no name points at it; an id with several names or an image used by a
   * container needs `force`. Deleting collects the image's blobs and layers no other image uses.
   */
  async remove(input: string, options: RemoveOptions = {}): Promise<RemoveReport[]> {
    const { image, ref } = this.images.resolve(input);
    const reports: RemoveReport[] = [];
    const used = options.inUse?.(image.id);
    const usedBy = typeof used === "string" ? used : "";
    const refs = this.images.refsOf(image.id);
    const tagRefs = refs.filter((r) => r.ref.tag !== undefined);
    const byName = ref !== undefined && !isIdLike(input);

    if (byName) {
      const target = refs.find((r) =>
        r.name ===
          `${ref.domain}/${ref.path}${ref.tag ? `:${ref.tag}` : ""}${
            ref.digest ? `@${ref.digest}` : ""
          }`
      );
      const lastTag = tagRefs.length <= 1;
      if (used && !options.force && lastTag) {
        throw new ConflictError(
          `conflict: unable to remove repository reference "${input}" (must force) - container ${
            shortHex(usedBy)
          } is using its referenced image ${shortHex(image.id)}`,
        );
      }
      if (target) {
        this.images.deleteRef(target.ref);
        reports.push({ Untagged: familiar(target.ref) });
      }
      const remainingTags = this.images.refsOf(image.id).filter((r) => r.ref.tag !== undefined);
      if (remainingTags.length > 0) {
        // Digest refs of this repository go once no tag of the repository is left (as docker).
        if (
          ref.tag !== undefined &&
          !remainingTags.some((r) => familiarName(r.ref) === familiarName(ref))
        ) {
          for (const r of this.images.refsOf(image.id)) {
            if (r.ref.digest !== undefined && familiarName(r.ref) === familiarName(ref)) {
              this.images.deleteRef(r.ref);
              reports.push({ Untagged: familiar(r.ref) });
            }
          }
        }
        return reports;
      }
    } else {
      if (!options.force && tagRefs.length > 1) {
        throw new ConflictError(
          `conflict: unable to delete ${
            shortHex(image.id)
          } (must be forced) - image is referenced in multiple repositories`,
        );
      }
      if (!options.force && used) {
        throw new ConflictError(
          `conflict: unable to delete ${
            shortHex(image.id)
          } (must be forced) - image is being used by stopped container ${shortHex(usedBy)}`,
        );
      }
    }
    for (const r of this.images.refsOf(image.id)) {
      this.images.deleteRef(r.ref);
      reports.push({ Untagged: familiar(r.ref) });
    }
    if (used) return reports; // forced while in use: untag only, the image stays (dangling)
    this.images.deleteImage(image.id);
    reports.push({ Deleted: image.id });
    for (const chainId of await this.#collect(image)) reports.push({ Deleted: chainId });
    return reports;
  }

  /** Deletes a removed image's blobs and layers that no remaining image references. */
  async #collect(removed: ImageRecord): Promise<string[]> {
    const keepBlobs = new Set<string>();
    const keepLayers = new Set<string>();
    for (const img of this.images.listImages()) {
      keepBlobs.add(img.id);
      for (const b of img.manifestBlobs) keepBlobs.add(b);
      for (const l of img.layers) {
        keepBlobs.add(l.digest);
        keepLayers.add(l.chainId);
      }
    }
    for (const r of this.images.listRefs()) if (r.manifestDigest) keepBlobs.add(r.manifestDigest);
    for (
      const d of [
        removed.id,
        ...removed.manifestBlobs,
        ...removed.layers.map((l) => l.digest),
      ]
    ) {
      if (!keepBlobs.has(d)) this.content.delete(d);
    }
    const deleted: string[] = [];
    for (const l of [...removed.layers].reverse()) {
      if (keepLayers.has(l.chainId)) continue;
      try {
        await this.layers.remove(l.chainId);
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
        continue;
      }
      deleted.push(l.chainId);
    }
    return deleted;
  }

  /** A docker-archive tar of the images as a stream. */
  saveStream(refs: string[]): ReadableStream<Uint8Array> {
    return saveStream({ content: this.content, images: this.images }, refs);
  }

  /** Writes a docker-archive to a file path (atomically) or a stream. */
  async save(refs: string[], output: string | WritableStream<Uint8Array>): Promise<void> {
    if (typeof output === "string") {
      await saveToFile({ content: this.content, images: this.images }, refs, output);
      return;
    }
    await this.saveStream(refs).pipeTo(output);
  }

  /** Loads a docker-archive or OCI-layout tar from a path or stream. */
  load(input: string | ReadableStream<Uint8Array>, options: LoadOptions = {}): Promise<string[]> {
    const stream = typeof input === "string" ? this.#openFile(input) : input;
    return loadArchive(
      { content: this.content, images: this.images, layers: this.layers },
      stream,
      options,
    );
  }

  /** Imports a rootfs tarball (path, `-` is not handled here, or stream) as a one-layer image. */
  import(input: string | ReadableStream<Uint8Array>, options: ImportOptions = {}): Promise<string> {
    const stream = typeof input === "string" ? this.#openFile(input) : input;
    return importImage(
      { content: this.content, images: this.images, layers: this.layers },
      stream,
      options,
    );
  }

  #openFile(file: string): ReadableStream<Uint8Array> {
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch (err) {
      // docker's text, without node's "ENOENT: …, access '…'" repeating it after a colon.
      const code = (err as { code?: string }).code;
      if (code === "ENOENT") throw new NotFoundError(`open ${file}: no such file or directory`);
      if (code === "EACCES") throw new InvalidArgumentError(`open ${file}: permission denied`);
      throw err;
    }
    return ReadableStream.from((async function* () {
      using f = await Deno.open(file);
      for await (const chunk of f.readable) yield chunk;
    })());
  }

  /** Verifies credentials against the registry's `/v2/` and stores them. */
  async login(options: { server?: string; username: string; password: string }): Promise<void> {
    const host = normalizeServer(options.server);
    const creds = { username: options.username, password: options.password };
    await this.client.ping(host, creds);
    this.auth.set(host === "registry-1.docker.io" ? DEFAULT_DOMAIN : host, creds);
  }

  /** Forgets credentials for a registry. Returns whether any were stored. */
  logout(server?: string): boolean {
    return this.auth.remove(normalizeServer(server));
  }

  /**
   * Resolves an image for `run`: id, runtime config and unpacked layer directories.
   *
   * @throws {NotFoundError} `No such image: …` (the CLI's cue to pull).
   */
  async resolveForRun(input: string): Promise<RunImage> {
    const { image, ref } = this.images.resolve(input);
    const cfg = this.#config(image);
    const dirs: string[] = [];
    for (const l of image.layers) {
      if (!(await this.layers.has(l.chainId))) {
        throw new InvalidStateError(
          `Layer "${l.chainId}" of image "${
            shortHex(image.id)
          }" is missing; pull or load the image again`,
        );
      }
      dirs.push(this.layers.diffDir(l.chainId));
    }
    return {
      imageId: image.id,
      config: cfg.config ?? {},
      layerDiffDirs: dirs,
      ...(ref ? { name: familiar(ref) } : {}),
    };
  }
}

function normalizeServer(server: string | undefined): string {
  if (server === undefined || server === "") return "registry-1.docker.io";
  const host = server.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  if (host === "docker.io" || host === "index.docker.io") return "registry-1.docker.io";
  return host;
}
