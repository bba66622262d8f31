/**
 * Unit tests of the attach hub: detach-key parsing and scanning, output fan-out to several
 * clients, slow/gone clients, stdin sharing and StdinOnce, and the session outcomes. No root.
 */
import assert from "node:assert/strict";
import {
  AttachHub,
  DetachKeyScanner,
  parseDetachKeys,
  runAttachSession,
} from "../../src/container/attach_hub.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A sink collecting text. */
function sink(): { stream: WritableStream<Uint8Array>; text(): string } {
  const parts: string[] = [];
  return {
    stream: new WritableStream({ write: (c) => void parts.push(dec.decode(c)) }),
    text: () => parts.join(""),
  };
}

/** A stdin the test writes to. */
function feeder(): { stream: ReadableStream<Uint8Array>; send(s: string): void; end(): void } {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
  return { stream, send: (s) => ctl.enqueue(enc.encode(s)), end: () => ctl.close() };
}

const tick = (ms = 10): Promise<void> => new Promise((r) => setTimeout(r, ms));

Deno.test("parseDetachKeys: docker's syntax", () => {
  assert.deepEqual([...parseDetachKeys()], [16, 17]);
  assert.deepEqual([...parseDetachKeys("ctrl-a")], [1]);
  assert.deepEqual([...parseDetachKeys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_")], [
    0,
    27,
    28,
    29,
    30,
    31,
  ]);
  assert.deepEqual([...parseDetachKeys("a,ctrl-Z,X")], [97, 26, 88]);
  assert.throws(() => parseDetachKeys("ctrl-1"), /Invalid detach keys "ctrl-1"/);
  assert.throws(() => parseDetachKeys("ab"), /unknown key "ab"/);
});

Deno.test("DetachKeyScanner: holds a prefix back, passes it on when it breaks, spans chunks", () => {
  const s = new DetachKeyScanner(parseDetachKeys());
  let r = s.push(enc.encode("ab\x10"));
  assert.equal(dec.decode(r.data), "ab");
  assert.equal(r.detached, false);
  r = s.push(enc.encode("c"));
  assert.equal(dec.decode(r.data), "\x10c");
  r = s.push(enc.encode("x\x10\x10\x11tail"));
  assert.equal(dec.decode(r.data), "x\x10");
  assert.equal(r.detached, true);
  // Across chunks.
  const t = new DetachKeyScanner(parseDetachKeys("ctrl-x,q"));
  assert.equal(t.push(enc.encode("\x18")).data.length, 0);
  assert.equal(t.push(enc.encode("q")).detached, true);
  // A single key.
  const one = new DetachKeyScanner(parseDetachKeys("ctrl-a"));
  const o = one.push(enc.encode("hi\x01"));
  assert.deepEqual([dec.decode(o.data), o.detached], ["hi", true]);
});

Deno.test("AttachHub: every client sees the same output; a failing client is dropped", async () => {
  const hub = new AttachHub({ tty: true, stdinOnce: false });
  const a = sink();
  const b = sink();
  const subA = hub.subscribe({ stdout: a.stream });
  const subB = hub.subscribe({ stdout: b.stream });
  const broken = hub.subscribe({
    stdout: new WritableStream({ write: () => Promise.reject(new Error("gone")) }),
  });
  const w = hub.output("stdout").getWriter();
  await w.write(enc.encode("one "));
  await w.write(enc.encode("two"));
  assert.equal(await broken.done, "gone");
  assert.equal(hub.clients, 2);
  hub.end();
  assert.equal(await subA.done, "ended");
  assert.equal(await subB.done, "ended");
  assert.equal(a.text(), "one two");
  assert.equal(b.text(), "one two");
  // The client's stream is unlocked again (never closed by the hub).
  assert.equal(a.stream.locked, false);
  // Subscribing after the end ends at once.
  assert.equal(await hub.subscribe({ stdout: sink().stream }).done, "ended");
});

Deno.test("AttachHub: a client that stops reading is cut off, the others go on", async () => {
  const hub = new AttachHub({ tty: true, stdinOnce: false });
  const stuck = hub.subscribe({
    stdout: new WritableStream({ write: () => new Promise(() => {}) }),
  });
  const ok = sink();
  hub.subscribe({ stdout: ok.stream });
  const w = hub.output("stdout").getWriter();
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i < 10; i++) await w.write(chunk); // resolves at once: nobody stalls the pump
  assert.equal(await stuck.done, "gone");
  await tick();
  assert.equal(ok.text().length, 10 * 1024 * 1024);
  hub.end();
});

Deno.test("runAttachSession: input reaches stdin, detach keys end it, stdin stays open", async () => {
  const got: string[] = [];
  const stdin = new WritableStream<Uint8Array>({ write: (c) => void got.push(dec.decode(c)) });
  const hub = new AttachHub({ stdin, tty: true, stdinOnce: false });
  const input = feeder();
  const out = sink();
  const session = runAttachSession(hub, {
    stdin: input.stream,
    stdout: out.stream,
    scanner: new DetachKeyScanner(parseDetachKeys()),
    follow: () => Promise.reject(new Error("not used with a tty hub")),
  });
  input.send("ls\r");
  await tick();
  await hub.output("stdout").getWriter().write(enc.encode("bin\r\n"));
  input.send("x\x10\x11");
  assert.equal(await session, "detached");
  assert.equal(got.join(""), "ls\rx");
  assert.equal(out.text(), "bin\r\n");
  assert.equal(hub.hasStdin, true);
  assert.equal(hub.clients, 0);
  // A second attachment still writes to the same stdin.
  const again = feeder();
  const second = runAttachSession(hub, {
    stdin: again.stream,
    stdout: sink().stream,
    follow: () => Promise.resolve(),
  });
  again.send("pwd\r");
  await tick();
  hub.end();
  assert.equal(await second, "exited");
  assert.equal(got.join(""), "ls\rxpwd\r");
});

Deno.test("runAttachSession: end of input — StdinOnce closes stdin, otherwise the session ends", async () => {
  let closed = false;
  const mk = (): WritableStream<Uint8Array> =>
    new WritableStream({ write: () => {}, close: () => void (closed = true) });

  // Not StdinOnce (run -di): the container's stdin stays open, the session ends.
  const hub = new AttachHub({ stdin: mk(), tty: false, stdinOnce: false });
  const input = feeder();
  let followStop: AbortSignal | undefined;
  const s = runAttachSession(hub, {
    stdin: input.stream,
    follow: (_out, signal) => {
      followStop = signal;
      return new Promise<void>((r) => signal.addEventListener("abort", () => r()));
    },
  });
  input.end();
  assert.equal(await s, "stdin-closed");
  assert.equal(closed, false);
  assert.equal(followStop?.aborted, true);
  hub.end();

  // StdinOnce: the container reads EOF and the session follows output until the exit.
  const once = new AttachHub({ stdin: mk(), tty: false, stdinOnce: true });
  const in2 = feeder();
  let exit!: () => void;
  const s2 = runAttachSession(once, {
    stdin: in2.stream,
    follow: () => new Promise<void>((r) => exit = r),
  });
  in2.end();
  await tick(50);
  assert.equal(closed, true);
  assert.equal(once.hasStdin, false);
  exit();
  assert.equal(await s2, "exited");
  once.end();
});

Deno.test("runAttachSession: abort ends it; the container's stdin is untouched", async () => {
  const hub = new AttachHub({ stdin: new WritableStream(), tty: true, stdinOnce: false });
  const ac = new AbortController();
  const s = runAttachSession(hub, {
    stdin: feeder().stream,
    stdout: sink().stream,
    signal: ac.signal,
    follow: () => Promise.resolve(),
  });
  await tick();
  ac.abort();
  assert.equal(await s, "aborted");
  assert.equal(hub.hasStdin, true);
  assert.equal(hub.clients, 0);
  hub.end();
});
