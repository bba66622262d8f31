/**
 * `save`: writes a docker-archive tar (what `docker save` produced before OCI archives and what
 * `docker load` / `podman load` read): `<diffid hex>/layer.tar` (uncompressed), `<hex>.json`
 * configs, `manifest.json` and `repositories`.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError, NotFoundError } from "../errors.ts";
import { decompress } from "../storage/decompress.ts";
import { fsyncDirSync } from "../util/atomic_write.ts";
import type { ContentStore } from "./content_store.ts";
import type { ImageRecord, ImageStore } from "./image_store.ts";
import { familiar, familiarName, type Reference } from "./reference.ts";
import { tarStream, type TarStreamEntry } from "./tar_writer.ts";

const UNCOMPRESSED = new Set([
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.docker.image.rootfs.diff.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.docker.image.rootfs.foreign.diff.tar",
]);

interface Selected {
  image: ImageRecord;
  tags: Reference[];
}

function select(images: ImageStore, inputs: readonly string[]): Selected[] {
  const byId = new Map<string, Selected>();
  for (const input of inputs) {
    const { image, ref } = images.resolve(input);
    let sel = byId.get(image.id);
    if (!sel) {
      sel = { image, tags: [] };
      byId.set(image.id, sel);
    }
    if (ref?.tag !== undefined) sel.tags.push(ref);
    else if (ref === undefined) {
      // Saved by id: docker keeps every tag of the image.
      for (const r of images.refsOf(image.id)) if (r.ref.tag !== undefined) sel.tags.push(r.ref);
    }
  }
  return [...byId.values()];
}

async function uncompressedSize(
  content: ContentStore,
  digest: string,
  mediaType: string,
): Promise<number> {
  let n = 0;
  for await (const chunk of decompress(content.open(digest), { mediaType })) n += chunk.byteLength;
  return n;
}

/**
 * Streams a docker-archive of the named images.
 *
 * @throws {NotFoundError} (before any byte is produced) when a name does not resolve.
 */
export function saveStream(
  ctx: { content: ContentStore; images: ImageStore },
  inputs: readonly string[],
): ReadableStream<Uint8Array> {
  if (inputs.length === 0) throw new NotFoundError("No images to save");
  const selected = select(ctx.images, inputs);
  const mtime = Math.floor(Date.now() / 1000);
  async function* entries(): AsyncGenerator<TarStreamEntry> {
    const written = new Set<string>();
    const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const { image, tags } of selected) {
      const layerPaths: string[] = [];
      for (const l of image.layers) {
        const dir = l.diffId.slice(7);
        const file = `${dir}/layer.tar`;
        layerPaths.push(file);
        if (written.has(dir)) continue;
        written.add(dir);
        yield { name: `${dir}/`, type: "dir", mode: 0o755, mtime };
        yield { name: `${dir}/VERSION`, body: "1.0", mtime };
        const raw = UNCOMPRESSED.has(l.mediaType);
        const size = raw
          ? ctx.content.size(l.digest)
          : await uncompressedSize(ctx.content, l.digest, l.mediaType);
        yield {
          name: file,
          size,
          mtime,
          body: raw
            ? ctx.content.open(l.digest)
            : decompress(ctx.content.open(l.digest), { mediaType: l.mediaType }),
        };
      }
      const configName = `${image.id.slice(7)}.json`;
      yield { name: configName, body: ctx.content.readBytes(image.id), mtime };
      const repoTags = tags.map((t) => familiar(t));
      manifest.push({
        Config: configName,
        RepoTags: repoTags.length > 0 ? repoTags : null,
        Layers: layerPaths,
      });
      for (const t of tags) {
        const top = image.layers.at(-1)?.diffId.slice(7) ?? "";
        (repositories[familiarName(t)] ??= {})[t.tag!] = top;
      }
    }
    yield { name: "manifest.json", body: JSON.stringify(manifest), mtime };
    if (Object.keys(repositories).length > 0) {
      yield { name: "repositories", body: JSON.stringify(repositories), mtime };
    }
  }
  return tarStream(entries());
}

/** Writes a docker-archive to a file atomically (temp file in the same directory, rename). */
export async function saveToFile(
  ctx: { content: ContentStore; images: ImageStore },
  inputs: readonly string[],
  file: string,
): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  // Checked first so that the message names the user's directory, not our temp file (docker's
  // wording).
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new InvalidArgumentError(
      `failed to save image: invalid output path: directory "${dir}" does not exist`,
    );
  }
  const stream = saveStream(ctx, inputs);
  const tmp = path.join(dir, `.tmp-${path.basename(file)}-${crypto.randomUUID().slice(0, 8)}`);
  const fd = fs.openSync(tmp, "wx", 0o644);
  try {
    for await (const chunk of stream) {
      let off = 0;
      while (off < chunk.byteLength) off += fs.writeSync(fd, chunk, off);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
    fsyncDirSync(dir);
  } catch (err) {
    try {
      fs.closeSync(fd);
    } catch { /* closed */ }
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
