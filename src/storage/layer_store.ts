/**
 * Unpacked layers, keyed by chain id: `<root>/layers/<chainIdHex>/{diff,meta.json}`. Each
 * `diff` directory is an overlay lowerdir. A layer is unpacked into `<root>/tmp`, its diffID
 * verified, its `meta.json` written, and the whole directory renamed into place; so a layer
 * directory that exists is complete. Concurrent unpacks of one chain id share a promise inside
 * a process; across processes the rename race decides and the loser discards its copy.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import { z } from "zod";
import { InternalError, InvalidArgumentError, NotFoundError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { atomicWriteJsonSync, fsyncDirSync } from "../util/atomic_write.ts";
import { applyLayer, isLayerApplier, type LayerApplier } from "./layer_apply.ts";
import type { LayerFs } from "./layer_fs.ts";
import { ownerTag, sweepDeadOwners } from "./stale_temp.ts";

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** The contents of a layer's `meta.json`. */
export interface LayerMeta {
  /** `sha256:<hex>` chain id (the directory's name). */
  chainId: string;
  /** Chain id of the layer below, absent for a base layer. */
  parentChainId?: string;
  /** `sha256:<hex>` of the uncompressed tar. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** Media type the layer was unpacked from. */
  mediaType: string;
  /** When the unpack finished (ISO 8601). */
  unpackedAt: string;
}

const LayerMetaSchema = z.object({
  chainId: z.string().regex(DIGEST),
  parentChainId: z.string().regex(DIGEST).optional(),
  diffId: z.string().regex(DIGEST),
  size: z.number().int().nonnegative(),
  mediaType: z.string(),
  unpackedAt: z.string(),
});

/** Arguments of {@link LayerStore.unpack}. */
export interface UnpackOptions {
  /** Chain id of this layer (`sha256:<hex>`). */
  chainId: string;
  /** Chain id of the layer below, for a non-base layer. */
  parentChainId?: string;
  /** Expected diffID; the unpack fails when the uncompressed stream hashes differently. */
  diffId: string;
  /** Layer media type. */
  mediaType: string;
  /** Opens the (compressed) layer stream; called at most once, only if the layer is missing. */
  open: () =>
    | ReadableStream<Uint8Array>
    | AsyncIterable<Uint8Array>
    | Promise<ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>>;
  /** Cancels this caller's unpack. */
  signal?: AbortSignal;
  /** Running count of uncompressed bytes. */
  onProgress?: (uncompressedBytes: number) => void;
}

/**
 * chain ids of a stack of layers, bottom first: chainId(0) = diffId(0),
 * chainId(n) = sha256(chainId(n-1) + " " + diffId(n)) as `sha256:<hex>`.
 */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    if (!DIGEST.test(diffId)) throw new InvalidArgumentError(`Invalid diff id "${diffId}"`);
    const prev = out[out.length - 1];
    out.push(
      prev === undefined
        ? diffId
        : `sha256:${createHash("sha256").update(`${prev} ${diffId}`).digest("hex")}`,
    );
  }
  return out;
}

function hexOf(chainId: string): string {
  if (!DIGEST.test(chainId)) throw new InvalidArgumentError(`Invalid chain id "${chainId}"`);
  return chainId.slice(7);
}

/** Store of unpacked layers. */
export class LayerStore {
  readonly #paths: Paths;
  readonly #fs: LayerFs;
  readonly #applier: LayerApplier | undefined;
  readonly #inflight = new Map<string, Promise<void>>();
  #swept = false;

  /**
   * `layerFs` performs the extraction syscalls (the engine passes `HostLayerFs`). Layers are
   * applied through `applier` when given, else through `layerFs` itself when it is also a
   * {@link LayerApplier} (the host one applies each layer on its own Worker thread, so layers
   * of one image extract on several cores), else on this thread.
   */
  constructor(paths: Paths, layerFs: LayerFs, applier?: LayerApplier) {
    this.#paths = paths;
    this.#fs = layerFs;
    this.#applier = applier ?? (isLayerApplier(layerFs) ? layerFs : undefined);
  }

  /** Directory of a layer (whether or not it exists). */
  dir(chainId: string): string {
    return path.join(this.#paths.layersDir, hexOf(chainId));
  }

  /** The layer's `diff` directory, to use as an overlay lowerdir. */
  diffDir(chainId: string): string {
    return path.join(this.dir(chainId), "diff");
  }

  /** True when the layer is unpacked (its directory only appears complete). */
  has(chainId: string): boolean {
    return fs.existsSync(path.join(this.dir(chainId), "meta.json"));
  }

  /** The layer's metadata; NotFound when it is not unpacked. */
  meta(chainId: string): LayerMeta {
    const file = path.join(this.dir(chainId), "meta.json");
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new NotFoundError(`Cannot find layer "${chainId}"`, { cause: err });
    }
    const parsed = LayerMetaSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new InternalError(`Cannot read layer metadata "${file}": invalid`);
    return parsed.data;
  }

  /** Chain ids of every unpacked layer. */
  list(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.#paths.layersDir);
    } catch {
      return [];
    }
    return names
      .filter((n) => /^[a-f0-9]{64}$/.test(n))
      .map((n) => `sha256:${n}`)
      .filter((id) => this.has(id))
      .sort();
  }

  /**
   * Unpacks a layer unless it already is. Concurrent calls for one chain id share one unpack.
   * On any failure (bad data, diffID mismatch, abort) nothing is left behind.
   */
  unpack(options: UnpackOptions): Promise<void> {
    if (!DIGEST.test(options.chainId)) {
      return Promise.reject(new InvalidArgumentError(`Invalid chain id "${options.chainId}"`));
    }
    const hex = options.chainId.slice(7);
    if (!DIGEST.test(options.diffId)) {
      return Promise.reject(new InvalidArgumentError(`Invalid diff id "${options.diffId}"`));
    }
    if (options.parentChainId !== undefined && !this.has(options.parentChainId)) {
      return Promise.reject(
        new NotFoundError(`Cannot unpack layer "${options.chainId}": parent layer missing`),
      );
    }
    if (this.has(options.chainId)) return Promise.resolve();
    const running = this.#inflight.get(hex);
    if (running) return running;
    const p = this.#unpack(hex, options).finally(() => this.#inflight.delete(hex));
    this.#inflight.set(hex, p);
    return p;
  }

  /** Once per store: drop half-unpacked and half-removed layers of killed processes. */
  #sweepOnce(): void {
    if (this.#swept) return;
    this.#swept = true;
    sweepDeadOwners(this.#paths.tmpDir, ["layer-", "rm-"]);
    this.#applier?.markTopDir?.(this.#paths.tmpDir);
  }

  async #unpack(hex: string, options: UnpackOptions): Promise<void> {
    fs.mkdirSync(this.#paths.tmpDir, { recursive: true });
    fs.mkdirSync(this.#paths.layersDir, { recursive: true });
    this.#sweepOnce();
    const tmp = fs.mkdtempSync(
      path.join(this.#paths.tmpDir, `layer-${hex.slice(0, 12)}-${ownerTag()}-`),
    );
    try {
      const diff = path.join(tmp, "diff");
      fs.mkdirSync(diff, { mode: 0o755 });
      fs.chmodSync(diff, 0o755);
      const stream = await options.open();
      const applyOptions = {
        mediaType: options.mediaType,
        signal: options.signal,
        onProgress: options.onProgress,
      };
      const result = this.#applier
        ? await this.#applier.applyLayer(stream, diff, applyOptions)
        : await applyLayer(stream, diff, { ...applyOptions, fs: this.#fs });
      if (result.diffId !== options.diffId) {
        throw new InvalidArgumentError(
          `Cannot unpack layer "${options.chainId}": content hashes to "${result.diffId}", ` +
            `expected diff id "${options.diffId}"`,
        );
      }
      const meta: LayerMeta = {
        chainId: options.chainId,
        ...(options.parentChainId ? { parentChainId: options.parentChainId } : {}),
        diffId: result.diffId,
        size: result.size,
        mediaType: options.mediaType,
        unpackedAt: new Date().toISOString(),
      };
      atomicWriteJsonSync(path.join(tmp, "meta.json"), meta);
      // Data must reach the disk before the rename publishes the layer: one syncfs is far
      // cheaper than an fsync per file.
      this.#fs.syncfs(tmp);
      try {
        fs.renameSync(tmp, path.join(this.#paths.layersDir, hex));
      } catch (err) {
        const code = (err as { code?: string }).code;
        // Another process won the race: its copy is complete (rename is atomic), keep it.
        if ((code === "EEXIST" || code === "ENOTEMPTY") && this.has(options.chainId)) {
          await removeTree(tmp);
          return;
        }
        throw err;
      }
      fsyncDirSync(this.#paths.layersDir);
    } catch (err) {
      await removeTree(tmp);
      throw err;
    }
  }

  /** Removes an unpacked layer (NotFound when absent). Nothing half-removed stays visible. */
  async remove(chainId: string): Promise<void> {
    const dir = this.dir(chainId);
    if (!fs.existsSync(dir)) throw new NotFoundError(`Cannot remove layer "${chainId}": not found`);
    fs.mkdirSync(this.#paths.tmpDir, { recursive: true });
    // Rename out first so that readers never see a partly deleted layer.
    const trash = path.join(
      this.#paths.tmpDir,
      `rm-${hexOf(chainId).slice(0, 12)}-${ownerTag()}-${crypto.randomUUID().slice(0, 8)}`,
    );
    fs.renameSync(dir, trash);
    fsyncDirSync(this.#paths.layersDir);
    await removeTree(trash);
  }
}

async function removeTree(dir: string): Promise<void> {
  await fs.promises.rm(dir, { recursive: true, force: true });
}
