/**
 * The on-disk layout under the two roots. Every path docker-ts writes is derived here so that
 * tests can point both roots at temp directories.
 *
 * @module
 */
import { joinPath, resolvePath } from "./util/path.ts";

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
    this.root = resolvePath(root);
    this.runroot = resolvePath(runroot);
  }

  /** `<root>/content/blobs/sha256` */
  get blobsDir(): string {
    return joinPath(this.root, "content", "blobs", "sha256");
  }
  /** Path of a blob by digest (`sha256:<hex>`). */
  blob(digest: string): string {
    const [algo, hex] = digest.split(":");
    if (algo !== "sha256" || !/^[a-f0-9]{64}$/.test(hex ?? "")) {
      throw new Error(`Invalid digest "${digest}"`);
    }
    return joinPath(this.blobsDir, hex);
  }
  /** `<root>/content/ingest` */
  get ingestDir(): string {
    return joinPath(this.root, "content", "ingest");
  }
  /** `<root>/images` */
  get imagesDir(): string {
    return joinPath(this.root, "images");
  }
  /** `<root>/layers` */
  get layersDir(): string {
    return joinPath(this.root, "layers");
  }
  /** Directory of an unpacked layer by chain id (`sha256:<hex>`). */
  layer(chainId: string): string {
    return joinPath(this.layersDir, chainId.replace(/^sha256:/, ""));
  }
  /** `<root>/containers` */
  get containersDir(): string {
    return joinPath(this.root, "containers");
  }
  /** Directory of a container. */
  container(id: string): string {
    return joinPath(this.containersDir, id);
  }
  /** Runtime directory of a container. */
  runContainer(id: string): string {
    return joinPath(this.runroot, "containers", id);
  }
  /** `<root>/tmp`, same filesystem as the stores so renames are atomic. */
  get tmpDir(): string {
    return joinPath(this.root, "tmp");
  }
  /** Lock files directory. */
  get locksDir(): string {
    return joinPath(this.runroot, "locks");
  }
}
