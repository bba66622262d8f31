import assert from "node:assert/strict";
import { isWritableStream, sinkWriter, toWritable } from "../../src/util/output_sink.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A Deno-style writer that takes at most `max` bytes per call, and records whether it closed. */
function shortWriter(max: number): {
  write(p: Uint8Array): Promise<number>;
  close(): void;
  text(): string;
  closed: boolean;
  calls: number;
} {
  let got = "";
  const w = {
    closed: false,
    calls: 0,
    write(p: Uint8Array): Promise<number> {
      w.calls++;
      const n = Math.min(max, p.length);
      got += dec.decode(p.subarray(0, n));
      return Promise.resolve(n);
    },
    close(): void {
      w.closed = true;
    },
    text: () => got,
  };
  return w;
}

Deno.test("output sink: a writer that takes 3 bytes a call still gets every byte, in order", async () => {
  const w = shortWriter(3);
  const s = sinkWriter(w);
  await s.write(enc.encode("hello, "));
  await s.write(enc.encode("world"));
  s.release();
  assert.equal(w.text(), "hello, world");
  assert.equal(w.calls, 3 + 2);
});

Deno.test("output sink: a stream is written through its writer and unlocked by release()", async () => {
  let got = "";
  const stream = new WritableStream<Uint8Array>({
    write: (c) => {
      got += dec.decode(c);
    },
  });
  assert.equal(isWritableStream(stream), true);
  const s = sinkWriter(stream);
  assert.equal(stream.locked, true);
  await s.write(enc.encode("abc"));
  s.release();
  assert.equal(stream.locked, false);
  assert.equal(got, "abc");
});

Deno.test("output sink: toWritable wraps a writer without ever closing it, and keeps a stream", async () => {
  const w = shortWriter(2);
  assert.equal(isWritableStream(w), false);
  const ws = toWritable(w);
  await ReadableStream.from([enc.encode("one "), enc.encode("two")]).pipeTo(ws);
  assert.equal(w.text(), "one two");
  assert.equal(
    w.closed,
    false,
    "closing the wrapper must leave the writer open (it may be stdout)",
  );
  const stream = new WritableStream<Uint8Array>();
  assert.equal(toWritable(stream), stream);
  assert.equal(toWritable(null), null);
  assert.equal(toWritable(undefined), undefined);
});

Deno.test("output sink: a failing writer rejects the write", async () => {
  const s = sinkWriter({ write: () => Promise.reject(new Error("EPIPE")) });
  await assert.rejects(s.write(enc.encode("x")), /EPIPE/);
});
