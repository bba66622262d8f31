import assert from "node:assert/strict";
import { demuxStream, encodeFrame, FrameDecoder } from "../../src/api/stream_framing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("encodeFrame: stream byte, three zeros, big-endian length", () => {
  const f = encodeFrame(2, enc.encode("hello"));
  assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 5]);
  assert.equal(dec.decode(f.subarray(8)), "hello");
  const big = encodeFrame(1, new Uint8Array(70_000));
  // Split at 32 KiB like dockerd: 32768 + 32768 + 4464, each with its own header.
  assert.equal(big.length, 70_000 + 3 * 8);
  assert.deepEqual([...big.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0x80, 0]);
});

Deno.test("FrameDecoder: byte-at-a-time input gives the same frames", () => {
  const bytes = new Uint8Array([
    ...encodeFrame(1, enc.encode("out")),
    ...encodeFrame(2, enc.encode("err")),
    ...encodeFrame(1, new Uint8Array(0)),
  ]);
  const d = new FrameDecoder();
  const frames = [];
  for (let i = 0; i < bytes.length; i++) frames.push(...d.push(bytes.subarray(i, i + 1)));
  assert.deepEqual(frames.map((f) => [f.stream, dec.decode(f.data)]), [
    [1, "out"],
    [2, "err"],
    [1, ""],
  ]);
  assert.equal(d.pending, 0);
});

Deno.test("FrameDecoder: rejects bytes that are not frames", () => {
  assert.throws(() => new FrameDecoder().push(enc.encode("hello world")), /Invalid stream frame/);
});

Deno.test("demuxStream splits stdout and stderr; a truncated frame is an error", async () => {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) =>
    new WritableStream<Uint8Array>({
      write: (c) => {
        into.push(dec.decode(c));
      },
    });
  const src = ReadableStream.from([
    new Uint8Array([
      ...encodeFrame(1, enc.encode("a")),
      ...encodeFrame(2, enc.encode("b")).subarray(0, 4),
    ]),
    encodeFrame(2, enc.encode("b")).subarray(4),
  ]);
  await demuxStream(src, { stdout: sink(out), stderr: sink(err) });
  assert.deepEqual([out, err], [["a"], ["b"]]);
  await assert.rejects(
    demuxStream(ReadableStream.from([encodeFrame(1, enc.encode("abc")).subarray(0, 9)]), {}),
    /inside a frame/,
  );
});
