/**
 * Content-addressed blob store (containerd's local store, in spirit): immutable blobs at
 * `<root>/content/blobs/sha256/<hex>`, written through `<root>/content/ingest/<key>/data` and
 * committed by rename only after the size and sha256 verify. A reader never sees a partial blob.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createHash, type Hash } from "node:crypto";
import { InvalidArgumentError, NotFoundError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import { fsyncDirSync } from "../util/atomic_write.ts";
import { ownerTag, sweepDeadOwners } from "../storage/stale_temp.ts";

/** sha256 of bytes, as `sha256:<hex>`. */
export function sha256Digest(data: Uint8Array | string): string {
  return "sha256:" + createHash("sha256").update(data).digest("hex");
}

/** Raised when bytes do not match the digest or size they were announced with. */
export class DigestMismatchError extends InvalidArgumentError {
  constructor(message: string) {
    super(message);
  }
}

// Ingests in flight in this process, keyed by final blob path, so two pulls of the same blob
// share one download instead of racing.
const inflight = new Map<string, Promise<void>>();

/**
 * One blob being written. Feed chunks with {@link IngestWriter.write}, then
 * {@link IngestWriter.commit} (verifies, renames) or {@link IngestWriter.abort} (removes all).
 */
export class IngestWriter {
  /** The expected digest; for writers of unknown content, the computed one after commit. */
  digest: string;
  readonly expectedSize: number | undefined;
  readonly #verifyDigest: boolean;
  #dir: string;
  #file: string;
  #target: (digest: string) => string;
  #fd: number;
  #hash: Hash = createHash("sha256");
  #written = 0;
  #done = false;

  /** @internal use {@link ContentStore.writer}. */
  constructor(
    digest: string | undefined,
    expectedSize: number | undefined,
    ingestRoot: string,
    target: (digest: string) => string,
  ) {
    this.digest = digest ?? "";
    this.#verifyDigest = digest !== undefined;
    this.expectedSize = expectedSize;
    this.#target = target;
    fs.mkdirSync(ingestRoot, { recursive: true });
    const prefix = digest !== undefined ? digest.slice(7, 19) : "unknown";
    // The owner's pid in the name lets a later process sweep what a killed one left.
    this.#dir = fs.mkdtempSync(path.join(ingestRoot, `${prefix}-${ownerTag()}-`));
    this.#file = path.join(this.#dir, "data");
    this.#fd = fs.openSync(this.#file, "wx", 0o644);
  }

  /** Bytes written so far. */
  get written(): number {
    return this.#written;
  }

  /** Appends a chunk; fails early when more bytes arrive than announced. */
  write(chunk: Uint8Array): void {
    if (this.#done) throw new Error("Cannot write to a finished ingest");
    this.#written += chunk.byteLength;
    if (this.expectedSize !== undefined && this.#written > this.expectedSize) {
      throw new DigestMismatchError(
        `Failed to verify blob "${this.digest}": more than the expected ${this.expectedSize} bytes`,
      );
    }
    this.#hash.update(chunk);
    let off = 0;
    while (off < chunk.byteLength) off += fs.writeSync(this.#fd, chunk, off);
  }

  /** Checks size and digest without committing; throws {@link DigestMismatchError}. */
  verify(): void {
    if (this.expectedSize !== undefined && this.#written !== this.expectedSize) {
      throw new DigestMismatchError(
        `Failed to verify blob "${this.digest}": got ${this.#written} bytes, expected ${this.expectedSize}`,
      );
    }
    const actual = "sha256:" + this.#hash.copy().digest("hex");
    if (!this.#verifyDigest) {
      this.digest = actual;
      return;
    }
    if (actual !== this.digest) {
      throw new DigestMismatchError(
        `Failed to verify blob "${this.digest}": content has digest "${actual}"`,
      );
    }
  }

  /** Verifies, fsyncs and renames into place. On failure nothing is committed. */
  commit(): void {
    try {
      this.verify();
      fs.fsyncSync(this.#fd);
    } catch (err) {
      this.abort();
      throw err;
    }
    fs.closeSync(this.#fd);
    this.#done = true;
    const target = this.#target(this.digest);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    try {
      // Another process may commit the same digest concurrently: rename replaces a file with
      // identical bytes, which is harmless.
      fs.renameSync(this.#file, target);
      fsyncDirSync(path.dirname(target));
    } finally {
      fs.rmSync(this.#dir, { recursive: true, force: true });
    }
  }

  /** Discards everything written. Safe to call more than once. */
  abort(): void {
    if (!this.#done) {
      this.#done = true;
      try {
        fs.closeSync(this.#fd);
      } catch { /* already closed */ }
    }
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** The blob store under a {@link Paths} root. */
export class ContentStore {
  readonly #paths: Paths;
  #swept = false;

  constructor(paths: Paths) {
    this.#paths = paths;
  }

  /** Once per store: drop ingests of processes that were killed mid-download. */
  #sweepOnce(): void {
    if (this.#swept) return;
    this.#swept = true;
    sweepDeadOwners(this.#paths.ingestDir, [""]);
  }

  /** Path of a blob (whether or not it exists). */
  path(digest: string): string {
    try {
      return this.#paths.blob(digest);
    } catch (err) {
      throw new InvalidArgumentError(`Invalid digest "${digest}"`, { cause: err });
    }
  }

  /** Whether the blob is committed. */
  has(digest: string): boolean {
    return fs.existsSync(this.path(digest));
  }

  /** Size in bytes of a committed blob. */
  size(digest: string): number {
    try {
      return fs.statSync(this.path(digest)).size;
    } catch (err) {
      throw new NotFoundError(`Blob "${digest}" not found in the content store`, { cause: err });
    }
  }

  /** Opens a writer for a blob; prefer {@link ContentStore.ingestStream} unless teeing. */
  writer(digest: string, size?: number): IngestWriter {
    this.path(digest); // validates the digest early
    this.#sweepOnce();
    return new IngestWriter(digest, size, this.#paths.ingestDir, (d) => this.path(d));
  }

  /**
   * Writes a stream whose digest is not known in advance (archives being loaded); the digest is
   * computed while writing. Returns the digest and size.
   */
  async ingestAny(
    stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<{ digest: string; size: number }> {
    this.#sweepOnce();
    const w = new IngestWriter(undefined, undefined, this.#paths.ingestDir, (d) => this.path(d));
    try {
      for await (const chunk of stream as AsyncIterable<Uint8Array>) {
        signal?.throwIfAborted();
        w.write(chunk);
      }
      signal?.throwIfAborted();
      w.commit();
    } catch (err) {
      w.abort();
      throw err;
    }
    return { digest: w.digest, size: w.written };
  }

  /**
   * Writes a stream into the store, verifying size and digest. Concurrent calls for the same
   * digest in this process share one write; an existing blob returns at once.
   */
  ingestStream(
    digest: string,
    size: number | undefined,
    stream: ReadableStream<Uint8Array> | (() => Promise<ReadableStream<Uint8Array>>),
    signal?: AbortSignal,
  ): Promise<void> {
    const target = this.path(digest);
    if (fs.existsSync(target)) {
      if (typeof stream !== "function") stream.cancel().catch(() => {});
      return Promise.resolve();
    }
    const running = inflight.get(target);
    if (running) {
      if (typeof stream !== "function") stream.cancel().catch(() => {});
      return running;
    }
    const job = (async () => {
      const w = this.writer(digest, size);
      try {
        const s = typeof stream === "function" ? await stream() : stream;
        const reader = s.getReader();
        try {
          while (true) {
            signal?.throwIfAborted();
            const { done, value } = await reader.read();
            if (done) break;
            w.write(value);
          }
        } catch (err) {
          reader.cancel().catch(() => {});
          throw err;
        }
        signal?.throwIfAborted();
        w.commit();
      } catch (err) {
        w.abort();
        throw err;
      }
    })().finally(() => inflight.delete(target));
    inflight.set(target, job);
    return job;
  }

  /** Writes small in-memory content (manifests, configs). Returns its digest. */
  putBytes(data: Uint8Array, expectedDigest?: string): string {
    const digest = expectedDigest ?? sha256Digest(data);
    if (this.has(digest)) {
      if (expectedDigest !== undefined && sha256Digest(data) !== expectedDigest) {
        throw new DigestMismatchError(
          `Failed to verify blob "${expectedDigest}": content has digest "${sha256Digest(data)}"`,
        );
      }
      return digest;
    }
    const w = this.writer(digest, data.byteLength);
    try {
      w.write(data);
    } catch (err) {
      w.abort();
      throw err;
    }
    w.commit();
    return digest;
  }

  /** Reads a whole blob. */
  readBytes(digest: string): Uint8Array {
    try {
      return fs.readFileSync(this.path(digest));
    } catch (err) {
      throw new NotFoundError(`Blob "${digest}" not found in the content store`, { cause: err });
    }
  }

  /** Reads and parses a JSON blob. */
  readJson(digest: string): unknown {
    return JSON.parse(new TextDecoder().decode(this.readBytes(digest)));
  }

  /** Opens a committed blob as a stream. */
  open(digest: string): ReadableStream<Uint8Array> {
    const file = this.path(digest);
    if (!fs.existsSync(file)) {
      throw new NotFoundError(`Blob "${digest}" not found in the content store`);
    }
    return fileStream(file);
  }

  /** Removes a blob; missing blobs are ignored. */
  delete(digest: string): void {
    fs.rmSync(this.path(digest), { force: true });
  }

  /** Digests of every committed blob. */
  list(): string[] {
    try {
      return fs.readdirSync(this.#paths.blobsDir)
        .filter((n) => /^[a-f0-9]{64}$/.test(n))
        .map((n) => `sha256:${n}`);
    } catch {
      return [];
    }
  }

  /** Removes ingest leftovers (crashed or killed writers). Only call when no pull runs. */
  cleanIngest(): void {
    fs.rmSync(this.#paths.ingestDir, { recursive: true, force: true });
  }
}

/** A byte stream over a file read in 1 MiB chunks (sync reads into fresh buffers). */
export function fileStream(file: string, chunkSize = 1 << 20): ReadableStream<Uint8Array> {
  let fd: number | undefined;
  return new ReadableStream<Uint8Array>({
    start() {
      fd = fs.openSync(file, "r");
    },
    pull(controller) {
      const buf = new Uint8Array(chunkSize);
      const n = fs.readSync(fd!, buf, 0, chunkSize, null);
      if (n === 0) {
        fs.closeSync(fd!);
        fd = undefined;
        controller.close();
        return;
      }
      controller.enqueue(n === chunkSize ? buf : buf.subarray(0, n));
    },
    cancel() {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  }, { highWaterMark: 0 });
}
