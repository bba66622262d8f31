/**
 * {@link EngineApi} over the Docker Engine API on a unix socket: what the CLI uses when a
 * daemon is reachable. One connection per request (attach and wait hold theirs open), so calls
 * never queue behind a long-running stream.
 *
 * @module
 */
import {
  DockerTsError,
  type ErrorKind,
  InvalidArgumentError,
  UnavailableError,
} from "../errors.ts";
import { basenamePath, dirnamePath, joinPath, resolvePath } from "../util/path.ts";
import { lazyImport } from "../util/lazy_import.ts";
import {
  type ConsoleSize,
  ContainerExecError,
  type ContainerInspect,
  type ContainerStats,
  type ContainerSummary,
  type CreateResult,
  type EngineApi,
  type EngineEvent,
  type ExecCreateOptions,
  type ExecInspect,
  type ExecStartOptions,
  type ImageInspect,
  type ImageRemoveReport,
  type ImageSummary,
  type LogEntry,
  type LoginOptions,
  type LogsOptions,
  type NetworkCreateOptions,
  type NetworkInspect,
  OutputWriteError,
  outputWriteError,
  type PruneOptions,
  type PruneReport,
  type PullOptions,
  type PullProgress,
  type RemoveOptions,
  type RunIo,
  type RunOptionsInput,
  type StartOptions,
  type StdioStreams,
  type SupervisionOptionsInput,
  type TopResult,
  type WaitOptions,
} from "../engine_api.ts";
import { parsePublish, portBindingsOf } from "../network/port_spec.ts";
import type { TarStreamEntry } from "../image/tar_writer.ts";
import { parseBytes, parseNanoCpus } from "../spec/size_parse.ts";
import { ConnReader } from "./conn_reader.ts";
import { demuxStream, FrameDecoder } from "./stream_framing.ts";
import { type ByteWriter, guardSink, type OutputSink } from "../util/output_sink.ts";
import type { AttachOutcome, ContainerAttachOptions } from "../container/attach_hub.ts";
import { DetachKeyScanner, parseDetachKeys } from "../container/detach_keys.ts";

const encoder = new TextEncoder();

const KIND_BY_STATUS: Record<number, ErrorKind> = {
  400: "InvalidArgument",
  401: "Unauthorized",
  403: "Unauthorized",
  404: "NotFound",
  409: "Conflict",
  501: "NotImplemented",
  503: "Unavailable",
};

/** An error answer of the daemon, with the category its status maps back to. */
export class ApiError extends DockerTsError {
  /** HTTP status the daemon answered. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(KIND_BY_STATUS[status] ?? "Internal", message);
    this.status = status;
  }
}

interface RequestOptions {
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: string | Uint8Array | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  /** Sent as a JSON body. */
  json?: unknown;
}

/** Options of {@link Client}. */
export interface ClientOptions {
  /** Unix socket path of the daemon. */
  socket: string;
  /** API version prefix (default 1.41). */
  version?: string;
}

/**
 * Maps the engine's run options to a `POST /containers/create` body (Docker's Config with a
 * HostConfig), the inverse of the server's mapping.
 */
export function createBodyFromRunOptions(
  o: RunOptionsInput & SupervisionOptionsInput,
): Record<string, unknown> {
  const entrypoint = o.entrypoint === undefined || o.entrypoint === null
    ? null
    : typeof o.entrypoint === "string"
    ? [o.entrypoint]
    : o.entrypoint;
  const labels = Array.isArray(o.labels)
    ? Object.fromEntries(o.labels.map((l) => {
      const eq = l.indexOf("=");
      return eq < 0 ? [l, ""] : [l.slice(0, eq), l.slice(eq + 1)];
    }))
    : (o.labels ?? {});
  if (o.envFile?.length) {
    throw new InvalidArgumentError(
      "Cannot send --env-file to a daemon: expand the file into --env first",
    );
  }
  const bytes = (v: string | number | undefined, flag: string): number | undefined =>
    v === undefined ? undefined : parseBytes(v, flag);
  const swap = o.memorySwap === -1 || o.memorySwap === "-1"
    ? -1
    : bytes(o.memorySwap, "memory-swap");
  const restart = typeof o.restart === "string"
    ? (() => {
      const [name, count] = o.restart.split(":");
      return { Name: name, MaximumRetryCount: count ? Number(count) : 0 };
    })()
    : o.restart
    ? { Name: o.restart.Name ?? "no", MaximumRetryCount: o.restart.MaximumRetryCount ?? 0 }
    : { Name: "no", MaximumRetryCount: 0 };
  const logConfig = Array.isArray(o.logOpts)
    ? Object.fromEntries(o.logOpts.map((kv) => {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new InvalidArgumentError(`Invalid --log-opt "${kv}": use key=value`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }))
    : (o.logOpts ?? {});
  const exposed: Record<string, Record<string, never>> = {};
  for (const e of o.expose ?? []) exposed[e.includes("/") ? e : `${e}/tcp`] = {};
  const portBindings = portBindingsOf((o.publish ?? []).flatMap((p) => parsePublish(p)));
  for (const key of Object.keys(portBindings)) exposed[key] = {};
  return {
    Image: o.image,
    ...(Object.keys(exposed).length ? { ExposedPorts: exposed } : {}),
    Cmd: o.cmd ?? null,
    Entrypoint: entrypoint,
    Env: o.env ?? [],
    WorkingDir: o.workdir ?? "",
    User: o.user ?? "",
    Hostname: o.hostname ?? "",
    Labels: labels,
    Tty: o.tty ?? false,
    OpenStdin: o.interactive ?? false,
    StdinOnce: o.stdinOnce ?? false,
    AttachStdin: (o.interactive ?? false) && !o.detach,
    AttachStdout: !o.detach,
    AttachStderr: !o.detach,
    ...(o.stopSignal ? { StopSignal: o.stopSignal } : {}),
    ...(o.stopTimeout !== undefined ? { StopTimeout: o.stopTimeout } : {}),
    HostConfig: {
      Binds: o.volumes ?? [],
      Tmpfs: Object.fromEntries((o.tmpfs ?? []).map((t) => {
        const c = t.indexOf(":");
        return c < 0 ? [t, ""] : [t.slice(0, c), t.slice(c + 1)];
      })),
      Mounts: [],
      NetworkMode: o.network ?? "default",
      AutoRemove: o.rm ?? false,
      Privileged: o.privileged ?? false,
      ReadonlyRootfs: o.readOnly ?? false,
      CapAdd: o.capAdd ?? [],
      GroupAdd: o.groupAdd ?? [],
      CapDrop: o.capDrop ?? [],
      SecurityOpt: o.securityOpt ?? [],
      Ulimits: (o.ulimits ?? []).map((u) => {
        const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
        if (!m) throw new InvalidArgumentError(`Invalid --ulimit "${u}"`);
        return { Name: m[1], Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
      }),
      Memory: bytes(o.memory, "memory") ?? 0,
      MemorySwap: swap ?? 0,
      NanoCpus: o.cpus === undefined ? 0 : parseNanoCpus(o.cpus),
      CpuShares: o.cpuShares ?? 0,
      CpusetCpus: o.cpusetCpus ?? "",
      PidsLimit: o.pidsLimit ?? null,
      ShmSize: bytes(o.shmSize, "shm-size") ?? 0,
      Dns: o.dns ?? [],
      DnsSearch: o.dnsSearch ?? [],
      DnsOptions: o.dnsOptions ?? [],
      ExtraHosts: o.addHosts ?? [],
      PortBindings: portBindings,
      PublishAllPorts: o.publishAll ?? false,
      RestartPolicy: restart,
      LogConfig: { Type: "json-file", Config: logConfig },
    },
    // `--ip` and `--network-alias` travel per network, as the docker CLI sends them.
    ...(o.ip || o.networkAliases?.length
      ? {
        NetworkingConfig: {
          EndpointsConfig: {
            [o.network ?? "default"]: {
              ...(o.networkAliases?.length ? { Aliases: o.networkAliases } : {}),
              ...(o.ip ? { IPAMConfig: { IPv4Address: o.ip } } : {}),
            },
          },
        },
      }
      : {}),
    // `--mount` CSV strings have no Docker JSON equivalent here; refuse rather than drop them.
    ...(o.mounts?.length
      ? (() => {
        throw new InvalidArgumentError("Cannot send --mount to a daemon yet: use -v or --tmpfs");
      })()
      : {}),
  };
}

/**
 * The Engine API client.
 *
 * @example
 * ```ts ignore
 * import { Client } from "./client.ts";
 * const api = new Client({ socket: "/run/docker-ts/docker-ts.sock" });
 * console.log((await api.listImages()).map((i) => i.RepoTags));
 * ```
 */
export class Client implements EngineApi {
  readonly socket: string;
  readonly #prefix: string;

  constructor(options: ClientOptions) {
    this.socket = options.socket;
    this.#prefix = `/v${options.version ?? "1.41"}`;
  }

  /** Whether a daemon answers `_ping` on the socket. */
  async ping(): Promise<boolean> {
    try {
      const r = await this.#request("GET", "/_ping");
      const text = await r.text();
      return r.status === 200 && text === "OK";
    } catch {
      return false;
    }
  }

  async #connect(): Promise<Deno.UnixConn> {
    try {
      return await Deno.connect({ transport: "unix", path: this.socket });
    } catch (err) {
      throw new UnavailableError(
        `Cannot connect to the docker-ts daemon at unix://${this.socket}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
  }

  /** Sends a request; the body may be bytes, a string or a stream (sent chunked). */
  async #request(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<DaemonResponse> {
    const t0 = performance.now();
    const conn = await this.#connect();
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) { for (const x of v) q.append(k, x); }
      else q.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
    }
    const target = `${this.#prefix}${path}${q.size ? `?${q}` : ""}`;
    const headers: Record<string, string> = {
      Host: "docker-ts",
      "User-Agent": "docker-ts-client",
      ...options.headers,
    };
    const body = options.body;
    const streamed = body instanceof ReadableStream;
    const bytes = typeof body === "string" ? encoder.encode(body) : streamed ? undefined : body;
    if (streamed) headers["Transfer-Encoding"] = "chunked";
    else if (bytes) headers["Content-Length"] = String(bytes.length);
    let head = `${method} ${target} HTTP/1.1\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const write = async (data: Uint8Array): Promise<void> => {
      let rest = data;
      while (rest.length) rest = rest.subarray(await conn.write(rest));
    };
    try {
      await write(encoder.encode(head + "\r\n"));
      if (bytes) await write(bytes);
      if (streamed) {
        for await (const chunk of body) {
          if (!chunk.length) continue;
          await write(encoder.encode(`${chunk.length.toString(16)}\r\n`));
          await write(chunk);
          await write(encoder.encode("\r\n"));
        }
        await write(encoder.encode("0\r\n\r\n"));
      }
      const response = await readResponse(conn, method === "HEAD");
      // DOCKER_TS_TRACE=1: when each request went out and its answer's head came back.
      if (TRACE) {
        console.error(
          `[trace] client ${method} ${path} sent@${t0.toFixed(1)} head@${
            performance.now().toFixed(1)
          } status ${response.status}`,
        );
      }
      return response;
    } catch (err) {
      conn.close();
      throw err;
    }
  }

  /** Request → JSON (throws {@link ApiError} for status ≥ 400). */
  async #json<T>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<T> {
    const r = await this.#call(method, path, options);
    const text = await r.text();
    return (text.trim() ? JSON.parse(text) : undefined) as T;
  }

  async #call(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<DaemonResponse> {
    const { json, ...rest } = options;
    if (json !== undefined) {
      rest.body = JSON.stringify(json);
      rest.headers = { ...rest.headers, "Content-Type": "application/json" };
    }
    const r = await this.#request(method, path, rest);
    if (r.status >= 400) throw await errorOf(r);
    return r;
  }

  async #noContent(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<number> {
    const r = await this.#call(method, path, options);
    r.close();
    return r.status;
  }

  /** Reads a JSON-lines progress stream; throws on an `error` line. */
  async #progress(
    r: DaemonResponse,
    onProgress?: (e: PullProgress) => void,
  ): Promise<PullProgress[]> {
    const all: PullProgress[] = [];
    let buf = "";
    const handle = (line: string): void => {
      if (!line.trim()) return;
      const msg = JSON.parse(line);
      if (msg.error) throw new ApiError(500, msg.errorDetail?.message ?? msg.error);
      all.push(msg);
      onProgress?.(msg);
    };
    for await (const chunk of r.body.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        handle(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    }
    handle(buf);
    return all;
  }

  // Images ------------------------------------------------------------------------------------

  /** {@inheritDoc EngineApi.pull} */
  async pull(ref: string, options: PullOptions = {}): Promise<ImageSummary> {
    const r = await this.#call("POST", "/images/create", {
      query: { fromImage: ref, platform: options.platform },
      headers: { "X-Registry-Auth": "e30=" },
    });
    await this.#progress(r, options.onProgress);
    const img = await this.inspectImage(ref);
    return {
      Id: img.Id,
      RepoTags: img.RepoTags,
      RepoDigests: img.RepoDigests,
      Created: Math.floor(Date.parse(img.Created) / 1000),
      Size: img.Size,
    };
  }
  /** {@inheritDoc EngineApi.listImages} */
  listImages(options: { all?: boolean } = {}): Promise<ImageSummary[]> {
    return this.#json("GET", "/images/json", { query: { all: options.all } });
  }
  /** {@inheritDoc EngineApi.inspectImage} */
  inspectImage(ref: string): Promise<ImageInspect> {
    return this.#json("GET", `/images/${ref}/json`);
  }
  /** {@inheritDoc EngineApi.push} */
  async push(
    ref: string,
    options: { onProgress?: (e: PullProgress) => void } = {},
  ): Promise<unknown> {
    const r = await this.#call("POST", `/images/${ref}/push`, {
      headers: { "X-Registry-Auth": "e30=" },
    });
    return await this.#progress(r, options.onProgress);
  }
  /** {@inheritDoc EngineApi.tag} */
  async tag(source: string, target: string): Promise<void> {
    const slash = target.lastIndexOf("/");
    const colon = target.lastIndexOf(":");
    const [repo, tag] = colon > slash
      ? [target.slice(0, colon), target.slice(colon + 1)]
      : [target, "latest"];
    await this.#noContent("POST", `/images/${source}/tag`, { query: { repo, tag } });
  }
  /** {@inheritDoc EngineApi.removeImage} */
  removeImage(
    ref: string,
    options: { force?: boolean; noPrune?: boolean } = {},
  ): Promise<ImageRemoveReport[]> {
    return this.#json("DELETE", `/images/${ref}`, {
      query: { force: options.force, noprune: options.noPrune },
    });
  }
  /** {@inheritDoc EngineApi.save} */
  async save(refs: string[], output: string | WritableStream<Uint8Array>): Promise<void> {
    const r = await this.#call("GET", "/images/get", { query: { names: refs } });
    if (typeof output !== "string") {
      await r.body.pipeTo(output);
      return;
    }
    // Atomic like the engine's own save: temp file, then rename.
    const tmp = `${output}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
      await r.body.pipeTo(f.writable);
      await Deno.rename(tmp, output);
    } catch (err) {
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
  }
  /** {@inheritDoc EngineApi.load} */
  async load(input: string | ReadableStream<Uint8Array>): Promise<string[]> {
    const body = typeof input === "string" ? (await Deno.open(input)).readable : input;
    const r = await this.#call("POST", "/images/load", {
      body,
      query: { quiet: true },
      headers: { "Content-Type": "application/x-tar" },
    });
    const lines = (await r.text()).split("\n").filter((l) => l);
    const names: string[] = [];
    for (const l of lines) {
      const msg = JSON.parse(l);
      if (msg.error) throw new ApiError(500, msg.errorDetail?.message ?? msg.error);
      const m = /^Loaded image(?: ID)?: (.*)\n?$/.exec(msg.stream ?? "");
      if (m) names.push(m[1]);
    }
    return names;
  }
  /** {@inheritDoc EngineApi.importImage} */
  async importImage(
    input: string | ReadableStream<Uint8Array>,
    options: { ref?: string; changes?: string[] } = {},
  ): Promise<string> {
    const body = typeof input === "string" ? (await Deno.open(input)).readable : input;
    let repo: string | undefined;
    let tag: string | undefined;
    if (options.ref) {
      const slash = options.ref.lastIndexOf("/");
      const colon = options.ref.lastIndexOf(":");
      [repo, tag] = colon > slash
        ? [options.ref.slice(0, colon), options.ref.slice(colon + 1)]
        : [options.ref, undefined];
    }
    const r = await this.#call("POST", "/images/create", {
      body,
      query: { fromSrc: "-", repo, tag, changes: options.changes },
      headers: { "Content-Type": "text/plain" },
    });
    const events = await this.#progress(r);
    return events.at(-1)?.status ?? "";
  }
  /** {@inheritDoc EngineApi.login} */
  async login(options: LoginOptions): Promise<void> {
    await this.#json("POST", "/auth", {
      json: {
        username: options.username,
        password: options.password,
        serveraddress: options.server ?? "",
      },
    });
  }
  /** {@inheritDoc EngineApi.logout} */
  logout(_server?: string): Promise<void> {
    // Docker's logout is client-side only (the daemon keeps no session).
    return Promise.resolve();
  }

  // Containers --------------------------------------------------------------------------------

  /** {@inheritDoc EngineApi.create} */
  async create(options: RunOptionsInput): Promise<CreateResult> {
    const body = createBodyFromRunOptions(options);
    const send = () =>
      this.#json<CreateResult>("POST", "/containers/create", {
        query: { name: options.name, platform: options.platform },
        json: body,
      });
    if (options.pull === "always") await this.pull(options.image, { platform: options.platform });
    try {
      return await send();
    } catch (err) {
      // The daemon never pulls on create: a 404 for the image is the client's cue (as the CLI).
      if (
        !(err instanceof ApiError) || err.status !== 404 || options.pull === "never" ||
        !/^No such image/.test(err.message)
      ) throw err;
      await this.pull(options.image, { platform: options.platform });
      return await send();
    }
  }

  /** Opens the attach stream (before start, so no output is lost). */
  async #attach(
    id: string,
    io: StartOptions,
    tty: boolean,
  ): Promise<{ output: Promise<void> }> {
    const r = await this.#call("POST", `/containers/${id}/attach`, {
      query: {
        stream: true,
        stdin: io.stdin ? true : undefined,
        stdout: io.stdout ? true : undefined,
        stderr: io.stderr ? true : undefined,
      },
      headers: { Connection: "Upgrade", Upgrade: "tcp" },
    });
    const conn = r.conn;
    const input = io.stdin
      ? (async () => {
        try {
          for await (const chunk of io.stdin!) {
            let rest = chunk;
            while (rest.length) rest = rest.subarray(await conn.write(rest));
          }
        } catch {
          // the container's stdin closed
        }
        await conn.closeWrite().catch(() => {});
      })()
      : conn.closeWrite().catch(() => {});
    const output = (async () => {
      try {
        await pumpOutput(r, tty, io);
      } finally {
        void input;
        try {
          conn.close();
        } catch {
          // closed
        }
      }
    })();
    return { output };
  }

  /** {@inheritDoc EngineApi.start} */
  async start(id: string, options: StartOptions = {}): Promise<void> {
    const wantsIo = options.stdin || options.stdout || options.stderr;
    let output: Promise<void> | undefined;
    if (wantsIo) {
      const info = await this.inspect(id);
      output = (await this.#attach(info.Id, options, info.Config.Tty)).output;
      output.catch(() => {});
    }
    if (options.consoleSize) {
      await this.#noContent("POST", `/containers/${id}/resize`, {
        query: { h: options.consoleSize.rows, w: options.consoleSize.cols },
      }).catch(() => {});
    }
    await this.#noContent("POST", `/containers/${id}/start`);
  }

  /** {@inheritDoc EngineApi.run} */
  async run(options: RunOptionsInput, io: RunIo = {}): Promise<number> {
    const { Id: id } = await this.create(options);
    io.onCreated?.(id);
    const onAbort = () => this.kill(id, "KILL").catch(() => {});
    io.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const wantsIo = io.stdin || io.stdout || io.stderr;
      const output = wantsIo
        ? (await this.#attach(id, io, options.tty === true)).output
        : Promise.resolve();
      // With onOutputError "end", the caller's sink failing (a closed stdout) ends the run at
      // once, as docker's CLI does; the container runs on in the daemon. Handled from here on,
      // so a failed write is never an unhandled rejection.
      const outputFailed = output.then(
        () => new Promise<never>(() => {}),
        (err) => {
          if (err instanceof OutputWriteError && io.onOutputError === "end") throw err;
          // Output lost (or the stream broke): the container runs on; the wait still answers.
          return new Promise<never>(() => {});
        },
      );
      outputFailed.catch(() => {});
      const waiting = this.wait(id, { condition: options.rm ? "removed" : "next-exit" });
      if (io.consoleSize) {
        await this.#noContent("POST", `/containers/${id}/resize`, {
          query: { h: io.consoleSize.rows, w: io.consoleSize.cols },
        }).catch(() => {});
      }
      try {
        await this.#noContent("POST", `/containers/${id}/start`);
      } catch (err) {
        waiting.catch(() => {});
        if (err instanceof ApiError) {
          if (/executable file not found|no such file or directory/.test(err.message)) {
            throw new ContainerExecError(err.message, 127, { cause: err });
          }
          // docker's rule: 126 for "permission denied" and "is a directory" (and the other
          // cannot-execute errors the init reports with `exec: "x": …`).
          if (/permission denied|is a directory|exec format error|exec: ".*": /.test(err.message)) {
            throw new ContainerExecError(err.message, 126, { cause: err });
          }
        }
        throw err;
      }
      const code = await Promise.race([waiting, outputFailed]).catch((err) => {
        waiting.catch(() => {});
        throw err;
      });
      await output.catch(() => {});
      io.signal?.throwIfAborted();
      return code;
    } finally {
      io.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** The daemon's `GET /version` answer. */
  serverVersion(): Promise<ServerVersion> {
    return this.#json("GET", "/version");
  }

  /** {@inheritDoc EngineApi.wait} */
  async wait(id: string, options: WaitOptions = {}): Promise<number> {
    const r = await this.#call("POST", `/containers/${id}/wait`, {
      query: { condition: options.condition },
    });
    const onAbort = () => r.conn.close();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const text = await r.text();
      if (TRACE) console.error(`[trace] client wait answered@${performance.now().toFixed(1)}`);
      options.signal?.throwIfAborted();
      const msg = JSON.parse(text) as { StatusCode: number; Error: { Message: string } | null };
      if (msg.Error?.Message) throw new ApiError(500, msg.Error.Message);
      return msg.StatusCode;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** {@inheritDoc EngineApi.kill} */
  async kill(id: string, signal: string | number = "KILL"): Promise<void> {
    await this.#noContent("POST", `/containers/${id}/kill`, { query: { signal: String(signal) } });
  }
  /** {@inheritDoc EngineApi.stop} */
  async stop(id: string, options: { timeout?: number; signal?: string } = {}): Promise<void> {
    await this.#noContent("POST", `/containers/${id}/stop`, {
      query: { t: options.timeout, signal: options.signal },
    });
  }
  /** {@inheritDoc EngineApi.remove} */
  async remove(id: string, options: RemoveOptions = {}): Promise<void> {
    await this.#noContent("DELETE", `/containers/${id}`, {
      query: { force: options.force, v: options.volumes },
    });
  }
  /** {@inheritDoc EngineApi.list} */
  list(options: { all?: boolean; size?: boolean } = {}): Promise<ContainerSummary[]> {
    return this.#json("GET", "/containers/json", {
      query: { all: options.all, size: options.size },
    });
  }
  /** {@inheritDoc EngineApi.inspect} */
  inspect(id: string): Promise<ContainerInspect> {
    return this.#json("GET", `/containers/${id}/json`);
  }
  /** {@inheritDoc EngineApi.resize} */
  async resize(id: string, size: ConsoleSize): Promise<void> {
    await this.#noContent("POST", `/containers/${id}/resize`, {
      query: { h: size.rows, w: size.cols },
    });
  }

  /**
   * Attaches to a running container over `POST /containers/{id}/attach` (see `Engine.attach`).
   * The detach keys are also watched here, as docker's CLI does: the daemon cannot tell the
   * client why it closed, and the keys never reach the container.
   */
  async attach(id: string, options: ContainerAttachOptions = {}): Promise<AttachOutcome> {
    const scanner = new DetachKeyScanner(parseDetachKeys(options.detachKeys || undefined));
    const info = await this.inspect(id);
    const tty = info.Config.Tty;
    const stdin = options.stdin && info.Config.OpenStdin ? options.stdin : null;
    const r = await this.#call("POST", `/containers/${info.Id}/attach`, {
      query: {
        stream: true,
        stdin: stdin ? true : undefined,
        stdout: options.stdout ? true : undefined,
        stderr: options.stderr ? true : undefined,
        detachKeys: options.detachKeys,
      },
      headers: { Connection: "Upgrade", Upgrade: "tcp" },
    });
    const conn = r.conn;
    options.onAttached?.();
    let outcome: AttachOutcome | undefined;
    const end = (o: AttachOutcome): void => {
      outcome ??= o;
      try {
        conn.close();
      } catch {
        // closed
      }
    };
    const onAbort = (): void => end("aborted");
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    if (stdin) {
      reader = stdin.getReader();
      const rd = reader;
      (async () => {
        try {
          for (;;) {
            const { done, value } = await rd.read();
            if (done) break;
            const { data, detached } = scanner.push(value);
            let rest = data;
            while (rest.length) rest = rest.subarray(await conn.write(rest));
            if (detached) return end("detached");
          }
        } catch {
          return; // the connection closed: output ends too
        }
        // Docker's CLI half-closes at the end of input; the daemon decides what follows.
        outcome ??= "stdin-closed";
        await conn.closeWrite().catch(() => {});
      })();
    } else {
      await conn.closeWrite().catch(() => {});
    }
    try {
      await pumpOutput(r, tty, options);
    } catch {
      // the connection closed (detach, abort) or the caller's sink failed
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      end(outcome ?? "exited");
      reader?.cancel().catch(() => {});
    }
    // The daemon ends the stream at the exit or after the input ended; which one, the
    // container's state tells.
    if (outcome === "stdin-closed") {
      const now = await this.inspect(info.Id).catch(() => undefined);
      if (!now?.State.Running) outcome = "exited";
    }
    return outcome ?? "exited";
  }

  // Detached containers -------------------------------------------------------------------------

  /** {@inheritDoc EngineApiDetached.logs} */
  async *logs(id: string, options: LogsOptions = {}): AsyncGenerator<LogEntry> {
    const info = await this.inspect(id);
    const r = await this.#call("GET", `/containers/${info.Id}/logs`, {
      query: {
        stdout: options.stdout ?? true,
        stderr: options.stderr ?? true,
        follow: options.follow,
        tail: options.tail === undefined || options.tail < 0 ? "all" : options.tail,
        since: options.since === undefined ? undefined : String(options.since),
        until: options.until === undefined ? undefined : String(options.until),
        // Each entry's time travels as a prefix; it is split off again below.
        timestamps: true,
      },
    });
    const onAbort = () => r.close();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const entry = (stream: "stdout" | "stderr", data: Uint8Array): LogEntry => {
      const sp = data.indexOf(32);
      const time = sp > 0 ? new TextDecoder().decode(data.subarray(0, sp)) : "";
      return { stream, time, data: sp > 0 ? data.slice(sp + 1) : data };
    };
    try {
      if (info.Config.Tty) {
        let buf = new Uint8Array(0);
        for await (const chunk of r) {
          const next = new Uint8Array(buf.length + chunk.length);
          next.set(buf);
          next.set(chunk, buf.length);
          buf = next;
          let nl: number;
          while ((nl = buf.indexOf(10)) >= 0) {
            yield entry("stdout", buf.slice(0, nl + 1));
            buf = buf.subarray(nl + 1);
          }
        }
        if (buf.length) yield entry("stdout", buf.slice());
      } else {
        const decoder = new FrameDecoder();
        for await (const chunk of r) {
          for (const f of decoder.push(chunk)) {
            yield entry(f.stream === 2 ? "stderr" : "stdout", f.data);
          }
        }
      }
    } catch (err) {
      if (!options.signal?.aborted) throw err;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      try {
        r.conn.close();
      } catch {
        // closed
      }
    }
  }
  /** {@inheritDoc EngineApiDetached.pause} */
  async pause(id: string): Promise<void> {
    await this.#noContent("POST", `/containers/${id}/pause`);
  }
  /** {@inheritDoc EngineApiDetached.unpause} */
  async unpause(id: string): Promise<void> {
    await this.#noContent("POST", `/containers/${id}/unpause`);
  }
  /** {@inheritDoc EngineApiDetached.restart} */
  async restart(id: string, options: { timeout?: number } = {}): Promise<void> {
    await this.#noContent("POST", `/containers/${id}/restart`, { query: { t: options.timeout } });
  }
  /** {@inheritDoc EngineApiDetached.top} */
  top(id: string, psArgs?: string): Promise<TopResult> {
    return this.#json("GET", `/containers/${id}/top`, { query: { ps_args: psArgs } });
  }
  /** {@inheritDoc EngineApiDetached.stats} */
  stats(id: string): Promise<ContainerStats> {
    return this.#json("GET", `/containers/${id}/stats`, { query: { stream: false } });
  }
  /** {@inheritDoc EngineApiDetached.rename} */
  async rename(id: string, newName: string): Promise<void> {
    await this.#noContent("POST", `/containers/${id}/rename`, { query: { name: newName } });
  }
  /** {@inheritDoc EngineApiDetached.prune} */
  async prune(options: PruneOptions = {}): Promise<PruneReport> {
    const filters: Record<string, string[]> = {};
    if (options.labels?.length) filters.label = options.labels;
    if (options.until !== undefined) filters.until = [String(options.until)];
    const r = await this.#json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>(
      "POST",
      "/containers/prune",
      { query: { filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined } },
    );
    return { ContainersDeleted: r.ContainersDeleted ?? [], SpaceReclaimed: r.SpaceReclaimed };
  }
  /** {@inheritDoc EngineApiDetached.execCreate} */
  async execCreate(id: string, options: ExecCreateOptions): Promise<string> {
    const r = await this.#json<{ Id: string }>("POST", `/containers/${id}/exec`, {
      json: {
        Cmd: options.cmd,
        Env: options.env ?? [],
        User: options.user ?? "",
        WorkingDir: options.workdir ?? "",
        Tty: options.tty ?? false,
        AttachStdin: options.interactive ?? false,
        AttachStdout: true,
        AttachStderr: true,
        Privileged: options.privileged ?? false,
      },
    });
    return r.Id;
  }
  /** {@inheritDoc EngineApiDetached.execStart} */
  async execStart(execId: string, options: ExecStartOptions = {}): Promise<void> {
    if (options.detach) {
      await this.#noContent("POST", `/exec/${execId}/start`, { json: { Detach: true } });
      return;
    }
    const info = await this.execInspect(execId);
    const tty = info.ProcessConfig.tty;
    const cs = options.consoleSize;
    const r = await this.#call("POST", `/exec/${execId}/start`, {
      json: { Detach: false, Tty: tty, ...(cs ? { ConsoleSize: [cs.rows, cs.cols] } : {}) },
      headers: { Connection: "Upgrade", Upgrade: "tcp" },
    });
    await this.#pump(r, { ...options, stdin: info.OpenStdin ? options.stdin : null }, tty);
  }
  /** {@inheritDoc EngineApiDetached.execInspect} */
  execInspect(execId: string): Promise<ExecInspect> {
    return this.#json("GET", `/exec/${execId}/json`);
  }
  /** {@inheritDoc EngineApiDetached.execResize} */
  async execResize(execId: string, size: ConsoleSize): Promise<void> {
    await this.#noContent("POST", `/exec/${execId}/resize`, {
      query: { h: size.rows, w: size.cols },
    });
  }
  /** {@inheritDoc EngineApiDetached.events} */
  events(listener: (e: EngineEvent) => void): () => void {
    const stop = new AbortController();
    (async () => {
      const r = await this.#call("GET", "/events", {
        query: { filters: JSON.stringify({ type: ["container"] }) },
      });
      stop.signal.addEventListener("abort", () => {
        try {
          r.conn.close();
        } catch {
          // closed
        }
      }, { once: true });
      let buf = "";
      for await (const chunk of r.body.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const m = JSON.parse(line);
          listener({
            Type: "container",
            Action: m.Action,
            id: m.Actor?.ID ?? m.id,
            attributes: m.Actor?.Attributes ?? {},
            timeNano: m.timeNano,
          });
        }
      }
    })().catch(() => {});
    return () => stop.abort();
  }
  /** {@inheritDoc EngineApiDetached.copyFrom} */
  async copyFrom(id: string, src: string, dest: string): Promise<void> {
    // Loaded on demand: only `cp` pays for the tar code.
    const [{ copyInto }, { extractConfined }] = await Promise.all([
      lazyImport<typeof import("../container/cp_paths.ts")>(
        new URL("../container/cp_paths.ts", import.meta.url),
      ),
      lazyImport<typeof import("../container/cp_archive.ts")>(
        new URL("../container/cp_archive.ts", import.meta.url),
      ),
    ]);
    const r = await this.#call("GET", `/containers/${id}/archive`, { query: { path: src } });
    // Extracted beside the destination first, so Docker's copy rule applies locally.
    const parent = dirnamePath(resolvePath(dest));
    const tmp = await Deno.makeTempDir({
      dir: isDirectory(parent) ? parent : undefined,
      prefix: ".docker-ts-cp-",
    });
    try {
      const names = await extractConfined(tmp, r.body, { keepOwners: true });
      const name = names.includes(".") ? "." : names[0];
      if (name === undefined) throw new ApiError(404, `Could not find the file ${src}`);
      copyInto(joinPath(tmp, name), dest, { src, dest });
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  }
  /** {@inheritDoc EngineApiDetached.copyTo} */
  async copyTo(id: string, src: string, dest: string): Promise<void> {
    const [{ tarStream }, { treeEntries }] = await Promise.all([
      lazyImport<typeof import("../image/tar_writer.ts")>(
        new URL("../image/tar_writer.ts", import.meta.url),
      ),
      lazyImport<typeof import("../container/cp_archive.ts")>(
        new URL("../container/cp_archive.ts", import.meta.url),
      ),
    ]);
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(src);
    } catch {
      throw new ApiError(404, `Could not find the file ${src}`);
    }
    // Docker's rule: into an existing directory under the source's name (its contents with
    // `/.`); otherwise the destination's parent receives it under the destination's name.
    let target = dest;
    let name = basenamePath(resolvePath(src));
    const statOf = async (p: string): Promise<{ mode: number } | undefined> => {
      const r = await this.#request("HEAD", `/containers/${id}/archive`, { query: { path: p } });
      r.close();
      if (r.status === 404) return undefined;
      if (r.status >= 400) throw new ApiError(r.status, `Could not stat ${p} in container ${id}`);
      const h = r.headers.get("x-docker-container-path-stat");
      return h ? JSON.parse(atob(h)) : undefined;
    };
    const d = await statOf(dest);
    const isDir = d !== undefined && d.mode >= 2 ** 31;
    const contentsOnly = st.isDirectory && /\/\.$/.test(src);
    if (!isDir) {
      if (dest.endsWith("/")) {
        throw new ApiError(404, `Could not find the file ${dest}: no such directory`);
      }
      target = dirnamePath(dest) || "/";
      name = basenamePath(dest);
    }
    const entries = contentsOnly && isDir
      ? [...Deno.readDirSync(src)].map((e) => e.name).sort().map((n) => ({
        host: joinPath(src, n),
        name: n,
      }))
      : [{ host: src, name }];
    async function* all(): AsyncGenerator<TarStreamEntry> {
      for (const e of entries) yield* treeEntries(e.host, e.name);
    }
    await this.#noContent("PUT", `/containers/${id}/archive`, {
      query: { path: target },
      body: tarStream(all()),
      headers: { "Content-Type": "application/x-tar" },
    });
  }
  /** {@inheritDoc EngineApiDetached.statPath} */
  async statPath(id: string, path: string): Promise<import("../engine_api.ts").ContainerPathStat> {
    const r = await this.#request("HEAD", `/containers/${id}/archive`, { query: { path } });
    r.close();
    // A HEAD answer has no body to carry the daemon's message: name the failure here.
    if (r.status === 404) {
      throw new ApiError(404, `Could not find the file ${path} in container ${id}`);
    }
    if (r.status >= 400) {
      throw new ApiError(r.status, `Cannot stat "${path}" in container ${id}: ${r.status}`);
    }
    return statHeader(r.headers, path);
  }
  /** {@inheritDoc EngineApiDetached.archiveOut} */
  async archiveOut(id: string, path: string): Promise<import("../engine_api.ts").ContainerArchive> {
    const r = await this.#call("GET", `/containers/${id}/archive`, { query: { path } });
    try {
      return { stat: statHeader(r.headers, path), tar: r.body };
    } catch (err) {
      await r.body.cancel().catch(() => {});
      throw err;
    }
  }
  /** {@inheritDoc EngineApiDetached.archiveIn} */
  async archiveIn(
    id: string,
    path: string,
    tar: ReadableStream<Uint8Array>,
    options: import("../engine_api.ts").ArchiveInOptions = {},
  ): Promise<void> {
    await this.#noContent("PUT", `/containers/${id}/archive`, {
      query: {
        path,
        copyUIDGID: options.copyUIDGID || undefined,
        noOverwriteDirNonDir: options.noOverwriteDirNonDir || undefined,
      },
      body: tar,
      headers: { "Content-Type": "application/x-tar" },
    });
  }

  /** Wires a hijacked connection to the caller's streams; resolves when output ended. */
  async #pump(r: DaemonResponse, io: StdioStreams, tty: boolean): Promise<void> {
    const conn = r.conn;
    if (io.stdin) {
      (async () => {
        try {
          for await (const chunk of io.stdin!) {
            let rest = chunk;
            while (rest.length) rest = rest.subarray(await conn.write(rest));
          }
        } catch {
          // the connection closed
        }
        await conn.closeWrite().catch(() => {});
      })();
    } else {
      await conn.closeWrite().catch(() => {});
    }
    try {
      await pumpOutput(r, tty, io);
    } finally {
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  }

  // Networks ------------------------------------------------------------------------------------

  /** {@inheritDoc EngineApiNetwork.createNetwork} */
  async createNetwork(options: NetworkCreateOptions): Promise<NetworkInspect> {
    const r = await this.#json<{ Id: string }>("POST", "/networks/create", {
      json: {
        Name: options.name,
        Driver: options.driver ?? "bridge",
        Internal: options.internal ?? false,
        Labels: options.labels ?? {},
        ...(options.subnet
          ? { IPAM: { Config: [{ Subnet: options.subnet, Gateway: options.gateway ?? "" }] } }
          : {}),
      },
    });
    return await this.inspectNetwork(r.Id);
  }
  /** {@inheritDoc EngineApiNetwork.listNetworks} */
  listNetworks(): Promise<NetworkInspect[]> {
    return this.#json("GET", "/networks");
  }
  /** {@inheritDoc EngineApiNetwork.inspectNetwork} */
  inspectNetwork(ref: string): Promise<NetworkInspect> {
    return this.#json("GET", `/networks/${encodeURIComponent(ref)}`);
  }
  /** {@inheritDoc EngineApiNetwork.removeNetwork} */
  async removeNetwork(ref: string): Promise<void> {
    await this.#noContent("DELETE", `/networks/${encodeURIComponent(ref)}`);
  }
  /** {@inheritDoc EngineApiNetwork.pruneNetworks} */
  async pruneNetworks(): Promise<string[]> {
    const r = await this.#json<{ NetworksDeleted: string[] | null }>("POST", "/networks/prune");
    return r.NetworksDeleted ?? [];
  }
  /** {@inheritDoc EngineApiNetwork.connectNetwork} */
  async connectNetwork(
    network: string,
    container: string,
    options: { aliases?: string[]; ip?: string } = {},
  ): Promise<void> {
    await this.#noContent("POST", `/networks/${encodeURIComponent(network)}/connect`, {
      json: {
        Container: container,
        EndpointConfig: {
          Aliases: options.aliases ?? null,
          ...(options.ip ? { IPAMConfig: { IPv4Address: options.ip } } : {}),
        },
      },
    });
  }
  /** {@inheritDoc EngineApiNetwork.disconnectNetwork} */
  async disconnectNetwork(
    network: string,
    container: string,
    options: { force?: boolean } = {},
  ): Promise<void> {
    await this.#noContent("POST", `/networks/${encodeURIComponent(network)}/disconnect`, {
      json: { Container: container, Force: options.force ?? false },
    });
  }
  /** {@inheritDoc EngineApiNetwork.port} */
  async port(
    container: string,
  ): Promise<{ proto: "tcp" | "udp"; hostIp: string; hostPort: number; containerPort: number }[]> {
    const info = await this.inspect(container);
    const out: { proto: "tcp" | "udp"; hostIp: string; hostPort: number; containerPort: number }[] =
      [];
    for (const [key, list] of Object.entries(info.NetworkSettings.Ports ?? {})) {
      const [port, proto] = key.split("/");
      for (const b of list ?? []) {
        out.push({
          proto: proto === "udp" ? "udp" : "tcp",
          hostIp: b.HostIp,
          hostPort: Number(b.HostPort),
          containerPort: Number(port),
        });
      }
    }
    return out;
  }
}

/** Response headers by lower-case name (a repeated header's values joined with ", "). */
class HeaderMap {
  readonly #map = new Map<string, string>();
  add(name: string, value: string): void {
    const k = name.toLowerCase();
    const prev = this.#map.get(k);
    this.#map.set(k, prev === undefined ? value : `${prev}, ${value}`);
  }
  get(name: string): string | null {
    return this.#map.get(name.toLowerCase()) ?? null;
  }
}

/**
 * An answer of the daemon. Its body is read either with `text()` / `for await` (plain reads on
 * the connection) or as `body`, a ReadableStream made on first use — one or the other. The
 * common calls never build a web stream, a `Headers` or a `Response`: in Deno 2.9 each of those
 * costs milliseconds the first time a process uses it (see util/output_sink.ts).
 */
class DaemonResponse implements AsyncIterable<Uint8Array> {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly conn: Deno.UnixConn;
  readonly #reader: ConnReader;
  /** How the body is delimited: none (204, 304, HEAD), length, chunked, or the connection. */
  readonly #mode: "none" | "length" | "chunked" | "close";
  #left: number;
  #done = false;
  #stream?: ReadableStream<Uint8Array>;

  constructor(
    status: number,
    headers: HeaderMap,
    conn: Deno.UnixConn,
    reader: ConnReader,
    head: boolean,
  ) {
    this.status = status;
    this.headers = headers;
    this.conn = conn;
    this.#reader = reader;
    const te = headers.get("transfer-encoding")?.toLowerCase();
    const cl = headers.get("content-length");
    this.#left = 0;
    if (status === 101) this.#mode = "close";
    else if (head || status === 204 || status === 304) this.#mode = "none";
    else if (te === "chunked") this.#mode = "chunked";
    else if (cl !== null) {
      this.#mode = "length";
      this.#left = Number(cl);
    } else this.#mode = "close";
  }

  /** The next piece of the body, null at its end. Throws when the daemon cut the body short. */
  async next(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    const reader = this.#reader;
    switch (this.#mode) {
      case "none":
        this.close();
        return null;
      case "close": {
        // An upgraded (101) connection carries stdin too: its owner closes it.
        const chunk = await reader.readSome();
        if (chunk === null) this.#done = true;
        return chunk === null ? null : chunk.slice();
      }
      case "length": {
        if (this.#left === 0) {
          this.close();
          return null;
        }
        return await this.#takeBody("The daemon ended a response early");
      }
      case "chunked": {
        while (this.#left === 0) {
          const line = await reader.readLine();
          if (line === null) {
            this.close();
            throw new UnavailableError("The daemon ended a chunked response early");
          }
          this.#left = parseInt(line, 16);
          if (this.#left === 0) {
            for (;;) {
              const t = await reader.readLine();
              if (t === null || t === "") break;
            }
            this.close();
            return null;
          }
        }
        const chunk = await this.#takeBody("The daemon ended a chunked response early");
        if (this.#left === 0) await reader.readLine(); // the chunk's CRLF
        return chunk;
      }
    }
  }

  /** Up to `#left` body bytes (a copy); a connection that ends first is `early`'s error. */
  async #takeBody(early: string): Promise<Uint8Array> {
    const chunk = await this.#reader.readSome(this.#left);
    if (!chunk) {
      this.close();
      throw new UnavailableError(early);
    }
    this.#left -= chunk.length;
    return chunk.slice();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const chunk = await this.next();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** The whole body as text. */
  async text(): Promise<string> {
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of this) {
      parts.push(chunk);
      size += chunk.length;
    }
    const all = parts.length === 1 ? parts[0] : new Uint8Array(size);
    if (parts.length !== 1) {
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
    }
    return new TextDecoder().decode(all);
  }

  /** Stops reading and closes the connection (idempotent). */
  close(): void {
    this.#done = true;
    try {
      this.conn.close();
    } catch {
      // closed
    }
  }

  /** The body as a stream, for callers that pipe it (made on first use). */
  get body(): ReadableStream<Uint8Array> {
    this.#stream ??= new ReadableStream<Uint8Array>({
      pull: async (ctrl) => {
        try {
          const chunk = await this.next();
          if (chunk === null) ctrl.close();
          else ctrl.enqueue(chunk);
        } catch (err) {
          ctrl.error(err);
        }
      },
      cancel: () => {
        if (this.#mode !== "close") this.close();
        else this.#done = true;
      },
    }, { highWaterMark: 0 });
    return this.#stream;
  }
}

/** Reads a response head; the body stays on the connection (see {@link DaemonResponse}). */
async function readResponse(conn: Deno.UnixConn, head = false): Promise<DaemonResponse> {
  const reader = new ConnReader(conn);
  const statusLine = await reader.readLine();
  if (statusLine === null) throw new UnavailableError("The daemon closed the connection");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new UnavailableError(`Malformed response from the daemon: "${statusLine}"`);
  const headers = new HeaderMap();
  for (;;) {
    const line = await reader.readLine();
    if (line === null || line === "") break;
    const c = line.indexOf(":");
    if (c > 0) headers.add(line.slice(0, c).trim(), line.slice(c + 1).trim());
  }
  return new DaemonResponse(Number(m[1]), headers, conn, reader, head);
}

/**
 * Copies a container's output (raw with a tty, else framed) into the caller's sinks. A failed
 * write rejects with {@link OutputWriteError}; a broken stream with its own error.
 */
async function pumpOutput(
  r: DaemonResponse,
  tty: boolean,
  sinks: { stdout?: OutputSink | null; stderr?: OutputSink | null },
): Promise<void> {
  const writers: { release(): void }[] = [];
  const guarded = (
    sink: OutputSink | null | undefined,
    stream: "stdout" | "stderr",
  ): ByteWriter | undefined => {
    if (!sink) return undefined;
    const g = guardSink(sink, (err) => outputWriteError(err, stream));
    writers.push(g);
    return g.sink;
  };
  try {
    if (!tty) {
      await demuxStream(r, {
        stdout: guarded(sinks.stdout, "stdout"),
        stderr: guarded(sinks.stderr, "stderr"),
      });
      return;
    }
    const out = guarded(sinks.stdout, "stdout");
    if (!out) return;
    for await (const chunk of r) await out.write(chunk);
  } finally {
    for (const w of writers) w.release();
  }
}

async function errorOf(r: DaemonResponse): Promise<ApiError> {
  const text = await r.text().catch(() => "");
  let message = text.trim();
  try {
    message = JSON.parse(text).message ?? message;
  } catch {
    // not JSON
  }
  return new ApiError(r.status, message || `The daemon answered ${r.status}`);
}

/** Decodes docker's `X-Docker-Container-Path-Stat` header (base64 JSON). */
function statHeader(h: HeaderMap, path: string): import("../engine_api.ts").ContainerPathStat {
  const v = h.get("x-docker-container-path-stat");
  try {
    if (v) return JSON.parse(atob(v));
  } catch {
    // reported below
  }
  throw new ApiError(500, `Cannot stat "${path}": the daemon sent no valid path stat`);
}

const TRACE = Deno.env.get("DOCKER_TS_TRACE") === "1";

/** What `GET /version` answers (the fields the CLI shows). */
export interface ServerVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion: string;
  GoVersion?: string;
  Platform?: { Name: string };
}

function isDirectory(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}
