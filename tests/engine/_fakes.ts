/**
 * Fakes for engine unit tests: an image backend over a temp layer directory, and a "runtime"
 * that runs the container command as a plain host process (no isolation) so the engine's
 * bookkeeping (state facts, wait, kill, stop, rm, streams) is testable without root.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { NotFoundError } from "../../src/errors.ts";
import type {
  ContainerProcessLike,
  ImageBackend,
  ImageForRun,
  LaunchRequestLike,
  RuntimeBackend,
  StdioFactory,
} from "../../src/engine.ts";

export function fakeImages(layerDir: string, config: ImageForRun["config"] = { Cmd: ["sh"] }) {
  fs.mkdirSync(path.join(layerDir, "etc"), { recursive: true });
  fs.writeFileSync(path.join(layerDir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  fs.writeFileSync(path.join(layerDir, "etc/group"), "root:x:0:\n");
  const calls: string[] = [];
  let present = true;
  const backend: ImageBackend & { calls: string[]; setPresent(v: boolean): void } = {
    calls,
    setPresent(v: boolean) {
      present = v;
    },
    resolveForRun(ref: string): ImageForRun {
      calls.push(`resolve ${ref}`);
      if (!present) throw new NotFoundError(`No such image: ${ref}`);
      return { imageId: "sha256:" + "1".repeat(64), config, layerDiffDirs: [layerDir] };
    },
    pull(ref: string): Promise<unknown> {
      calls.push(`pull ${ref}`);
      present = true;
      return Promise.resolve({});
    },
  };
  return backend;
}

interface FakeStdio {
  stdin?: WritableStream<Uint8Array>;
  stdout?: ReadableStream<Uint8Array>;
  stderr?: ReadableStream<Uint8Array>;
  childFds: [number, number, number];
  closeChildEnds(): void;
  close(): void;
  // child ends
  cin?: ReadableStream<Uint8Array>;
  cout?: WritableStream<Uint8Array>;
  cerr?: WritableStream<Uint8Array>;
}

export const fakeStdio: StdioFactory = (o) => {
  const s: FakeStdio = { childFds: [0, 1, 2], closeChildEnds() {}, close() {} };
  if (o.stdin === "pipe") {
    const t = new TransformStream<Uint8Array, Uint8Array>();
    s.stdin = t.writable;
    s.cin = t.readable;
  }
  if (o.stdout === "pipe") {
    const t = new TransformStream<Uint8Array, Uint8Array>();
    s.stdout = t.readable;
    s.cout = t.writable;
  }
  if (o.stderr === "pipe" && !o.tty) {
    const t = new TransformStream<Uint8Array, Uint8Array>();
    s.stderr = t.readable;
    s.cerr = t.writable;
  }
  return s;
};

function startTimeOf(pid: number): string {
  const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return text.slice(text.lastIndexOf(")") + 2).split(" ")[19];
}

export function fakeRuntime(): RuntimeBackend & {
  launched: LaunchRequestLike[];
  failWith?: Error;
} {
  const rt: RuntimeBackend & { launched: LaunchRequestLike[]; failWith?: Error } = {
    launched: [],
    launch(req: LaunchRequestLike): Promise<ContainerProcessLike> {
      rt.launched.push(req);
      if (rt.failWith) return Promise.reject(rt.failWith);
      const stdio = req.stdio as unknown as FakeStdio;
      const [cmd, ...args] = req.spec.process.args;
      const child = new Deno.Command(cmd, {
        args,
        env: Object.fromEntries(
          req.spec.process.env.map((
            e,
          ) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
        ),
        clearEnv: true,
        stdin: stdio.cin ? "piped" : "null",
        stdout: stdio.cout ? "piped" : "null",
        stderr: stdio.cerr ? "piped" : "null",
      }).spawn();
      const pumps: Promise<void>[] = [];
      if (stdio.cin) pumps.push(stdio.cin.pipeTo(child.stdin).catch(() => {}));
      if (stdio.cout) pumps.push(child.stdout.pipeTo(stdio.cout));
      if (stdio.cerr) pumps.push(child.stderr.pipeTo(stdio.cerr));
      req.onSpawn?.(child.pid);
      const exited = child.status.then(async (st) => {
        await Promise.all(pumps.slice(stdio.cin ? 1 : 0));
        return {
          exitCode: st.signal
            ? 128 + (st.signal === "SIGKILL" ? 9 : st.signal === "SIGTERM" ? 15 : 2)
            : st.code,
        };
      });
      return Promise.resolve({
        pid: child.pid,
        startTime: startTimeOf(child.pid),
        start() {},
        exited,
        kill(sig?: number | Deno.Signal) {
          child.kill(typeof sig === "string" ? sig : "SIGKILL");
        },
      });
    },
  };
  return rt;
}

/** A writable that collects text. */
export function collector(): { stream: WritableStream<Uint8Array>; text(): string } {
  const chunks: Uint8Array[] = [];
  return {
    stream: new WritableStream({
      write(c) {
        chunks.push(c);
      },
    }),
    text: () => new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
  };
}
