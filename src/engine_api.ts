/**
 * The interface the CLI (and later the Engine API server and its client) is written against.
 * `Engine` implements it in-process; a `Client` will implement it over the Docker Engine API.
 * Record shapes follow the Docker Engine API (v1.41) so both faces print the same thing.
 *
 * @module
 */
import { DockerTsError } from "./errors.ts";
import type { AttachOutcome, ContainerAttachOptions } from "./container/attach_hub.ts";
import type { RunOptionsInput } from "./spec/run_options.ts";
import type { NetworkCreateOptions, NetworkInspect } from "./network/manager.ts";
import type { ContainerPathStat } from "./container/cp_archive.ts";
import type { OutputSink } from "./util/output_sink.ts";

export type { RunOptionsInput } from "./spec/run_options.ts";

/**
 * The container's command could not be executed (126) or was not found (127). Thrown by
 * `start`/`run`; the CLI exits with `exitCode` after printing the one-line message.
 *
 * @example
 * ```ts
 * import { ContainerExecError } from "./engine_api.ts";
 * const err = new ContainerExecError('exec: "nosuch": executable file not found in $PATH', 127);
 * console.assert(err.exitCode === 127);
 * ```
 */
export class ContainerExecError extends DockerTsError {
  /** 126 (cannot execute) or 127 (not found). */
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super("InvalidArgument", message, options);
    this.exitCode = exitCode;
  }
}

/**
 * The container's output could not be written to the caller (its stdout is a closed pipe, say).
 * As with docker's CLI, the run ends with exit code 1 and the container keeps running.
 */
export class OutputWriteError extends DockerTsError {
  readonly exitCode = 1;
  constructor(message: string, options?: ErrorOptions) {
    super("Internal", message, options);
  }
}

/** docker's wording for a failed write of the container's output (`write /dev/stdout: …`). */
export function outputWriteError(err: unknown, stream: "stdout" | "stderr"): OutputWriteError {
  if (err instanceof OutputWriteError) return err;
  const why = err instanceof Deno.errors.BrokenPipe
    ? "broken pipe"
    : (err as Error)?.message ?? String(err);
  // The message says it all: the cause would only repeat it on the CLI's error line.
  return new OutputWriteError(`write /dev/${stream}: ${why}`);
}

// ---------------------------------------------------------------------------------------------
// Images

/** One row of `docker images` (`GET /images/json`). */
export interface ImageSummary {
  /** `sha256:<hex>` of the image config. */
  Id: string;
  /** Familiar form, e.g. `busybox:latest`. */
  RepoTags: string[];
  RepoDigests: string[];
  /** Unix seconds. */
  Created: number;
  /** Bytes. */
  Size: number;
  Labels?: Record<string, string> | null;
}

/** `docker image inspect` (`GET /images/{name}/json`): a Docker-shaped record. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** RFC 3339. */
  Created: string;
  Architecture: string;
  Os: string;
  Size: number;
  Config: Record<string, unknown>;
  RootFS: { Type: string; Layers: string[] };
  [key: string]: unknown;
}

/** One progress event of a pull (mirrors the JSON-lines stream of `POST /images/create`). */
export interface PullProgress {
  status: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
}

/** Options of {@link EngineApi.pull}. */
export interface PullOptions {
  platform?: string;
  onProgress?: (event: PullProgress) => void;
  signal?: AbortSignal;
}

/** One line of `docker rmi` output. */
export type ImageRemoveReport = { Untagged: string } | { Deleted: string };

/** Registry credentials for {@link EngineApi.login}. */
export interface LoginOptions {
  /** Registry host; default Docker Hub. */
  server?: string;
  username: string;
  password: string;
}

// ---------------------------------------------------------------------------------------------
// Containers

/** Derived container status (never stored). */
export type ContainerStatus =
  | "created"
  | "running"
  | "paused"
  | "restarting"
  | "removing"
  | "exited"
  | "dead";

/** Result of {@link EngineApi.create}. */
export interface CreateResult {
  /** 64 hex characters. */
  Id: string;
  Warnings: string[];
}

/** Terminal size in character cells. */
export interface ConsoleSize {
  rows: number;
  cols: number;
}

/** Streams a started container is attached to. Absent streams: stdin closed, output discarded. */
export interface StdioStreams {
  /** Piped to the container (with `interactive`); its end delivers EOF. */
  stdin?: ReadableStream<Uint8Array> | null;
  /** A WritableStream or a Deno-style writer such as `Deno.stdout`; never closed. */
  stdout?: OutputSink | null;
  /** Ignored with `tty` (a pty merges the two). */
  stderr?: OutputSink | null;
  /** Initial pty size with `tty`. */
  consoleSize?: ConsoleSize;
}

/** A stage duration report from the run path (`create.spec`, `start.launch`, …). */
export type TimingCallback = (stage: string, milliseconds: number) => void;

/** Options of {@link EngineApi.start}. */
export interface StartOptions extends StdioStreams {
  signal?: AbortSignal;
  onTiming?: TimingCallback;
}

/** Options of {@link EngineApi.run}. */
export interface RunIo extends StdioStreams {
  /** Aborting kills the container (SIGKILL) and, with `rm`, removes it; `run` then rejects. */
  signal?: AbortSignal;
  /** Called once the container exists, e.g. so the caller can forward signals with `kill`. */
  onCreated?: (id: string) => void;
  /**
   * What a failed write to `stdout`/`stderr` does. `"continue"` (default): the container runs on
   * and its log stays whole, as under dockerd; `run` resolves at its exit. `"end"` (docker's
   * CLI): `run` rejects at once with {@link OutputWriteError} — through a daemon the container
   * runs on there; in-process, with nobody left to watch it, it is killed (and removed with rm).
   */
  onOutputError?: "continue" | "end";
  onTiming?: TimingCallback;
}

/** One row of `docker ps` (`GET /containers/json`). */
export interface ContainerSummary {
  Id: string;
  /** Bytes in the container's writable layer (only when listed with `size`). */
  SizeRw?: number;
  /** `SizeRw` plus the image's size (only when listed with `size`). */
  SizeRootFs?: number;
  /** With the leading `/`. */
  Names: string[];
  /** The reference the user gave. */
  Image: string;
  ImageID: string;
  Command: string;
  /** Unix seconds. */
  Created: number;
  State: ContainerStatus;
  /** Human text: `Up 2 seconds`, `Exited (0) 3 minutes ago`, `Created`. */
  Status: string;
  Labels: Record<string, string>;
  Ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[];
  Mounts: InspectMount[];
  /** As dockerd lists it: the network mode the container was created with. */
  HostConfig?: { NetworkMode: string };
  /** The networks it is on (keys only matter to `ps`; the values are dockerd's endpoints). */
  NetworkSettings?: { Networks: Record<string, Record<string, unknown>> };
}

/** A mount as inspect shows it. */
export interface InspectMount {
  Type: "bind" | "tmpfs" | "volume";
  Source: string;
  Destination: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

/** `State` of container inspect. */
export interface InspectState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  /** RFC 3339 with nanoseconds; `0001-01-01T00:00:00Z` when it has not happened. */
  StartedAt: string;
  FinishedAt: string;
}

/** `docker inspect <container>` (`GET /containers/{id}/json`): the subset docker-ts fills. */
export interface ContainerInspect {
  Id: string;
  /** RFC 3339. */
  Created: string;
  Path: string;
  Args: string[];
  State: InspectState;
  /** `sha256:<hex>`. */
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  /** With the leading `/`. */
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  HostConfig: {
    AutoRemove: boolean;
    Binds: string[] | null;
    NetworkMode: string;
    Privileged: boolean;
    ReadonlyRootfs: boolean;
    CapAdd: string[] | null;
    GroupAdd: string[] | null;
    CapDrop: string[] | null;
    Dns: string[];
    DnsSearch: string[];
    DnsOptions: string[];
    ExtraHosts: string[] | null;
    SecurityOpt: string[] | null;
    Tmpfs: Record<string, string> | null;
    ShmSize: number;
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    CpuShares: number;
    CpusetCpus: string;
    PidsLimit: number | null;
    Ulimits: { Name: string; Soft: number; Hard: number }[] | null;
    PortBindings: Record<string, { HostIp: string; HostPort: string }[]>;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    ConsoleSize: [number, number];
  };
  Config: {
    Hostname: string;
    User: string;
    Tty: boolean;
    OpenStdin: boolean;
    StdinOnce: boolean;
    AttachStdin: boolean;
    AttachStdout: boolean;
    AttachStderr: boolean;
    Env: string[];
    Cmd: string[] | null;
    Entrypoint: string[] | null;
    Image: string;
    WorkingDir: string;
    Labels: Record<string, string>;
    StopSignal?: string;
    StopTimeout?: number;
    ExposedPorts?: Record<string, Record<string, never>>;
  };
  Mounts: InspectMount[];
  NetworkSettings: {
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
    Networks: Record<string, unknown>;
  };
}

/** Options of {@link EngineApi.wait}. */
export interface WaitOptions {
  /** Docker's conditions; default `not-running`. */
  condition?: "not-running" | "next-exit" | "removed";
  signal?: AbortSignal;
}

/** Options of {@link EngineApi.remove}. */
export interface RemoveOptions {
  /** Kill a running container first. */
  force?: boolean;
  /** Anonymous volumes (accepted, nothing to do until volumes exist). */
  volumes?: boolean;
}

/**
 * Everything the CLI needs from an engine. Identifiers accept a full id, a unique id prefix,
 * or a name (with or without the leading `/`). Errors are `DockerTsError`s (`src/errors.ts`):
 * NotFound, Conflict, InvalidArgument, InvalidState…
 */
export interface EngineApi extends EngineApiDetached, EngineApiNetwork {
  // Images (delegated to the image service)
  /** Pulls an image; resolves to its summary. */
  pull(ref: string, options?: PullOptions): Promise<ImageSummary>;
  /** Lists images. */
  listImages(options?: { all?: boolean }): Promise<ImageSummary[]>;
  /** Inspects an image by reference or id. */
  inspectImage(ref: string): Promise<ImageInspect>;
  /** Pushes an image (optional until the image service offers it). */
  push?(ref: string, options?: { onProgress?: (event: PullProgress) => void }): Promise<unknown>;
  /** Adds `target` as a name of `source`. */
  tag(source: string, target: string): Promise<void>;
  /** Removes an image (untag, then delete when no name is left). */
  removeImage(
    ref: string,
    options?: { force?: boolean; noPrune?: boolean },
  ): Promise<ImageRemoveReport[]>;
  /** Writes a `docker save` archive of the images to a file path or a stream. */
  save(refs: string[], output: string | WritableStream<Uint8Array>): Promise<void>;
  /** Loads a `docker save` / OCI archive; resolves to the loaded names (`busybox:latest`) or ids. */
  load(input: string | ReadableStream<Uint8Array>): Promise<string[]>;
  /** Imports a rootfs tarball as a one-layer image; resolves to its id. */
  importImage(
    input: string | ReadableStream<Uint8Array>,
    options?: { ref?: string; changes?: string[] },
  ): Promise<string>;
  /** Stores registry credentials (in `~/.docker/config.json`). */
  login(options: LoginOptions): Promise<void>;
  /** Forgets registry credentials. */
  logout(server?: string): Promise<void>;

  // Containers
  /** Creates a container (pulling the image per `pull` policy). */
  create(options: RunOptionsInput): Promise<CreateResult>;
  /**
   * Starts a created or exited container, attached to the given streams. Resolves once the
   * process runs; use {@link EngineApi.wait} for its exit.
   */
  start(id: string, options?: StartOptions): Promise<void>;
  /** create + start + wait (+ remove with `rm`); resolves to the exit code Docker would give. */
  run(options: RunOptionsInput, io?: RunIo): Promise<number>;
  /** Waits for the condition; resolves to the exit code. */
  wait(id: string, options?: WaitOptions): Promise<number>;
  /** Sends a signal (name with or without `SIG`, or number; default KILL). */
  kill(id: string, signal?: string | number): Promise<void>;
  /**
   * Stop signal (`signal`, else the container's), then KILL after `timeout` seconds (default
   * the container's, else 10).
   */
  stop(id: string, options?: { timeout?: number; signal?: string }): Promise<void>;
  /** Removes a container; a running one needs `force`. */
  remove(id: string, options?: RemoveOptions): Promise<void>;
  /** Lists containers (running only unless `all`). */
  list(options?: { all?: boolean; size?: boolean }): Promise<ContainerSummary[]>;
  /** Inspects a container. */
  inspect(id: string): Promise<ContainerInspect>;
  /** Resizes a running container's pty. */
  resize(id: string, size: ConsoleSize): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Detached containers: supervision, logs, lifecycle verbs, exec (issue "Detached containers").
// All optional on EngineApi so an implementation can grow into them; `Engine` has them all.

/** Supervision options accepted by `create` next to the run options. */
export interface SupervisionOptionsInput {
  /** `no`, `on-failure[:N]`, `always`, `unless-stopped`, or the API's object. */
  restart?: string | { Name?: string; MaximumRetryCount?: number };
  /** `--log-opt` values: `max-size=10m`, `max-file=3` (list or map). */
  logOpts?: string[] | Record<string, string>;
}

/** One entry of a container's log. */
export interface LogEntry {
  stream: "stdout" | "stderr";
  /** RFC 3339 with nanoseconds. */
  time: string;
  /** The line's bytes (newline included when the line had one). */
  data: Uint8Array;
}

/** Options of {@link EngineApiDetached.logs}. */
export interface LogsOptions {
  stdout?: boolean;
  stderr?: boolean;
  follow?: boolean;
  /** Last N entries; negative or absent: all. */
  tail?: number;
  /** Unix seconds, RFC 3339, or a relative duration (`10m`). */
  since?: string | number;
  until?: string | number;
  signal?: AbortSignal;
}

/** `docker top` (`GET /containers/{id}/top`). */
export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

/** `GET /containers/{id}/stats?stream=false` (Docker's shape, the fields docker-ts fills). */
export interface ContainerStats {
  id: string;
  name: string;
  read: string;
  preread: string;
  pids_stats: { current?: number };
  cpu_stats: Record<string, unknown>;
  precpu_stats: Record<string, unknown>;
  memory_stats: Record<string, unknown>;
  blkio_stats: Record<string, unknown>;
  networks: Record<string, unknown>;
}

/** Options of {@link EngineApiDetached.prune}. */
export interface PruneOptions {
  /** `key`, `key=value`, `!key`… all must match. */
  labels?: string[];
  /** Only containers created before (unix seconds or RFC 3339). */
  until?: string | number;
}

/** `POST /containers/prune`. */
export interface PruneReport {
  ContainersDeleted: string[];
  SpaceReclaimed: number;
}

/** Options of {@link EngineApiDetached.execCreate} (`POST /containers/{id}/exec`). */
export interface ExecCreateOptions {
  cmd: string[];
  env?: string[];
  /** `user`, `uid`, `user:group`, `uid:gid`. */
  user?: string;
  workdir?: string;
  tty?: boolean;
  /** Keep stdin open (`-i`). */
  interactive?: boolean;
  privileged?: boolean;
}

/** `GET /exec/{id}/json`. */
export interface ExecInspect {
  ID: string;
  ContainerID: string;
  Running: boolean;
  /** Null until it exited. */
  ExitCode: number | null;
  Pid: number;
  OpenStdin: boolean;
  OpenStdout: boolean;
  OpenStderr: boolean;
  ProcessConfig: {
    entrypoint: string;
    arguments: string[];
    privileged: boolean;
    tty: boolean;
    user: string;
  };
}

/** Options of {@link EngineApiDetached.execStart}. */
export interface ExecStartOptions extends StdioStreams {
  /** Run in the background: resolve once started, output discarded. */
  detach?: boolean;
  signal?: AbortSignal;
}

/** A container event (Docker's `/events` message is built from it). */
export interface EngineEvent {
  Type: "container";
  Action: string;
  id: string;
  attributes: Record<string, string>;
  timeNano: number;
}

/** The verbs of detached containers; `Engine` implements all of them. */
export interface EngineApiDetached {
  /**
   * Attaches to a running container (`docker attach`): its output from now on, and its stdin
   * when it was started with `-i` and a daemon holds it. Resolves with how the attachment ended.
   */
  attach?(id: string, options?: ContainerAttachOptions): Promise<AttachOutcome>;
  /** Reads a container's logs (json-file plus unconverted output). */
  logs?(id: string, options?: LogsOptions): AsyncIterable<LogEntry>;
  /** Freezes a running container (cgroup freezer). */
  pause?(id: string): Promise<void>;
  /** Thaws a paused container. */
  unpause?(id: string): Promise<void>;
  /** Stop (if running) then start, detached. */
  restart?(id: string, options?: { timeout?: number }): Promise<void>;
  /** Processes of a running container (`ps` arguments, default `-ef`). */
  top?(id: string, psArgs?: string): Promise<TopResult>;
  /** One stats sample. */
  stats?(id: string): Promise<ContainerStats>;
  /** Renames a container. */
  rename?(id: string, newName: string): Promise<void>;
  /** Removes stopped containers. */
  prune?(options?: PruneOptions): Promise<PruneReport>;
  /** Creates an exec instance in a running container; resolves to its id. */
  execCreate?(id: string, options: ExecCreateOptions): Promise<string>;
  /** Starts an exec; resolves when it ends (or at once with `detach`). */
  execStart?(execId: string, options?: ExecStartOptions): Promise<void>;
  /** Inspects an exec instance. */
  execInspect?(execId: string): Promise<ExecInspect>;
  /** Resizes an exec's pty. */
  execResize?(execId: string, size: ConsoleSize): Promise<void>;
  /** Subscribes to container events; returns the unsubscribe function. */
  events?(listener: (e: EngineEvent) => void): () => void;
  /**
   * `docker cp CONTAINER:SRC DEST` between host paths and a running container (in-process: the
   * API's archive endpoints need tar streams instead). Symlinks resolve inside the container.
   */
  copyFrom?(id: string, src: string, dest: string): Promise<void>;
  /** `docker cp SRC CONTAINER:DEST`. */
  copyTo?(id: string, src: string, dest: string): Promise<void>;
  /**
   * Stat of a path in a container, running or not (`HEAD /containers/{id}/archive`); a trailing
   * symlink is not followed (its resolved target is in `linkTarget`). NotFound when missing.
   */
  statPath?(id: string, path: string): Promise<ContainerPathStat>;
  /**
   * `docker cp CONTAINER:SRC -`: a tar stream of SRC (running or stopped container) and its
   * stat. Errors about SRC (NotFound) reject before any byte is streamed.
   */
  archiveOut?(id: string, path: string): Promise<ContainerArchive>;
  /**
   * `docker cp - CONTAINER:DEST`: extracts a tar stream into the existing directory DEST
   * (running or stopped container), confined to the container's root, owners kept from the
   * archive. NotFound when DEST is missing, InvalidArgument when it is not a directory or the
   * archive is unreadable or leaves the target; a refused archive changes nothing.
   */
  archiveIn?(
    id: string,
    path: string,
    tar: ReadableStream<Uint8Array>,
    options?: ArchiveInOptions,
  ): Promise<void>;
  /** Daemon start: adopt running containers, record the dead ones, clean stale state. */
  recover?(): Promise<{ adopted: string[]; exited: string[] }>;
}

export type { ContainerPathStat } from "./container/cp_archive.ts";

/** What {@link EngineApiDetached.archiveOut} resolves to. */
export interface ContainerArchive {
  /** Stat of the source path (docker's `X-Docker-Container-Path-Stat`). */
  stat: ContainerPathStat;
  /** The tar archive; cancel it to stop early. */
  tar: ReadableStream<Uint8Array>;
}

/** Options of {@link EngineApiDetached.archiveIn} (the API's query parameters). */
export interface ArchiveInOptions {
  /** `copyUIDGID` (`cp -a`): with a container user configured, it owns what is extracted. */
  copyUIDGID?: boolean;
  /** `noOverwriteDirNonDir`: refuse to replace a directory by a non-directory and back. */
  noOverwriteDirNonDir?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Networks (issue "Networking"). Optional on EngineApi, like the detached verbs; `Engine` has them.

export type {
  NetworkCreateOptions,
  NetworkInspect,
  NetworkSettingsView,
} from "./network/manager.ts";

/** Network verbs: `network create|ls|inspect|rm|prune|connect|disconnect` and `port`. */
export interface EngineApiNetwork {
  /** Creates a user-defined bridge network; resolves to its inspect record. */
  createNetwork?(
    options: NetworkCreateOptions,
  ): Promise<NetworkInspect>;
  /** Every network (`bridge`, `host`, `none` and user networks). */
  listNetworks?(): Promise<NetworkInspect[]>;
  /** One network by name, id or unique id prefix. */
  inspectNetwork?(ref: string): Promise<NetworkInspect>;
  /** Removes a user network; Conflict while containers use it. */
  removeNetwork?(ref: string): Promise<void>;
  /** Removes every unused user network; resolves to their names. */
  pruneNetworks?(): Promise<string[]>;
  /** Connects a running container to a network. */
  connectNetwork?(
    network: string,
    container: string,
    options?: { aliases?: string[]; ip?: string },
  ): Promise<void>;
  /** Disconnects a running container from a network. */
  disconnectNetwork?(
    network: string,
    container: string,
    options?: { force?: boolean },
  ): Promise<void>;
  /** A container's published ports (`docker port`). */
  port?(container: string): Promise<
    { proto: "tcp" | "udp"; hostIp: string; hostPort: number; containerPort: number }[]
  >;
}
