/**
 * Layer decompression by media type, checked against the stream's magic bytes, streaming with
 * node:zlib (the fastest decoders in Deno: ~550 MB/s gunzip, ~950 MB/s zstd).
 *
 * @module
 */
import * as zlib from "node:zlib";
import { Readable } from "node:stream";
import { InvalidArgumentError } from "../errors.ts";

/** Compression of a layer. */
export type Compression = "none" | "gzip" | "zstd";

const MEDIA_TYPES: Record<string, Compression> = {
  "application/vnd.oci.image.layer.v1.tar": "none",
  "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
  "application/vnd.oci.image.layer.nondistributable.v1.tar": "none",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
  "application/vnd.docker.image.rootfs.diff.tar": "none",
  "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
  "application/vnd.docker.image.rootfs.diff.tar.zstd": "zstd",
  "application/vnd.docker.image.rootfs.foreign.diff.tar": "none",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
};

/** The compression a layer media type declares; unknown media types are InvalidArgument. */
export function compressionOf(mediaType: string): Compression {
  const c = MEDIA_TYPES[mediaType];
  if (c === undefined) {
    throw new InvalidArgumentError(`Cannot unpack layer: unknown media type "${mediaType}"`);
  }
  return c;
}

/** The compression the first bytes of a stream show (`none` when neither magic matches). */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (
    head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f &&
    head[3] === 0xfd
  ) return "zstd";
  return "none";
}

/** Options of {@link decompress}. */
export interface DecompressOptions {
  /** Layer media type; decides the decoder. */
  mediaType: string;
  /** Cancels reading. */
  signal?: AbortSignal;
}

const CHUNK = 256 * 1024;

/**
 * Decompresses a layer stream according to its media type, after checking that the data's
 * magic bytes agree with it (InvalidArgument on mismatch). Yields uncompressed chunks.
 */
export async function* decompress(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options: DecompressOptions,
): AsyncGenerator<Uint8Array> {
  const expected = compressionOf(options.mediaType);
  const input = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  // Gather at least 4 bytes to check the magic; chunks are usually far bigger.
  const head: Uint8Array[] = [];
  let headLen = 0;
  let inputDone = false;
  while (headLen < 4) {
    const { value, done } = await input.next();
    if (done) {
      inputDone = true;
      break;
    }
    if (value.length > 0) {
      head.push(value);
      headLen += value.length;
    }
  }
  const first = head.length === 1 ? head[0] : concatBytes(head);
  if (headLen === 0) {
    throw new InvalidArgumentError(`Cannot unpack layer: the layer stream is empty`);
  }
  const actual = sniffCompression(first);
  if (actual !== expected) {
    await input.return?.();
    throw new InvalidArgumentError(
      `Cannot unpack layer: media type "${options.mediaType}" says ${describe(expected)} but ` +
        `the data is ${describe(actual)}`,
    );
  }
  // Errors of the source itself (network, abort) must surface as they are, not as bad data.
  let sourceError: unknown;
  let failed = false;
  async function* rest(): AsyncGenerator<Uint8Array> {
    if (first.length > 0) yield first;
    if (inputDone) return;
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        options.signal?.throwIfAborted();
        step = await input.next();
      } catch (err) {
        failed = true;
        sourceError = err;
        throw err;
      }
      if (step.done) return;
      yield step.value;
    }
  }
  if (expected === "none") {
    yield* rest();
    return;
  }
  const decoder = expected === "gzip"
    ? zlib.createGunzip({ chunkSize: CHUNK })
    : zlib.createZstdDecompress({ chunkSize: CHUNK });
  const readable = Readable.from(rest(), { objectMode: false, highWaterMark: 4 });
  readable.on("error", (err) => decoder.destroy(err));
  readable.pipe(decoder);
  try {
    for await (const chunk of decoder as AsyncIterable<Uint8Array>) {
      options.signal?.throwIfAborted();
      yield chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    }
  } catch (err) {
    if (failed) throw sourceError;
    if (options.signal?.aborted) throw options.signal.reason;
    throw new InvalidArgumentError(
      `Cannot unpack layer: invalid ${expected} data (${
        err instanceof Error ? err.message : String(err)
      })`,
      { cause: err },
    );
  } finally {
    readable.destroy();
    decoder.destroy();
  }
}

/**
 * A synchronous streaming decoder writing into a reused buffer (the host passes native zlib and
 * libzstd ones, `ffi/zlib.ts`, which unlike node:zlib's run in parallel on several Workers).
 */
export interface SyncDecoder {
  /** Decodes all of `input`; each output piece is valid only during its `sink` call. */
  push(input: Uint8Array, sink: (out: Uint8Array) => void): void;
  /** Throws when the compressed stream is truncated. */
  finish(): void;
  /** Frees native state; idempotent. */
  close(): void;
}

/** Makes a {@link SyncDecoder} for a compression, or undefined to use node:zlib instead. */
export type DecoderFactory = (compression: "gzip" | "zstd") => SyncDecoder | undefined;

/**
 * Like {@link decompress}, but decodes synchronously with a {@link SyncDecoder} and hands each
 * uncompressed piece to `sink` (valid only during the call). Same checks (media type against
 * magic bytes, empty stream) and errors: bad data is InvalidArgument, the source's own errors
 * (network, abort) pass through unchanged. Resolves once the stream is decoded completely;
 * `decoder` is closed in every case.
 */
export async function decompressInto(
  source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options: DecompressOptions,
  decoder: SyncDecoder,
  sink: (out: Uint8Array) => void,
): Promise<void> {
  const expected = compressionOf(options.mediaType);
  let head: Uint8Array | undefined;
  let sinkError: unknown;
  let sinkFailed = false;
  // Errors of the sink (tar, extraction) are the caller's; only the decoder's become "invalid".
  const guarded = (out: Uint8Array): void => {
    try {
      sink(out);
    } catch (err) {
      sinkFailed = true;
      sinkError = err;
      throw err;
    }
  };
  const feed = (chunk: Uint8Array): void => {
    try {
      decoder.push(chunk, guarded);
    } catch (err) {
      if (sinkFailed) throw sinkError;
      throw invalidData(expected, err);
    }
  };
  try {
    for await (const chunk of source as AsyncIterable<Uint8Array>) {
      options.signal?.throwIfAborted();
      if (chunk.length === 0) continue;
      if (head === undefined || head.length < 4) {
        // The magic needs 4 bytes; chunks are nearly always far bigger than that.
        head = head === undefined ? chunk : concatBytes([head, chunk]);
        if (head.length < 4) continue;
        checkMagic(options.mediaType, expected, head);
        feed(head);
        continue;
      }
      feed(chunk);
    }
    options.signal?.throwIfAborted();
    if (head === undefined) {
      throw new InvalidArgumentError(`Cannot unpack layer: the layer stream is empty`);
    }
    if (head.length < 4) {
      checkMagic(options.mediaType, expected, head);
      feed(head);
    }
    try {
      decoder.finish();
    } catch (err) {
      throw invalidData(expected, err);
    }
  } finally {
    decoder.close();
  }
}

function checkMagic(mediaType: string, expected: Compression, head: Uint8Array): void {
  const actual = sniffCompression(head);
  if (actual !== expected) {
    throw new InvalidArgumentError(
      `Cannot unpack layer: media type "${mediaType}" says ${describe(expected)} but ` +
        `the data is ${describe(actual)}`,
    );
  }
}

function invalidData(c: Compression, err: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    `Cannot unpack layer: invalid ${c} data (${err instanceof Error ? err.message : String(err)})`,
    { cause: err },
  );
}

function describe(c: Compression): string {
  return c === "none" ? "uncompressed" : c;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
