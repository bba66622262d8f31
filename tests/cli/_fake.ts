/**
 * A recording fake EngineApi and captured stdio for CLI unit tests. Used beside the real
 * subprocess tests, never instead of them.
 *
 * @module
 */
import type { CliIo } from "../../src/cli/context.ts";
import type {
  ContainerInspect,
  ContainerSummary,
  EngineApi,
  ImageInspect,
  ImageSummary,
} from "../../src/engine_api.ts";
import { main } from "../../src/cli/main.ts";
import { NotFoundError } from "../../src/errors.ts";
import { sinkWriter } from "../../src/util/output_sink.ts";

/** One recorded call. */
export type Call = [string, ...unknown[]];

/** Captured output and the exit code of one `main` call. */
export interface Result {
  code: number;
  out: string;
  err: string;
  calls: Call[];
}

/** Fake stdio; stdin delivers `stdinText`. */
export function fakeIo(stdinText = "", terminal = false): CliIo & { out: string; err: string } {
  const dec = new TextDecoder();
  const io = {
    out: "",
    err: "",
    writeOut(d: string | Uint8Array): void {
      io.out += typeof d === "string" ? d : dec.decode(d);
    },
    writeErr(d: string | Uint8Array): void {
      io.err += typeof d === "string" ? d : dec.decode(d);
    },
    stdin: (): ReadableStream<Uint8Array> =>
      new Blob([stdinText]).stream() as ReadableStream<Uint8Array>,
    stdoutStream: (): WritableStream<Uint8Array> =>
      new WritableStream({ write: (c) => io.writeOut(c) }),
    stderrStream: (): WritableStream<Uint8Array> =>
      new WritableStream({ write: (c) => io.writeErr(c) }),
    stdinIsTerminal: (): boolean => terminal,
    stdoutIsTerminal: (): boolean => terminal,
  };
  return io;
}

export const BUSYBOX_ID = "sha256:" + "ab".repeat(32);
export const CONTAINER_ID = "c0ffee".padEnd(64, "0");

export const IMAGES: ImageSummary[] = [
  {
    Id: BUSYBOX_ID,
    RepoTags: ["busybox:latest", "127.0.0.1:5000/busybox:v1"],
    RepoDigests: ["busybox@sha256:" + "cd".repeat(32)],
    Created: Math.floor(Date.now() / 1000) - 3 * 24 * 3600,
    Size: 4261234,
    Labels: null,
  },
  {
    Id: "sha256:" + "ef".repeat(32),
    RepoTags: [],
    RepoDigests: [],
    Created: Math.floor(Date.now() / 1000) - 3600,
    Size: 1234,
    Labels: null,
  },
];

/** A fake engine recording every call; behaviours overridable per test. */
export function fakeEngine(overrides: Partial<EngineApi> = {}): EngineApi & { calls: Call[] } {
  const calls: Call[] = [];
  const rec = (name: string, ...args: unknown[]): void => {
    calls.push([name, ...args]);
  };
  const base: EngineApi = {
    pull(ref, o) {
      rec("pull", ref, { platform: o?.platform });
      o?.onProgress?.({ status: "Pulling from library/busybox", id: "latest" });
      o?.onProgress?.({ status: "Pulling fs layer", id: "aaaaaaaaaaaa" });
      o?.onProgress?.({
        status: "Downloading",
        id: "aaaaaaaaaaaa",
        progressDetail: { current: 10, total: 100 },
      });
      o?.onProgress?.({ status: "Pull complete", id: "aaaaaaaaaaaa" });
      o?.onProgress?.({ status: "Digest: sha256:" + "cd".repeat(32) });
      o?.onProgress?.({ status: "Status: Downloaded newer image for busybox:latest" });
      return Promise.resolve(IMAGES[0]);
    },
    listImages(o) {
      rec("listImages", o);
      return Promise.resolve(structuredClone(IMAGES));
    },
    inspectImage(ref) {
      rec("inspectImage", ref);
      if (ref === "busybox" || ref === "busybox:latest") {
        return Promise.resolve({ Id: BUSYBOX_ID, RepoTags: ["busybox:latest"] } as ImageInspect);
      }
      return Promise.reject(new NotFoundError(`No such image: ${ref}`));
    },
    tag(s, t) {
      rec("tag", s, t);
      return Promise.resolve();
    },
    removeImage(ref, o) {
      rec("removeImage", ref, o);
      if (ref !== "busybox") return Promise.reject(new NotFoundError(`No such image: ${ref}`));
      return Promise.resolve([{ Untagged: "busybox:latest" }, { Deleted: BUSYBOX_ID }]);
    },
    save(refs, out) {
      rec("save", refs, typeof out === "string" ? out : "stream");
      return Promise.resolve();
    },
    load(input) {
      rec("load", typeof input === "string" ? input : "stream");
      return Promise.resolve(["busybox:latest"]);
    },
    importImage(input, o) {
      rec("importImage", typeof input === "string" ? input : "stream", o);
      return Promise.resolve(BUSYBOX_ID);
    },
    login(o) {
      rec("login", o);
      return Promise.resolve();
    },
    logout(s) {
      rec("logout", s);
      return Promise.resolve();
    },
    create(o) {
      rec("create", o);
      return Promise.resolve({ Id: CONTAINER_ID, Warnings: [] });
    },
    start(id) {
      rec("start", id);
      return Promise.resolve();
    },
    async run(o, io) {
      rec("run", o);
      io?.onCreated?.(CONTAINER_ID);
      const w = io?.stdout ? sinkWriter(io.stdout) : undefined;
      await w?.write(new TextEncoder().encode("hi\n"));
      w?.release();
      return 3;
    },
    wait(id) {
      rec("wait", id);
      return Promise.resolve(0);
    },
    kill(id, s) {
      rec("kill", id, s);
      return Promise.resolve();
    },
    stop(id) {
      rec("stop", id);
      return Promise.resolve();
    },
    remove(id, o) {
      rec("remove", id, o);
      if (id === "nosuch") return Promise.reject(new NotFoundError(`No such container: ${id}`));
      return Promise.resolve();
    },
    list(o) {
      rec("list", o);
      const now = Math.floor(Date.now() / 1000);
      const rows: ContainerSummary[] = [{
        Id: CONTAINER_ID,
        Names: ["/web"],
        Image: "busybox",
        ImageID: BUSYBOX_ID,
        Command: "sh -c 'echo a very long command line'",
        Created: now - 120,
        State: "exited",
        Status: "Exited (3) 1 minute ago",
        Labels: { a: "b" },
        Ports: [],
        Mounts: [],
      }];
      return Promise.resolve(o?.all ? rows : []);
    },
    inspect(id) {
      rec("inspect", id);
      if (id !== "web") return Promise.reject(new NotFoundError(`No such container: ${id}`));
      return Promise.resolve({
        Id: CONTAINER_ID,
        Name: "/web",
        State: { Status: "exited", ExitCode: 3 },
        Config: { Env: ["A=1"], Tty: false },
      } as unknown as ContainerInspect);
    },
    resize(id, size) {
      rec("resize", id, size);
      return Promise.resolve();
    },
  };
  return Object.assign(base, overrides, { calls });
}

/** Runs `main(args)` against `engine` with captured stdio. */
export async function cli(
  args: string[],
  engine: EngineApi & { calls: Call[] } = fakeEngine(),
  options: { stdin?: string; terminal?: boolean; env?: Record<string, string> } = {},
): Promise<Result> {
  const io = fakeIo(options.stdin, options.terminal);
  const code = await main(args, {
    engine,
    io,
    env: (n) => options.env?.[n],
  });
  return { code, out: io.out, err: io.err, calls: engine.calls };
}
