/**
 * Where a container's output is written: a `WritableStream`, or a Deno-style writer such as
 * `Deno.stdout`. The writer form exists for the CLI's hot path: in Deno 2.9 the first web stream
 * a process builds costs ~3 ms (the streams implementation is compiled on first use), which is a
 * large share of a `docker-ts run` that goes through a daemon. Nothing here ever closes a sink:
 * they may be the process's own stdout.
 *
 * @example
 * ```ts
 * import { sinkWriter } from "./output_sink.ts";
 * const chunks: Uint8Array[] = [];
 * const w = sinkWriter({ write: (p: Uint8Array) => (chunks.push(p), Promise.resolve(p.length)) });
 * await w.write(new TextEncoder().encode("hi"));
 * w.release();
 * console.assert(chunks.length === 1);
 * ```
 *
 * @module
 */

/** A Deno-style writer (`Deno.stdout`, `Deno.FsFile`, a `Deno.Conn`): may write part of `p`. */
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

/** A stream or a writer; see the module doc. */
export type OutputSink = WritableStream<Uint8Array> | ByteWriter;

/** The one operation output pumps need, whatever the sink. */
export interface SinkWriter {
  /** Writes all of `chunk`. */
  write(chunk: Uint8Array): Promise<void>;
  /** Releases a stream's lock (the stream stays open); nothing for a writer. */
  release(): void;
}

/** Whether `s` is a WritableStream (duck-typed: no stream machinery is touched). */
export function isWritableStream(s: OutputSink): s is WritableStream<Uint8Array> {
  return typeof (s as WritableStream<Uint8Array>).getWriter === "function";
}

/** A writer for `sink` (locks a stream until `release()`). */
export function sinkWriter(sink: OutputSink): SinkWriter {
  if (isWritableStream(sink)) {
    const w = sink.getWriter();
    return { write: (chunk) => w.write(chunk), release: () => w.releaseLock() };
  }
  return {
    async write(chunk): Promise<void> {
      let rest = chunk;
      while (rest.length > 0) rest = rest.subarray(await sink.write(rest));
    },
    release(): void {},
  };
}

/**
 * `sink` as a writer whose failures are mapped by `onError` (which also learns of the failure
 * first, e.g. to stop the producer). `release()` unlocks a stream sink.
 */
export function guardSink(
  sink: OutputSink,
  onError: (err: unknown) => Error,
): { sink: ByteWriter; release(): void } {
  const w = sinkWriter(sink);
  return {
    sink: {
      async write(p: Uint8Array): Promise<number> {
        try {
          await w.write(p);
        } catch (err) {
          throw onError(err);
        }
        return p.length;
      },
    },
    release: () => w.release(),
  };
}

/** `sink` as a WritableStream; a writer is wrapped (closing the wrapper leaves it open). */
export function toWritable(sink: OutputSink): WritableStream<Uint8Array>;
export function toWritable(
  sink: OutputSink | null | undefined,
): WritableStream<Uint8Array> | null | undefined;
export function toWritable(
  sink: OutputSink | null | undefined,
): WritableStream<Uint8Array> | null | undefined {
  if (!sink || isWritableStream(sink)) return sink;
  const w = sinkWriter(sink);
  return new WritableStream<Uint8Array>({ write: (chunk) => w.write(chunk) });
}
