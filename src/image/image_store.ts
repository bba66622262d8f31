/**
 * Image metadata store.
 *
 * ```
 * <root>/images/refs/<urlencoded full ref>    {"imageId", "manifestDigest"}   name → image
 * <root>/images/meta/<config hex>.json        ImageRecord                     image facts
 * ```
 * One file per ref and per image, each written atomically, so concurrent processes never lose
 * each other's updates. The image id is the config digest (as docker). Records are written last
 * in a pull, so an image exists only once all its blobs and layers are committed.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { atomicWriteJsonSync, fsyncDirSync } from "../util/atomic_write.ts";
import { familiar, formatReference, parseReference, type Reference } from "./reference.ts";

const layerRecordSchema = z.object({
  digest: z.string(),
  mediaType: z.string(),
  size: z.number(),
  diffId: z.string(),
  chainId: z.string(),
});
/** One layer of an image: blob, uncompressed digest and chain id. */
export type LayerRecord = z.infer<typeof layerRecordSchema>;

const imageRecordSchema = z.object({
  id: z.string(),
  manifestDigest: z.string(),
  manifestMediaType: z.string(),
  /** Blobs the image keeps alive besides config and layers (manifest, index). */
  manifestBlobs: z.array(z.string()),
  layers: z.array(layerRecordSchema),
  created: z.string().optional(),
  /** When this engine stored the image (RFC 3339). */
  stored: z.string(),
  /** Sum of compressed layer sizes (what docker calls Size for a pulled image). */
  size: z.number(),
  os: z.string(),
  architecture: z.string(),
  variant: z.string().optional(),
}).passthrough();
/** Facts about one stored image. */
export type ImageRecord = z.infer<typeof imageRecordSchema>;

const refRecordSchema = z.object({
  imageId: z.string(),
  manifestDigest: z.string().optional(),
});
/** What a name points to. */
export type RefRecord = z.infer<typeof refRecordSchema>;

/** A ref and where it points. */
export interface RefEntry extends RefRecord {
  /** Full name, `docker.io/library/busybox:latest` or `…/busybox@sha256:…`. */
  name: string;
  ref: Reference;
}

/** Stores refs and image records under `<root>/images`. */
export class ImageStore {
  readonly #refsDir: string;
  readonly #metaDir: string;

  constructor(paths: Paths) {
    this.#refsDir = path.join(paths.imagesDir, "refs");
    this.#metaDir = path.join(paths.imagesDir, "meta");
  }

  #metaFile(id: string): string {
    if (!/^sha256:[a-f0-9]{64}$/.test(id)) {
      throw new InvalidArgumentError(`Invalid image id "${id}"`);
    }
    return path.join(this.#metaDir, `${id.slice(7)}.json`);
  }

  #refFile(name: string): string {
    return path.join(this.#refsDir, encodeURIComponent(name));
  }

  /** Writes (replaces) an image record. */
  putImage(rec: ImageRecord): void {
    fs.mkdirSync(this.#metaDir, { recursive: true });
    atomicWriteJsonSync(this.#metaFile(rec.id), imageRecordSchema.parse(rec));
  }

  /** An image record by full id, or undefined. */
  getImage(id: string): ImageRecord | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.#metaFile(id), "utf8");
    } catch {
      return undefined;
    }
    return imageRecordSchema.parse(JSON.parse(text));
  }

  /** Every image record. */
  listImages(): ImageRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.#metaDir);
    } catch {
      return [];
    }
    const out: ImageRecord[] = [];
    for (const n of names) {
      if (!/^[a-f0-9]{64}\.json$/.test(n)) continue;
      const rec = this.getImage(`sha256:${n.slice(0, 64)}`);
      if (rec) out.push(rec);
    }
    return out;
  }

  /** Deletes an image record (refs are untouched). */
  deleteImage(id: string): void {
    fs.rmSync(this.#metaFile(id), { force: true });
    try {
      fsyncDirSync(this.#metaDir);
    } catch { /* dir may be gone */ }
  }

  /** Points a name (tag or digest ref) at an image. */
  setRef(ref: Reference, rec: RefRecord): void {
    fs.mkdirSync(this.#refsDir, { recursive: true });
    atomicWriteJsonSync(this.#refFile(formatReference(ref)), refRecordSchema.parse(rec));
  }

  /** What a name points to, or undefined. */
  getRef(ref: Reference): RefRecord | undefined {
    try {
      return refRecordSchema.parse(
        JSON.parse(fs.readFileSync(this.#refFile(formatReference(ref)), "utf8")),
      );
    } catch {
      return undefined;
    }
  }

  /** Removes a name. Returns whether it existed. */
  deleteRef(ref: Reference): boolean {
    const file = this.#refFile(formatReference(ref));
    if (!fs.existsSync(file)) return false;
    fs.rmSync(file, { force: true });
    fsyncDirSync(this.#refsDir);
    return true;
  }

  /** Every ref. */
  listRefs(): RefEntry[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.#refsDir);
    } catch {
      return [];
    }
    const out: RefEntry[] = [];
    for (const n of names) {
      if (n.startsWith(".tmp-")) continue;
      const name = decodeURIComponent(n);
      try {
        const ref = parseReference(name, { defaultTag: false });
        const rec = refRecordSchema.parse(
          JSON.parse(fs.readFileSync(path.join(this.#refsDir, n), "utf8")),
        );
        out.push({ name, ref, ...rec });
      } catch { /* a ref being replaced or a foreign file: skip */ }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Refs pointing at an image. */
  refsOf(id: string): RefEntry[] {
    return this.listRefs().filter((r) => r.imageId === id);
  }

  /**
   * Resolves what a user typed (`busybox`, `busybox:1`, `name@sha256:…`, a full or short image
   * id, `sha256:<id>`) to an image record.
   *
   * @throws {NotFoundError} `No such image: <input>`.
   */
  resolve(input: string): { image: ImageRecord; ref?: Reference } {
    const idMatch = /^(?:sha256:)?([a-f0-9]{4,64})$/.exec(input);
    if (idMatch) {
      const prefix = idMatch[1];
      if (prefix.length === 64) {
        const img = this.getImage(`sha256:${prefix}`);
        if (img) return { image: img };
      } else {
        const hits = this.listImages().filter((i) => i.id.slice(7).startsWith(prefix));
        if (hits.length === 1) return { image: hits[0] };
        if (hits.length > 1) {
          throw new ConflictError(`Image id prefix "${prefix}" is ambiguous`);
        }
      }
    }
    let ref: Reference;
    try {
      ref = parseReference(input);
    } catch {
      throw new NotFoundError(`No such image: ${input}`);
    }
    const r = this.getRef(ref);
    const img = r ? this.getImage(r.imageId) : undefined;
    if (!img) throw new NotFoundError(`No such image: ${familiar(ref)}`);
    return { image: img, ref };
  }
}
