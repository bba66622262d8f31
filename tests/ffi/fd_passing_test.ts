/**
 * ffi/fd_passing.ts against the real kernel: SEQPACKET pairs, SCM_RIGHTS in both directions,
 * message boundaries, end of file, error reporting and the close-on-exec flags. Every fd a test
 * opens is closed in `finally`, and each test checks that it left no fd behind.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { recvFds, sendFds, seqpacketPair } from "../../ffi/fd_passing.ts";
import {
  close,
  F_GETFD,
  F_GETFL,
  fcntl,
  FD_CLOEXEC,
  O_NONBLOCK,
  pipe2,
  read,
  setNonblocking,
  write,
} from "../../ffi/io.ts";
import { SyscallError } from "../../ffi/syscall_error.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function openFds(): Set<string> {
  return new Set([...Deno.readDirSync("/proc/self/fd")].map((e) => e.name));
}

/** Runs `fn` with a tracker of fds to close, then checks nothing new stayed open. */
async function withFds(fn: (track: (...fds: number[]) => void) => void | Promise<void>) {
  const before = openFds();
  const mine: number[] = [];
  try {
    await fn((...fds) => mine.push(...fds));
  } finally {
    for (const fd of mine) {
      try {
        close(fd);
      } catch { /* closed by the test */ }
    }
  }
  // Deno itself may open fds meanwhile (rare); only ours are checked by number.
  const leaked = mine.filter((fd) => openFds().has(String(fd)) && !before.has(String(fd)));
  assert.deepEqual(leaked, [], "fds left open");
}

function isCloexec(fd: number): boolean {
  return (fcntl(fd, F_GETFD) & FD_CLOEXEC) !== 0;
}

function sockInode(fd: number): string {
  return Deno.readLinkSync(`/proc/self/fd/${fd}`);
}

/** A socket's type from /proc/self/net/unix (5 = SOCK_SEQPACKET). */
function socketType(fd: number): number {
  const inode = /^socket:\[(\d+)\]$/.exec(sockInode(fd))?.[1];
  assert.ok(inode, `fd ${fd} is not a socket: ${sockInode(fd)}`);
  for (const line of Deno.readTextFileSync("/proc/self/net/unix").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[6] === inode) return parseInt(f[4], 16);
  }
  throw new Error(`socket inode ${inode} not in /proc/self/net/unix`);
}

Deno.test("seqpacketPair: two connected SEQPACKET unix sockets, both close-on-exec", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    track(a, b);
    assert.ok(a >= 0 && b >= 0 && a !== b);
    assert.ok(isCloexec(a) && isCloexec(b), "close-on-exec");
    assert.equal(socketType(a), 5);
    assert.equal(socketType(b), 5);
    // Connected both ways.
    sendFds(a, enc.encode("ab"), []);
    sendFds(b, enc.encode("ba"), []);
    assert.equal(dec.decode(recvFds(b).data), "ab");
    assert.equal(dec.decode(recvFds(a).data), "ba");
  });
});

Deno.test("sendFds/recvFds: data and descriptors arrive as one message", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    const [r1, w1] = pipe2();
    const [r2, w2] = pipe2();
    track(a, b, r1, w1, r2, w2);
    sendFds(a, enc.encode("config"), [w1, w2]);
    const m = recvFds(b, 64, 8);
    track(...m.fds);
    assert.equal(m.bytes, 6);
    assert.equal(dec.decode(m.data), "config");
    assert.equal(m.fds.length, 2);
    // New numbers in the receiver, the sender's stay open.
    for (const fd of m.fds) assert.ok(![a, b, r1, w1, r2, w2].includes(fd));
    assert.ok(openFds().has(String(w1)) && openFds().has(String(w2)));
    // Received descriptors are close-on-exec (MSG_CMSG_CLOEXEC).
    assert.ok(m.fds.every(isCloexec), "received fds close-on-exec");
    // They are the same pipes, in order.
    write(m.fds[0], enc.encode("one"));
    write(m.fds[1], enc.encode("two"));
    const buf = new Uint8Array(16);
    assert.equal(dec.decode(buf.subarray(0, read(r1, buf)!)), "one");
    assert.equal(dec.decode(buf.subarray(0, read(r2, buf)!)), "two");
  });
});

Deno.test("sendFds: the receiver shares the open file description (flags, offset)", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    const [r, w] = pipe2();
    track(a, b, r, w);
    sendFds(a, new Uint8Array([1]), [r]);
    const m = recvFds(b);
    track(...m.fds);
    // O_NONBLOCK lives on the open file description: setting it on ours shows on theirs.
    assert.equal(fcntl(m.fds[0], F_GETFL) & O_NONBLOCK, 0);
    setNonblocking(r, true);
    assert.equal(fcntl(m.fds[0], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    assert.equal(read(m.fds[0], new Uint8Array(4)), null, "EAGAIN on an empty nonblocking pipe");
    // A file's offset too: two writes through two fds append in order.
    const path = Deno.makeTempFileSync({ prefix: "dts-fdpass-" });
    try {
      const fd = Deno.openSync(path, { write: true });
      fd.close();
      const nodeFs = fdOfPath(path);
      track(nodeFs);
      sendFds(a, new Uint8Array([2]), [nodeFs]);
      const m2 = recvFds(b);
      track(...m2.fds);
      write(nodeFs, enc.encode("first,"));
      write(m2.fds[0], enc.encode("second"));
      assert.equal(Deno.readTextFileSync(path), "first,second");
    } finally {
      Deno.removeSync(path);
    }
  });
});

/** A write-only fd on `path` (node:fs fds are real kernel fds, DENO-FACTS). */
function fdOfPath(path: string): number {
  return fs.openSync(path, "w");
}

Deno.test("sendFds/recvFds: message boundaries are kept; no fds is fine", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    track(a, b);
    sendFds(a, enc.encode("first"), []);
    sendFds(a, enc.encode("second message"), []);
    const m1 = recvFds(b, 64, 8);
    const m2 = recvFds(b, 64, 8);
    assert.deepEqual([m1.bytes, dec.decode(m1.data), m1.fds], [5, "first", []]);
    assert.deepEqual([m2.bytes, dec.decode(m2.data), m2.fds], [14, "second message", []]);
  });
});

Deno.test("recvFds: the peer's close reads as a 0-byte message without fds", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    track(b);
    close(a);
    const m = recvFds(b);
    assert.equal(m.bytes, 0);
    assert.equal(m.data.length, 0);
    assert.deepEqual(m.fds, []);
  });
});

Deno.test("recvFds: a message sent before the close is still read, then end of file", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    const [r, w] = pipe2();
    track(b, r, w);
    sendFds(a, enc.encode("x"), [w]);
    close(a);
    const m = recvFds(b);
    track(...m.fds);
    assert.equal(m.bytes, 1);
    assert.equal(m.fds.length, 1);
    assert.equal(recvFds(b).bytes, 0);
  });
});

Deno.test("sendFds: empty data is refused before any syscall", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    track(a, b);
    assert.throws(() => sendFds(a, new Uint8Array(0), []), RangeError);
  });
});

Deno.test("sendFds: a closed peer is EPIPE (a SyscallError), not a SIGPIPE", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    track(a);
    close(b);
    assert.throws(
      () => sendFds(a, enc.encode("x"), []),
      (err: unknown) => {
        assert.ok(err instanceof SyscallError, String(err));
        assert.equal(err.code, "EPIPE");
        assert.match(err.message, /sendmsg/);
        assert.match(err.message, new RegExp(`fd ${a}`));
        return true;
      },
    );
  });
});

Deno.test("sendFds/recvFds: a bad socket or a bad fd to pass is a SyscallError naming it", async () => {
  await withFds((track) => {
    const [r, w] = pipe2();
    track(r, w);
    // Not a socket.
    assert.throws(() => sendFds(w, enc.encode("x"), []), (err: unknown) => {
      assert.ok(err instanceof SyscallError);
      assert.equal(err.code, "ENOTSOCK");
      return true;
    });
    assert.throws(() => recvFds(r), (err: unknown) => {
      assert.ok(err instanceof SyscallError);
      assert.equal(err.code, "ENOTSOCK");
      return true;
    });
    // A closed descriptor among those to pass: EBADF, and nothing is delivered.
    const [a, b] = seqpacketPair();
    track(a, b);
    const [r2, w2] = pipe2();
    close(r2);
    close(w2);
    assert.throws(() => sendFds(a, enc.encode("x"), [w, r2]), (err: unknown) => {
      assert.ok(err instanceof SyscallError);
      assert.equal(err.code, "EBADF");
      return true;
    });
    sendFds(a, enc.encode("y"), []);
    assert.equal(dec.decode(recvFds(b).data), "y", "the failed message was not delivered");
  });
});

Deno.test("sendFds/recvFds: many descriptors in one message (the claim sends 4)", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    track(a, b);
    const pipes = Array.from({ length: 8 }, () => pipe2());
    for (const [r, w] of pipes) track(r, w);
    sendFds(a, enc.encode("eight"), pipes.map(([, w]) => w));
    const m = recvFds(b, 64, 8);
    track(...m.fds);
    assert.equal(m.fds.length, 8);
    m.fds.forEach((fd, i) => write(fd, enc.encode(String(i))));
    const buf = new Uint8Array(4);
    pipes.forEach(([r], i) => assert.equal(dec.decode(buf.subarray(0, read(r, buf)!)), String(i)));
  });
});

Deno.test("sendFds/recvFds: works across threads (a Worker receives what main sends)", async () => {
  await withFds(async (track) => {
    const [a, b] = seqpacketPair();
    const [r, w] = pipe2();
    track(a, b, r, w);
    const src = `
      import { recvFds } from ${
      JSON.stringify(new URL("../../ffi/fd_passing.ts", import.meta.url).href)
    };
      import { write, close } from ${
      JSON.stringify(new URL("../../ffi/io.ts", import.meta.url).href)
    };
      self.onmessage = (ev) => {
        const m = recvFds(ev.data, 16, 2);
        write(m.fds[0], new TextEncoder().encode("from worker"));
        for (const fd of m.fds) close(fd);
        self.postMessage(m.bytes);
      };`;
    const url = `data:application/typescript,${encodeURIComponent(src)}`;
    const worker = new Worker(url, { type: "module" });
    try {
      const done = new Promise<number>((res, rej) => {
        worker.onmessage = (ev) => res(ev.data);
        worker.onerror = (ev) => {
          ev.preventDefault();
          rej(new Error(ev.message));
        };
      });
      sendFds(a, enc.encode("go"), [w]);
      worker.postMessage(b);
      assert.equal(await done, 2);
      const buf = new Uint8Array(32);
      assert.equal(dec.decode(buf.subarray(0, read(r, buf)!)), "from worker");
    } finally {
      worker.terminate();
    }
  });
});

Deno.test("recvFds: more descriptors than maxFds is EMSGSIZE, and none of them leak", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    track(a, b);
    const pipes = Array.from({ length: 6 }, () => pipe2());
    for (const [r, w] of pipes) track(r, w);
    sendFds(a, enc.encode("x"), pipes.map(([, w]) => w));
    const before = openFds().size;
    assert.throws(() => recvFds(b, 16, 3), (err: unknown) => {
      assert.ok(err instanceof SyscallError, String(err));
      assert.equal(err.code, "EMSGSIZE");
      assert.match(err.message, /3 descriptors/);
      return true;
    });
    assert.equal(openFds().size, before, "the descriptors that did arrive were closed");
    // The stream goes on: the next message is intact.
    sendFds(a, enc.encode("next"), []);
    assert.equal(dec.decode(recvFds(b).data), "next");
  });
});

Deno.test("recvFds: a message longer than maxBytes is EMSGSIZE, not cut silently", async () => {
  await withFds((track) => {
    const [a, b] = seqpacketPair();
    const [r, w] = pipe2();
    track(a, b, r, w);
    sendFds(a, enc.encode("0123456789"), [w]);
    const before = openFds().size;
    assert.throws(() => recvFds(b, 4, 1), (err: unknown) => {
      assert.ok(err instanceof SyscallError, String(err));
      assert.equal(err.code, "EMSGSIZE");
      assert.match(err.message, /4 bytes/);
      return true;
    });
    assert.equal(openFds().size, before, "the passed descriptor was closed");
  });
});
