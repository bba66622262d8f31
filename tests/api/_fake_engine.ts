/**
 * An EngineApi for API tests: containers are plain host processes (no isolation) kept in
 * memory, so the HTTP layer's behaviour is tested without depending on the runtime; images
 * come from a real ImageService on a temp root when one is given.
 */
import * as path from "node:path";
import {
  ConflictError,
  InvalidStateError,
  NotFoundError,
  NotImplementedError,
} from "../../src/errors.ts";
import {
  ContainerExecError,
  type ContainerInspect,
  type ContainerStatus,
  type ContainerSummary,
  type CreateResult,
  type EngineApi,
  type ImageInspect,
  type ImageRemoveReport,
  type ImageSummary,
  type RunOptionsInput,
  type StartOptions,
  type WaitOptions,
} from "../../src/engine_api.ts";
import { Paths } from "../../src/paths.ts";
import { type OutputSink, toWritable } from "../../src/util/output_sink.ts";
import { ImageService } from "../../src/image/image_service.ts";
import { LayerStore } from "../../src/storage/layer_store.ts";
import { HostLayerFs } from "../../src/runtime/host_layer_fs.ts";

const NEVER = "0001-01-01T00:00:00Z";

interface Fake {
  id: string;
  name: string;
  options: RunOptionsInput;
  created: string;
  status: ContainerStatus;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  pid: number;
  child?: Deno.ChildProcess;
  done?: Promise<number>;
  removed: PromiseWithResolvers<void>;
  nextExit: PromiseWithResolvers<number>;
}

/** A real image service on `dir` (for pulls from the test registry and `docker images`). */
export function tempImages(dir: string): ImageService {
  const paths = new Paths(path.join(dir, "root"), path.join(dir, "run"));
  return new ImageService(paths, new LayerStore(paths, new HostLayerFs()), {
    authConfigPath: path.join(dir, "docker-config.json"),
    retries: 1,
    backoffMs: 10,
  });
}

/** The fake engine. `calls` records container verbs in order. */
export class FakeEngine implements EngineApi {
  readonly containers = new Map<string, Fake>();
  readonly calls: string[] = [];
  readonly #images?: ImageService;

  constructor(images?: ImageService) {
    this.#images = images;
  }

  #img(): ImageService {
    if (!this.#images) throw new NotImplementedError("No image service in this fake");
    return this.#images;
  }

  // Images ------------------------------------------------------------------------------------
  async pull(ref: string, options?: Parameters<EngineApi["pull"]>[1]): Promise<ImageSummary> {
    await this.#img().pull(ref, { onProgress: options?.onProgress, signal: options?.signal });
    return this.#img().list().find((i) => i.RepoTags.length)! as ImageSummary;
  }
  listImages(): Promise<ImageSummary[]> {
    return Promise.resolve(this.#images ? this.#img().list() : []);
  }
  inspectImage(ref: string): Promise<ImageInspect> {
    try {
      return Promise.resolve(this.#img().inspect(ref) as ImageInspect);
    } catch (err) {
      return Promise.reject(err);
    }
  }
  tag(source: string, target: string): Promise<void> {
    try {
      this.#img().tag(source, target);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }
  removeImage(ref: string, options?: { force?: boolean }): Promise<ImageRemoveReport[]> {
    return this.#img().remove(ref, options);
  }
  save(refs: string[], output: string | WritableStream<Uint8Array>): Promise<void> {
    return this.#img().save(refs, output);
  }
  load(input: string | ReadableStream<Uint8Array>): Promise<string[]> {
    return this.#img().load(input);
  }
  importImage(
    input: string | ReadableStream<Uint8Array>,
    options?: { ref?: string; changes?: string[] },
  ): Promise<string> {
    return this.#img().import(input, options);
  }
  login(): Promise<void> {
    return Promise.reject(new NotImplementedError("login"));
  }
  logout(): Promise<void> {
    return Promise.resolve();
  }

  // Containers --------------------------------------------------------------------------------
  #get(ref: string): Fake {
    const r = ref.replace(/^\//, "");
    for (const c of this.containers.values()) if (c.id === r || c.name === r) return c;
    const byPrefix = [...this.containers.values()].filter((c) => c.id.startsWith(r));
    if (r && byPrefix.length === 1) return byPrefix[0];
    throw new NotFoundError(`No such container: ${ref}`);
  }

  create(options: RunOptionsInput): Promise<CreateResult> {
    this.calls.push("create");
    if (this.#images) {
      try {
        this.#img().inspect(options.image);
      } catch (err) {
        return Promise.reject(err);
      }
    } else if (options.image !== "busybox") {
      return Promise.reject(new NotFoundError(`No such image: ${options.image}:latest`));
    }
    const id = Array.from(crypto.getRandomValues(new Uint8Array(32)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const name = options.name ?? `fake_${id.slice(0, 6)}`;
    for (const c of this.containers.values()) {
      if (c.name === name) {
        return Promise.reject(
          new ConflictError(`Conflict. The container name "/${name}" is already in use`),
        );
      }
    }
    this.containers.set(id, {
      id,
      name,
      options,
      created: new Date().toISOString(),
      status: "created",
      exitCode: 0,
      startedAt: NEVER,
      finishedAt: NEVER,
      pid: 0,
      removed: Promise.withResolvers(),
      nextExit: Promise.withResolvers(),
    });
    return Promise.resolve({ Id: id, Warnings: [] });
  }

  async start(ref: string, io: StartOptions = {}): Promise<void> {
    const c = this.#get(ref);
    this.calls.push("start");
    if (c.status === "running") return;
    const [cmd, ...args] = c.options.cmd ?? ["true"];
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(cmd, {
        args,
        stdin: io.stdin && c.options.interactive ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      c.status = "created";
      c.exitCode = 127;
      throw new ContainerExecError(
        `exec: "${cmd}": executable file not found in $PATH`,
        127,
        { cause: err },
      );
    }
    c.child = child;
    c.pid = child.pid;
    c.status = "running";
    c.startedAt = new Date().toISOString();
    c.finishedAt = NEVER;
    const pumps: Promise<unknown>[] = [];
    if (io.stdin && c.options.interactive) io.stdin.pipeTo(child.stdin).catch(() => {});
    const pump = (from: ReadableStream<Uint8Array>, to?: OutputSink | null) =>
      to ? from.pipeTo(toWritable(to), { preventClose: true }).catch(() => {}) : from.cancel();
    pumps.push(pump(child.stdout, io.stdout));
    pumps.push(pump(child.stderr, io.stderr));
    const next = c.nextExit;
    c.done = child.status.then(async (st) => {
      await Promise.all(pumps);
      c.status = "exited";
      c.exitCode = st.signal ? 128 + (st.signal === "SIGKILL" ? 9 : 15) : st.code;
      c.finishedAt = new Date().toISOString();
      c.pid = 0;
      c.nextExit = Promise.withResolvers();
      next.resolve(c.exitCode);
      return c.exitCode;
    });
    await Promise.resolve();
  }

  async run(): Promise<number> {
    return await Promise.reject(new NotImplementedError("run"));
  }

  async wait(ref: string, options: WaitOptions = {}): Promise<number> {
    const c = this.#get(ref);
    const cond = options.condition ?? "not-running";
    const aborted = new Promise<never>((_, reject) => {
      options.signal?.addEventListener("abort", () => reject(options.signal!.reason), {
        once: true,
      });
    });
    aborted.catch(() => {});
    if (cond === "removed") {
      await Promise.race([c.removed.promise, aborted]);
      return c.exitCode;
    }
    if (cond === "not-running" && c.status !== "running") return c.exitCode;
    return await Promise.race([c.nextExit.promise, aborted]);
  }

  kill(ref: string, signal: string | number = "KILL"): Promise<void> {
    const c = this.#get(ref);
    this.calls.push(`kill ${signal}`);
    if (c.status !== "running") {
      return Promise.reject(new InvalidStateError(`Container ${c.id} is not running`));
    }
    const name = typeof signal === "number" ? "SIGKILL" : `SIG${signal.replace(/^SIG/, "")}`;
    c.child!.kill(name as Deno.Signal);
    return Promise.resolve();
  }

  async stop(ref: string, options: { timeout?: number } = {}): Promise<void> {
    const c = this.#get(ref);
    this.calls.push(`stop ${options.timeout ?? ""}`);
    if (c.status !== "running") return;
    c.child!.kill("SIGTERM");
    const t = setTimeout(() => c.child?.kill("SIGKILL"), (options.timeout ?? 10) * 1000);
    await c.done;
    clearTimeout(t);
  }

  async remove(ref: string, options: { force?: boolean } = {}): Promise<void> {
    const c = this.#get(ref);
    this.calls.push("remove");
    if (c.status === "running") {
      if (!options.force) {
        throw new InvalidStateError(
          `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`,
        );
      }
      c.child!.kill("SIGKILL");
      await c.done;
    }
    this.containers.delete(c.id);
    c.removed.resolve();
  }

  list(options: { all?: boolean } = {}): Promise<ContainerSummary[]> {
    const out = [...this.containers.values()]
      .filter((c) => options.all || c.status === "running")
      .map((c): ContainerSummary => ({
        Id: c.id,
        Names: [`/${c.name}`],
        Image: c.options.image,
        ImageID: "sha256:" + "1".repeat(64),
        Command: (c.options.cmd ?? []).join(" "),
        Created: Math.floor(Date.parse(c.created) / 1000),
        State: c.status,
        Status: c.status === "running"
          ? "Up Less than a second"
          : c.status === "exited"
          ? `Exited (${c.exitCode}) Less than a second ago`
          : "Created",
        Labels: (c.options.labels ?? {}) as Record<string, string>,
        Ports: [],
        Mounts: [],
      }));
    return Promise.resolve(out.reverse());
  }

  inspect(ref: string): Promise<ContainerInspect> {
    try {
      const c = this.#get(ref);
      return Promise.resolve({
        Id: c.id,
        Created: c.created,
        Path: c.options.cmd?.[0] ?? "",
        Args: c.options.cmd?.slice(1) ?? [],
        State: {
          Status: c.status,
          Running: c.status === "running",
          Paused: false,
          Restarting: false,
          OOMKilled: false,
          Dead: false,
          Pid: c.pid,
          ExitCode: c.exitCode,
          Error: "",
          StartedAt: c.startedAt,
          FinishedAt: c.finishedAt,
        },
        Image: "sha256:" + "1".repeat(64),
        Name: `/${c.name}`,
        HostConfig: { AutoRemove: c.options.rm ?? false, ConsoleSize: [0, 0] },
        Config: {
          Image: c.options.image,
          Tty: c.options.tty ?? false,
          OpenStdin: c.options.interactive ?? false,
          Cmd: c.options.cmd ?? null,
          Labels: c.options.labels ?? {},
        },
      } as unknown as ContainerInspect);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  resize(): Promise<void> {
    return Promise.reject(new NotImplementedError("Cannot resize: no terminal in the fake"));
  }

  /** Kills whatever still runs (test cleanup). */
  async killAll(): Promise<void> {
    for (const c of this.containers.values()) {
      if (c.status === "running") {
        c.child?.kill("SIGKILL");
        await c.done;
      }
    }
  }
}
