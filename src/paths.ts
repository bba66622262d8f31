/**
 * The on-disk layout under the two roots. Every path docker-ts writes is derived here so that
 * tests can point both roots at temp directories.
 *
 * @module
 */
import * as path from "node:path";

/** Default persistent root. */
export const DEFAULT_ROOT = "/var/lib/docker-ts";
/** Default runtime root (gone after reboot). */
export const DEFAULT_RUNROOT = "/run/docker-ts";

/** Resolved locations of docker-ts state. */
export class Paths {
  /** Persistent root. */
  readonly root: string;
  /** Runtime root. */
  readonly runroot: string;

  constructor(root: string = DEFAULT_ROOT, runroot: string = DEFAULT_RUNROOT) {
    this.root = path.resolve(root);
    this.runroot = path.resolve(runroot);
  }

  /** `<root>/content/blobs/sha256` */
  get blobsDir(): string {
    return path.join(this.root, "content", "blobs", "sha256");
  }
  /** Path of a blob by digest (`sha256:<hex>`). */
  blob(digest: string): string {
    const [algo, hex] = digest.split(":");
    if (algo !== "sha256" || !/^[a-f0-9]{64}$/.test(hex ?? "")) {
      throw new Error(`Invalid digest "${digest}"`);
    }
    return path.join(this.blobsDir, hex);
  }
  /** `<root>/content/ingest` */
  get ingestDir(): string {
    return path.join(this.root, "content", "ingest");
  }
  /** `<root>/images` */
  get imagesDir(): string {
    return path.join(this.root, "images");
  }
  /** `<root>/layers` */
  get layersDir(): string {
    return path.join(this.root, "layers");
  }
  /** Directory of an unpacked layer by chain id (`sha256:<hex>`). */
  layer(chainId: string): string {
    return path.join(this.layersDir, chainId.replace(/^sha256:/, ""));
  }
  /** `<root>/containers` */
  get containersDir(): string {
    return path.join(this.root, "containers");
  }
  /** Directory of a container. */
  container(id: string): string {
    return path.join(this.containersDir, id);
  }
  /** Runtime directory of a container. */
  runContainer(id: string): string {
    return path.join(this.runroot, "containers", id);
  }
  /** `<root>/tmp`, same filesystem as the stores so renames are atomic. */
  get tmpDir(): string {
    return path.join(this.root, "tmp");
  }
  /** Lock files directory. */
  get locksDir(): string {
    return path.join(this.runroot, "locks");
  }
}
