/**
 * Docker's multiplexed stream format ("stdcopy"): used on attach, exec and logs streams of
 * containers without a TTY. Each frame is an 8-byte header — the stream (0 stdin, 1 stdout,
 * 2 stderr), three zero bytes, the payload length as a big-endian uint32 — then the payload.
 *
 * @module
 */

import { type OutputSink, sinkWriter } from "../util/output_sink.ts";

/** Stream numbers of the frame header. */
export type StreamId = 0 | 1 | 2;

/** One decoded frame. */
export interface Frame {
  stream: StreamId;
  data: Uint8Array;
}

/** Header length in bytes. */
export const FRAME_HEADER_SIZE = 8;

/** Largest payload one frame carries (larger writes are split, as dockerd does at 32 KiB). */
const MAX_PAYLOAD = 32 * 1024;

/**
 * Encodes `data` as one or more frames of `stream`.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./stream_framing.ts";
 * const f = encodeFrame(1, new TextEncoder().encode("hi"));
 * console.assert(f.length === 10 && f[0] === 1 && f[7] === 2);
 * ```
 */
export function encodeFrame(stream: StreamId, data: Uint8Array): Uint8Array {
  const frames = Math.max(1, Math.ceil(data.length / MAX_PAYLOAD));
  const out = new Uint8Array(data.length + frames * FRAME_HEADER_SIZE);
  const view = new DataView(out.buffer);
  let src = 0;
  let dst = 0;
  for (let i = 0; i < frames; i++) {
    const len = Math.min(MAX_PAYLOAD, data.length - src);
    out[dst] = stream;
    view.setUint32(dst + 4, len, false);
    out.set(data.subarray(src, src + len), dst + FRAME_HEADER_SIZE);
    src += len;
    dst += FRAME_HEADER_SIZE + len;
  }
  return out;
}

/**
 * Incremental decoder: feed arbitrary byte chunks, get whole frames back. Throws on a header
 * whose stream byte or padding is invalid (the peer is not sending framed data).
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder } from "./stream_framing.ts";
 * const d = new FrameDecoder();
 * const bytes = encodeFrame(2, new TextEncoder().encode("oops"));
 * const frames = [...d.push(bytes.subarray(0, 3)), ...d.push(bytes.subarray(3))];
 * console.assert(frames.length === 1 && frames[0].stream === 2);
 * ```
 */
export class FrameDecoder {
  #buf: Uint8Array = new Uint8Array(0);

  /** Bytes held that do not yet form a whole frame. */
  get pending(): number {
    return this.#buf.length;
  }

  /** Adds bytes; returns the frames completed by them. */
  push(chunk: Uint8Array): Frame[] {
    if (this.#buf.length === 0) {
      this.#buf = chunk;
    } else {
      const next = new Uint8Array(this.#buf.length + chunk.length);
      next.set(this.#buf);
      next.set(chunk, this.#buf.length);
      this.#buf = next;
    }
    const frames: Frame[] = [];
    while (this.#buf.length >= FRAME_HEADER_SIZE) {
      const b = this.#buf;
      const stream = b[0];
      if (stream > 2 || b[1] !== 0 || b[2] !== 0 || b[3] !== 0) {
        throw new Error(
          `Invalid stream frame header [${Array.from(b.subarray(0, 8)).join(",")}]`,
        );
      }
      const len = new DataView(b.buffer, b.byteOffset, 8).getUint32(4, false);
      if (b.length < FRAME_HEADER_SIZE + len) break;
      frames.push({
        stream: stream as StreamId,
        data: b.slice(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + len),
      });
      this.#buf = b.subarray(FRAME_HEADER_SIZE + len);
    }
    return frames;
  }
}

/**
 * Splits a framed byte stream into stdout and stderr writers (docker's `stdcopy.StdCopy`).
 * Resolves when the source ends; a trailing partial frame is an error.
 */
export async function demuxStream(
  source: AsyncIterable<Uint8Array>,
  sinks: { stdout?: OutputSink | null; stderr?: OutputSink | null },
): Promise<void> {
  const decoder = new FrameDecoder();
  const out = sinks.stdout ? sinkWriter(sinks.stdout) : undefined;
  const err = sinks.stderr ? sinkWriter(sinks.stderr) : undefined;
  try {
    for await (const chunk of source) {
      for (const f of decoder.push(chunk)) {
        const w = f.stream === 2 ? err : out;
        if (w && f.data.length) await w.write(f.data);
      }
    }
    if (decoder.pending > 0) throw new Error("Stream ended inside a frame");
  } finally {
    out?.release();
    err?.release();
  }
}
