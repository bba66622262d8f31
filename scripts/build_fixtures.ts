/**
 * Builds the test images under `.fixtures/` from what is already on the machine (Debian's
 * static busybox), never downloading anything:
 *
 * - `layout/`: one OCI image layout naming every manifest and index by ref
 *   (`busybox-schema2`, `busybox-oci`, `busybox-list`, `busybox-index`, same for `multilayer`,
 *   plus the fake other-architecture entries);
 * - `<name>.tar`: `docker save` archives; `<name>-oci.tar`: OCI-layout archives;
 * - `catalog.json`: digests, media types and expected file lists (see `fixtures/catalog.ts`).
 *
 * Idempotent and fast: skips when the catalog's inputs digest matches (`--force` rebuilds).
 * Builds into a temp dir and swaps it in under a lock, so concurrent callers never see a half
 * build. Usage: `deno run -A scripts/build_fixtures.ts [--force] [--out DIR]`.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash } from "node:crypto";
import process from "node:process";
import { InternalError, NotFoundError } from "../src/errors.ts";
import { atomicWriteJsonSync } from "../src/util/atomic_write.ts";
import type { Catalog, CatalogImage } from "./fixtures/catalog.ts";
import {
  busyboxLayer,
  multilayerLayer1,
  multilayerLayer2,
  multilayerLayer3,
} from "./fixtures/spec.ts";
import {
  type BlobSet,
  buildImage,
  dockerArchive,
  hostArch,
  type ImageSpec,
  ociArchive,
  writeLayout,
} from "./fixtures/image.ts";

/** Where the static busybox comes from (Debian package busybox-static). */
export const BUSYBOX = "/bin/busybox";

const REPO = path.resolve(import.meta.dirname!, "..");
/** Default output directory: `<repo>/.fixtures`. */
export const DEFAULT_FIXTURES_DIR: string = path.join(REPO, ".fixtures");

const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Options of {@link buildFixtures}. */
export interface BuildOptions {
  /** Output directory; default `<repo>/.fixtures`. */
  outDir?: string;
  /** Rebuild even when up to date. */
  force?: boolean;
  /** Progress lines; default silent. */
  log?: (line: string) => void;
}

/** Result of {@link buildFixtures}. */
export interface BuildResult {
  /** False when the existing fixtures were up to date. */
  built: boolean;
  /** Absolute output directory. */
  dir: string;
  /** The catalog now in place. */
  catalog: Catalog;
}

function busyboxApplets(): string[] {
  const out = new Deno.Command(BUSYBOX, { args: ["--list-full"], stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!out.success) {
    throw new InternalError(`Failed to list busybox applets: "${BUSYBOX} --list-full" failed`);
  }
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim()).filter(Boolean);
}

/**
 * Digest of everything the output depends on: this builder's sources, the tar writer, the
 * busybox binary (by identity: size, mtime, inode), the host architecture and the compressors.
 */
export function inputsDigest(): string {
  const h = createHash("sha256");
  const sources = [
    path.join(REPO, "scripts", "build_fixtures.ts"),
    path.join(REPO, "src", "image", "tar_writer.ts"),
    ...fs.readdirSync(path.join(REPO, "scripts", "fixtures")).sort().map((f) =>
      path.join(REPO, "scripts", "fixtures", f)
    ),
  ];
  for (const f of sources) h.update(f).update(fs.readFileSync(f));
  try {
    const st = fs.statSync(BUSYBOX);
    h.update(`busybox ${st.size} ${st.mtimeMs} ${st.ino}`);
  } catch {
    h.update("busybox missing");
  }
  h.update(
    `${Deno.build.arch} zlib ${process.versions.zlib ?? ""} zstd ${
      (process.versions as Record<string, string | undefined>).zstd ?? ""
    }`,
  );
  return "sha256:" + h.digest("hex");
}

/** Reads `<dir>/catalog.json`, or undefined when absent or unreadable. */
export function readCatalog(dir: string = DEFAULT_FIXTURES_DIR): Catalog | undefined {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(dir, "catalog.json"), "utf8")) as Catalog;
    return c.version === 1 ? c : undefined;
  } catch {
    return undefined;
  }
}

function imageSpecs(): ImageSpec[] {
  let busybox: Uint8Array;
  try {
    busybox = fs.readFileSync(BUSYBOX);
  } catch (err) {
    throw new NotFoundError(
      `Failed to read "${BUSYBOX}": install the Debian package busybox-static`,
      { cause: err },
    );
  }
  const base = busyboxLayer(busybox, busyboxApplets());
  const baseHistory = "docker-ts fixture: static busybox from Debian busybox-static, applet links";
  return [
    {
      name: "busybox",
      layers: [base],
      ociCompression: ["gzip"],
      history: [baseHistory],
      config: { Env: [PATH_ENV], Cmd: ["sh"] },
    },
    {
      name: "multilayer",
      layers: [base, multilayerLayer1(), multilayerLayer2(), multilayerLayer3()],
      ociCompression: ["gzip", "zstd", "none", "gzip"],
      history: [
        baseHistory,
        "docker-ts fixture: every entry kind, owners, modes, xattrs, devices, long names",
        "docker-ts fixture: whiteouts, opaque dir, type replacements",
        "docker-ts fixture: additions",
      ],
      config: { Env: [PATH_ENV], Cmd: ["sh"], WorkingDir: "/data" },
    },
  ];
}

/** Builds everything into `dir` (which must not exist). */
function buildInto(dir: string, digest: string, log: (l: string) => void): Catalog {
  const arch = hostArch();
  const blobs: BlobSet = new Map();
  const images: CatalogImage[] = [];
  fs.mkdirSync(dir, { recursive: true });
  for (const spec of imageSpecs()) {
    const t0 = performance.now();
    const { info, tars } = buildImage(spec, blobs, arch);
    fs.writeFileSync(path.join(dir, info.dockerArchive), dockerArchive(info, tars, blobs));
    fs.writeFileSync(path.join(dir, info.ociArchive), ociArchive(info, blobs));
    images.push(info);
    log(
      `built ${spec.name}: ${spec.layers.length} layer(s), ${
        (performance.now() - t0).toFixed(0)
      } ms, oci manifest ${info.oci.digest}`,
    );
  }
  writeLayout(path.join(dir, "layout"), blobs, images);
  const catalog: Catalog = {
    version: 1,
    inputsDigest: digest,
    hostArch: arch,
    layout: "layout",
    images: Object.fromEntries(images.map((i) => [i.name, i])),
  };
  atomicWriteJsonSync(path.join(dir, "catalog.json"), catalog);
  return catalog;
}

/**
 * Builds the fixtures unless they are up to date. Safe to call from concurrent processes: the
 * check and the build run under an exclusive lock, and the new tree replaces the old by rename.
 */
export async function buildFixtures(options: BuildOptions = {}): Promise<BuildResult> {
  const dir = path.resolve(options.outDir ?? DEFAULT_FIXTURES_DIR);
  const log = options.log ?? (() => {});
  const digest = inputsDigest();
  const quick = readCatalog(dir);
  if (!options.force && quick?.inputsDigest === digest) {
    return { built: false, dir, catalog: quick };
  }

  // Temp trees and the lock live in a gitignored sibling on the same filesystem (rename works).
  const work = path.join(path.dirname(dir), ".tmp");
  fs.mkdirSync(work, { recursive: true });
  const lock = await Deno.open(path.join(work, `${path.basename(dir)}.lock`), {
    create: true,
    write: true,
  });
  try {
    await lock.lock(true);
    const current = readCatalog(dir);
    if (!options.force && current?.inputsDigest === digest) {
      return { built: false, dir, catalog: current };
    }
    const suffix = crypto.randomUUID().slice(0, 8);
    const tmp = path.join(work, `${path.basename(dir)}-build-${suffix}`);
    const old = path.join(work, `${path.basename(dir)}-old-${suffix}`);
    try {
      const catalog = buildInto(tmp, digest, log);
      if (fs.existsSync(dir)) fs.renameSync(dir, old);
      fs.renameSync(tmp, dir);
      fs.rmSync(old, { recursive: true, force: true });
      return { built: true, dir, catalog };
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      if (!fs.existsSync(dir) && fs.existsSync(old)) fs.renameSync(old, dir);
      throw err;
    }
  } finally {
    lock.close();
  }
}

if (import.meta.main) {
  const args = Deno.args;
  const outIdx = args.indexOf("--out");
  if (args.includes("--help") || args.includes("-h")) {
    console.log("Usage: deno run -A scripts/build_fixtures.ts [--force] [--out DIR]");
    Deno.exit(0);
  }
  try {
    const t0 = performance.now();
    const r = await buildFixtures({
      force: args.includes("--force"),
      outDir: outIdx >= 0 ? args[outIdx + 1] : undefined,
      log: (l) => console.log(l),
    });
    const ms = (performance.now() - t0).toFixed(0);
    console.log(
      r.built ? `fixtures built in ${r.dir} (${ms} ms)` : `fixtures up to date in ${r.dir}`,
    );
  } catch (err) {
    const { describeError } = await import("../src/errors.ts");
    console.error(`build_fixtures: ${describeError(err)}`);
    Deno.exit(1);
  }
}
