/**
 * Test access to the fixture images built by `scripts/build_fixtures.ts`.
 *
 * ```ts
 * const fx = await ensureFixtures();
 * const busybox = fx.catalog.images.busybox;
 * const { host, stop } = await startRegistry();
 * const pushed = await pushFixture(host, "multilayer", { form: "oci" });
 * // pull pushed.ref and compare with busybox.files …
 * ```
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { buildFixtures, DEFAULT_FIXTURES_DIR } from "../../scripts/build_fixtures.ts";
import type {
  Catalog,
  CatalogImage,
  CatalogIndex,
  CatalogManifest,
} from "../../scripts/fixtures/catalog.ts";
import { RegistryClient } from "../../src/image/registry_client.ts";
import { parseReference, type Reference } from "../../src/image/reference.ts";

export type {
  Catalog,
  CatalogFile,
  CatalogImage,
  CatalogIndex,
  CatalogLayer,
  CatalogManifest,
} from "../../scripts/fixtures/catalog.ts";

/** The fixtures on disk. */
export interface Fixtures {
  /** Absolute `.fixtures` directory. */
  dir: string;
  /** Absolute OCI image-layout directory holding every manifest and index. */
  layout: string;
  /** The parsed catalog. */
  catalog: Catalog;
  /** Absolute path of an image's `docker save` archive. */
  dockerArchive(name: string): string;
  /** Absolute path of an image's OCI-layout archive. */
  ociArchive(name: string): string;
  /** Absolute path of a blob in the layout. */
  blob(digest: string): string;
  /** An image's catalog record; throws when unknown. */
  image(name: string): CatalogImage;
}

let pending: Promise<Fixtures> | undefined;

/**
 * Builds the fixtures if missing or stale, once per process. Concurrent test processes are safe:
 * the builder checks and builds under an exclusive file lock and swaps the tree in by rename.
 */
export function ensureFixtures(): Promise<Fixtures> {
  pending ??= buildFixtures().then(({ dir, catalog }) => fixturesAt(dir, catalog)).catch(
    (err) => {
      pending = undefined;
      throw err;
    },
  );
  return pending;
}

/** Wraps an existing fixtures directory (default `.fixtures`) without building. */
export function fixturesAt(dir: string = DEFAULT_FIXTURES_DIR, catalog?: Catalog): Fixtures {
  const cat = catalog ??
    JSON.parse(fs.readFileSync(path.join(dir, "catalog.json"), "utf8")) as Catalog;
  const layout = path.join(dir, cat.layout);
  const image = (name: string): CatalogImage => {
    const img = cat.images[name];
    if (!img) throw new Error(`No fixture image "${name}" (have: ${Object.keys(cat.images)})`);
    return img;
  };
  return {
    dir,
    layout,
    catalog: cat,
    dockerArchive: (name) => path.join(dir, image(name).dockerArchive),
    ociArchive: (name) => path.join(dir, image(name).ociArchive),
    blob: (digest) => path.join(layout, "blobs", "sha256", digest.replace(/^sha256:/, "")),
    image,
  };
}

/** Which encoding of a fixture image to push. */
export type FixtureForm = "schema2" | "oci" | "list" | "index";

/** Options of {@link pushFixture}. */
export interface PushOptions {
  /** Encoding to push; default `index` (an OCI index, as most real images are). */
  form?: FixtureForm;
  /** Repository in the registry; default the image name. */
  repo?: string;
  /** Tag; default the form's name. */
  tag?: string;
  /** Registry client to use (e.g. one with credentials); default an anonymous one. */
  client?: RegistryClient;
}

/** What {@link pushFixture} pushed. */
export interface PushedFixture {
  /** Full reference to pull, e.g. `127.0.0.1:5000/busybox:index`. */
  ref: string;
  /** Digest of the pushed top-level manifest or index. */
  digest: string;
  /** Media type of the pushed top-level document. */
  mediaType: string;
  /** The catalog record of the pushed document. */
  pushed: CatalogManifest | CatalogIndex;
}

function topLevel(img: CatalogImage, form: FixtureForm): CatalogManifest | CatalogIndex {
  return form === "schema2"
    ? img.schema2
    : form === "oci"
    ? img.oci
    : form === "list"
    ? img.list
    : img.index;
}

async function pushManifest(
  client: RegistryClient,
  fx: Fixtures,
  ref: Reference,
  m: CatalogManifest,
  reference: string,
): Promise<void> {
  const blobs = [{ digest: m.configDigest, size: m.configSize }, ...m.layers];
  // Layers are a few MiB at most: upload from memory, a few at a time.
  await Promise.all(blobs.map(async (b) => {
    const data = await Deno.readFile(fx.blob(b.digest));
    await client.pushBlob(ref, b.digest, data);
  }));
  await client.putManifest(ref, reference, await Deno.readFile(fx.blob(m.digest)), m.mediaType);
}

/**
 * Pushes one fixture image to a running registry (`host` is `127.0.0.1:<port>`) with docker-ts's
 * own registry client. For `list`/`index` the child manifests go first, by digest, then the
 * index under the tag — the order a registry needs to accept the index.
 */
export async function pushFixture(
  registryHost: string,
  name: string,
  options: PushOptions = {},
): Promise<PushedFixture> {
  const fx = await ensureFixtures();
  const img = fx.image(name);
  const form = options.form ?? "index";
  const tag = options.tag ?? form;
  const refText = `${registryHost}/${options.repo ?? name}:${tag}`;
  const ref = parseReference(refText);
  const client = options.client ?? new RegistryClient({ retries: 1, backoffMs: 50 });
  const top = topLevel(img, form);
  if ("manifests" in top) {
    for (const child of top.manifests) await pushManifest(client, fx, ref, child, child.digest);
    await client.putManifest(ref, tag, await Deno.readFile(fx.blob(top.digest)), top.mediaType);
  } else {
    await pushManifest(client, fx, ref, top, tag);
  }
  return { ref: refText, digest: top.digest, mediaType: top.mediaType, pushed: top };
}

/**
 * Pushes every form of every fixture image: `<host>/<name>:{schema2,oci,list,index}` and
 * `<host>/<name>:latest` (the index). Returns the references by `<name>:<tag>`.
 */
export async function pushAllFixtures(
  registryHost: string,
): Promise<Record<string, PushedFixture>> {
  const fx = await ensureFixtures();
  const out: Record<string, PushedFixture> = {};
  for (const name of Object.keys(fx.catalog.images)) {
    for (const form of ["schema2", "oci", "list", "index"] as const) {
      out[`${name}:${form}`] = await pushFixture(registryHost, name, { form });
    }
    out[`${name}:latest`] = await pushFixture(registryHost, name, { form: "index", tag: "latest" });
  }
  return out;
}
