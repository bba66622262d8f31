/**
 * Test helpers for image tests: layers built in memory with the project's tar writer, configs,
 * an ImageService on a temp root with the real layer store, and pushing test images.
 */
import * as path from "node:path";
import * as zlib from "node:zlib";
import { createHash } from "node:crypto";
import { Paths } from "../../src/paths.ts";
import { TarWriter, type TarWriterEntry } from "../../src/image/tar_writer.ts";
import { ImageService, type ImageServiceOptions } from "../../src/image/image_service.ts";
import { LayerStore } from "../../src/storage/layer_store.ts";
import { HostLayerFs } from "../../src/runtime/host_layer_fs.ts";
import { MediaType } from "../../src/image/manifest.ts";
import { pushArtifacts, type PushedManifest } from "../../src/image/push.ts";
import { RegistryClient } from "../../src/image/registry_client.ts";

/** sha256 as `sha256:<hex>`. */
export function sha(data: string | Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** A layer built in memory. */
export interface TestLayer {
  tar: Uint8Array;
  gz: Uint8Array;
  diffId: string;
  digest: string;
}

/** Builds a gzip layer from files (`name → content`) or full tar entries. */
export function makeLayer(files: Record<string, string> | TarWriterEntry[]): TestLayer {
  const w = new TarWriter();
  if (Array.isArray(files)) { for (const e of files) w.add(e); }
  else {for (const [name, data] of Object.entries(files)) {
      w.add({ name, data, mode: 0o644, mtime: 1700000000 });
    }}
  const tar = w.finish();
  const gz = new Uint8Array(zlib.gzipSync(tar));
  return { tar, gz, diffId: sha(tar), digest: sha(gz) };
}

/** An image config for layers. */
export function makeConfig(
  layers: TestLayer[],
  opts: { architecture?: string; os?: string; variant?: string; cmd?: string[]; label?: string } =
    {},
): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({
    architecture: opts.architecture ?? "amd64",
    os: opts.os ?? "linux",
    ...(opts.variant ? { variant: opts.variant } : {}),
    created: "2024-01-02T03:04:05Z",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: opts.cmd ?? ["sh"],
      ...(opts.label ? { Labels: { test: opts.label } } : {}),
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: "2024-01-02T03:04:05Z", created_by: "test" })),
  }));
}

/** A client for pushing test images (plain http to 127.0.0.1). */
export function testClient(creds?: { username: string; password: string }): RegistryClient {
  return new RegistryClient({
    credentials: creds ? () => creds : undefined,
    retries: 1,
    backoffMs: 10,
  });
}

/** Pushes a test image made of layers; returns the manifest pushed. */
export function pushImage(
  client: RegistryClient,
  ref: string,
  layers: TestLayer[],
  opts: {
    format?: "docker" | "oci";
    architecture?: string;
    variant?: string;
    tag?: string | null;
    label?: string;
  } = {},
): Promise<PushedManifest> {
  const oci = opts.format === "oci";
  return pushArtifacts(client, ref, {
    config: makeConfig(layers, opts),
    layers: layers.map((l) => ({
      bytes: l.gz,
      mediaType: oci ? MediaType.OciLayerGzip : MediaType.DockerLayerGzip,
    })),
    format: opts.format,
    tag: opts.tag,
  });
}

/** A temp dir with an ImageService (real layer store) on it; removed by `cleanup`. */
export interface TestEnv {
  dir: string;
  paths: Paths;
  svc: ImageService;
  layers: LayerStore;
  /** Another service on the same root (simulates a second engine process sharing the store). */
  another(): ImageService;
  cleanup(): Promise<void>;
}

/** Creates a {@link TestEnv}. */
export async function testEnv(options: ImageServiceOptions = {}): Promise<TestEnv> {
  const dir = await Deno.makeTempDir({ prefix: "docker-ts-image-" });
  const paths = new Paths(path.join(dir, "root"), path.join(dir, "run"));
  const make = () => {
    const layers = new LayerStore(paths, new HostLayerFs());
    return {
      layers,
      svc: new ImageService(paths, layers, {
        authConfigPath: path.join(dir, "docker", "config.json"),
        retries: 1,
        backoffMs: 10,
        ...options,
      }),
    };
  };
  const first = make();
  return {
    dir,
    paths,
    svc: first.svc,
    layers: first.layers,
    another: () => make().svc,
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Files (recursive, relative) under a directory. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of Deno.readDirSync(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory) walk(path.join(d, e.name), r);
    }
  };
  try {
    walk(dir, "");
  } catch { /* missing */ }
  return out.sort();
}
