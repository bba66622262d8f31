/**
 * The container store: one directory per container under `<root>/containers/<id>/` holding
 * `config.json` (the OCI spec, written once), `container.json` (create-time facts) and
 * `state.json` (process facts). A container appears atomically (built in a temp directory, then
 * renamed) and disappears atomically (renamed away, then deleted). Name checks and creation run
 * under one store-wide lock so two processes cannot take the same name; state updates run under
 * a per-container lock.
 *
 * Durability: a container's directory is built under `.tmp-<id>` and published by one rename;
 * `container.json` is written last, so a readable record means the directory is complete. For
 * a normal container every file and both directories are fsynced before `create` returns, so it
 * survives a host crash. An auto-removed (`--rm`) container is written without any fsync: its
 * record exists so that a crash of the *engine process* can still be cleaned up, and the page
 * cache survives that. After a *host* crash its process, mounts and cgroup are gone and the
 * directory is garbage whatever reached the disk (all, part, or zero-length files after delayed
 * allocation): {@link ContainerStore.sweepIncomplete} removes directories whose record cannot
 * be read. This takes 5–7 fsyncs (each a journal commit, 35 ms under I/O load) off `run --rm`.
 * `state.json` is not written at create: a missing one reads as the initial state.
 *
 * @module
 */
import { ConflictError, InvalidArgumentError, NotFoundError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import type { OciSpec, RootfsMount } from "../runtime/oci_spec.ts";
import type { RunOptions } from "../spec/run_options.ts";
import {
  atomicWriteJsonSync,
  fsyncDirSync,
  removeQuietly,
  writeNewFileSync,
} from "../util/atomic_write.ts";
import { isFullId, normalizeName, randomName } from "./ids.ts";
import { withLock } from "./lock.ts";
import { type ContainerState, initialState } from "./state.ts";

/** Create-time facts of a container (`container.json`); never changes after create. */
export interface ContainerRecord {
  id: string;
  /** Without the leading `/`. */
  name: string;
  /** The image reference as the user gave it. */
  image: string;
  /** `sha256:<hex>` of the image config. */
  imageId: string;
  /** RFC 3339 with nanoseconds. */
  created: string;
  options: RunOptions;
  labels: Record<string, string>;
  /** Entrypoint and Cmd after the merge with the image, as inspect's Config shows them. */
  entrypoint: string[] | null;
  cmd: string[] | null;
  /** Image config fields inspect reports. */
  imageConfig: {
    Env: string[];
    WorkingDir: string;
    User: string;
    ExposedPorts?: Record<string, unknown>;
  };
  /** The rootfs as storage describes it; the runtime mounts it. */
  rootfs: RootfsMount;
  /** Unpacked image layers, bottom first. */
  layerDirs: string[];
  paths: {
    dir: string;
    config: string;
    hostname: string;
    hosts: string;
    resolvConf: string;
    upper: string;
    work: string;
    merged: string;
  };
}

/** Everything the store knows about one container. */
export interface StoredContainer {
  record: ContainerRecord;
  state: ContainerState;
}

/** Input of {@link ContainerStore.create}. */
export interface CreateContainerInput {
  /** Record without the name (the store assigns or checks it). */
  record: Omit<ContainerRecord, "name">;
  /** The user's name (validated and checked for conflicts); a random one when absent. */
  requestedName?: string;
  spec: OciSpec;
  /** Extra files to write into the container directory (hostname, hosts, resolv.conf). */
  files: Record<string, string>;
  /** Called inside the temp directory before it is published (e.g. to make upper/work). */
  prepare?: (tmpDir: string) => void;
}

const RECORD = "container.json";
const STATE = "state.json";
const CONFIG = "config.json";

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Conflict message exactly as Docker words it. */
export function nameConflictMessage(name: string, id: string): string {
  return `Conflict. The container name "/${name}" is already in use by container "${id}". You have to remove (or rename) that container to be able to reuse that name.`;
}

/** The container store over a {@link Paths} layout. */
export class ContainerStore {
  readonly #paths: Paths;

  constructor(paths: Paths) {
    this.#paths = paths;
  }

  /** Directory of a container. */
  dir(id: string): string {
    return this.#paths.container(id);
  }

  #storeLock(): string {
    return `${this.#paths.locksDir}/containers.lock`;
  }

  #containerLock(id: string): string {
    return `${this.#paths.locksDir}/${id}.lock`;
  }

  /** Ids of all published containers. */
  ids(): string[] {
    const ids: string[] = [];
    try {
      for (const e of Deno.readDirSync(this.#paths.containersDir)) {
        if (isFullId(e.name)) ids.push(e.name);
      }
    } catch {
      return [];
    }
    return ids;
  }

  #readRecord(id: string): ContainerRecord | null {
    try {
      return JSON.parse(Deno.readTextFileSync(`${this.dir(id)}/${RECORD}`)) as ContainerRecord;
    } catch {
      return null;
    }
  }

  #nameOwner(name: string): string | undefined {
    for (const id of this.ids()) {
      if (this.#readRecord(id)?.name === name) return id;
    }
    return undefined;
  }

  /**
   * Publishes a new container. The name is checked (or drawn) and the directory renamed into
   * place under the store lock, so concurrent creates of one name: exactly one wins.
   */
  async create(input: CreateContainerInput): Promise<ContainerRecord> {
    const id = input.record.id;
    const requested = input.requestedName === undefined
      ? undefined
      : normalizeName(input.requestedName);
    Deno.mkdirSync(this.#paths.containersDir, { recursive: true, mode: 0o710 });
    return await withLock(this.#storeLock(), () => {
      let name: string;
      if (requested !== undefined) {
        const owner = this.#nameOwner(requested);
        if (owner) throw new ConflictError(nameConflictMessage(requested, owner));
        name = requested;
      } else {
        const taken = new Set(this.ids().map((i) => this.#readRecord(i)?.name));
        let retry = 0;
        do name = randomName(retry++ > 10 ? 1 : 0); while (taken.has(name));
      }
      const record: ContainerRecord = { ...input.record, name };
      const finalDir = this.dir(id);
      if (exists(finalDir)) {
        throw new ConflictError(`Cannot create container "${id}": id already in use`);
      }
      const tmp = `${this.#paths.containersDir}/.tmp-${id}`;
      removeQuietly(tmp);
      Deno.mkdirSync(tmp, { mode: 0o710 });
      // See the module doc ("Durability"): an auto-removed container is written without fsync.
      const durable = !record.options.rm;
      try {
        // The directory is published by one rename, so files inside it need no rename of their
        // own. No state.json yet: a missing one reads as the initial state (one file less).
        // The record is written last, so a readable record means the other files are complete.
        const all: [string, string][] = [
          ...Object.entries(input.files),
          [CONFIG, JSON.stringify(input.spec) + "\n"],
          [RECORD, JSON.stringify(record, null, 2) + "\n"],
        ];
        for (const [file, content] of all) {
          writeNewFileSync(`${tmp}/${file}`, content, { sync: durable });
        }
        input.prepare?.(tmp);
        if (durable) fsyncDirSync(tmp);
        Deno.renameSync(tmp, finalDir);
        if (durable) fsyncDirSync(this.#paths.containersDir);
      } catch (err) {
        removeQuietly(tmp);
        throw err;
      }
      return record;
    });
  }

  /** Loads a container by exact id; NotFound when absent. */
  get(id: string): StoredContainer {
    const record = this.#readRecord(id);
    if (!record) throw new NotFoundError(`No such container: ${id}`);
    let state: ContainerState;
    try {
      state = {
        ...initialState(),
        ...JSON.parse(Deno.readTextFileSync(`${this.dir(id)}/${STATE}`)),
      };
    } catch {
      state = initialState();
    }
    return { record, state };
  }

  /** The stored OCI spec. */
  spec(id: string): OciSpec {
    return JSON.parse(Deno.readTextFileSync(`${this.dir(id)}/${CONFIG}`)) as OciSpec;
  }

  /**
   * Resolves a full id, a name (with or without `/`) or a unique id prefix, in Docker's order.
   */
  resolve(ref: string): string {
    if (ref === "") throw new NotFoundError("No such container: ");
    const ids = this.ids();
    if (isFullId(ref) && ids.includes(ref)) return ref;
    const name = ref.replace(/^\//, "");
    for (const id of ids) if (this.#readRecord(id)?.name === name) return id;
    if (/^[a-f0-9]+$/.test(ref)) {
      const matches = ids.filter((id) => id.startsWith(ref));
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) {
        throw new InvalidArgumentError(`Multiple IDs found with provided prefix: ${ref}`);
      }
    }
    throw new NotFoundError(`No such container: ${ref}`);
  }

  /** Runs `fn` under the container's lock. */
  locked<T>(id: string, fn: () => Promise<T> | T): Promise<T> {
    return withLock(this.#containerLock(id), fn);
  }

  /** Writes state facts atomically (callers hold the container lock). */
  writeState(id: string, state: ContainerState, options: { durable?: boolean } = {}): void {
    const dir = this.dir(id);
    if (!exists(dir)) throw new NotFoundError(`No such container: ${id}`);
    atomicWriteJsonSync(`${dir}/${STATE}`, state, { sync: options.durable ?? true });
  }

  /** Read-modify-write of the state under the container lock. */
  updateState(
    id: string,
    change: (state: ContainerState) => ContainerState | void,
  ): Promise<ContainerState> {
    return this.locked(id, () => {
      const { record, state } = this.get(id);
      const next = change(state) ?? state;
      // An auto-removed container's state is as disposable as the rest of it ("Durability").
      this.writeState(id, next, { durable: !record.options.rm });
      return next;
    });
  }

  /**
   * Deletes a container's directory: renamed away first (so it vanishes at once from listings),
   * then removed. Idempotent.
   */
  delete(id: string): void {
    const gone = this.#unlist(id);
    try {
      Deno.removeSync(gone, { recursive: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /**
   * {@link delete} in two steps: the container is gone from every listing when this returns;
   * its files are removed off the calling thread by the returned promise. A crash in between
   * leaves a `.removing-*` directory for {@link sweepIncomplete}.
   */
  deleteLater(id: string): Promise<void> {
    const gone = this.#unlist(id);
    return Deno.remove(gone, { recursive: true }).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }

  #unlist(id: string): string {
    const gone = `${this.#paths.containersDir}/.removing-${id}`;
    try {
      Deno.renameSync(this.dir(id), gone);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    removeQuietly(this.#containerLock(id));
    // The log lock (logs.ts) goes with the logs: a locker racing this removal locks a fresh
    // file, which only ever guards the files being deleted.
    removeQuietly(`${this.#paths.locksDir}/${id}.log.lock`);
    return gone;
  }

  /**
   * Removes what a crash can leave in the containers directory: `.tmp-*` (a create that never
   * published), `.removing-*` (a delete that did not finish) and container directories without a
   * readable record (an auto-removed container written without fsync before a host crash; see
   * "Durability"). Skips entries younger than `minAgeMs` (default 60 s) so a create or delete in
   * flight in another process is never touched. Returns the names removed. Meant for engine
   * start-up or `container prune`; errors on one entry do not stop the others.
   */
  sweepIncomplete(minAgeMs = 60_000): string[] {
    const removed: string[] = [];
    const now = Date.now();
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(this.#paths.containersDir)];
    } catch {
      return removed;
    }
    for (const e of entries) {
      const full = `${this.#paths.containersDir}/${e.name}`;
      const leftover = e.name.startsWith(".tmp-") || e.name.startsWith(".removing-");
      if (!leftover && !(isFullId(e.name) && this.#readRecord(e.name) === null)) continue;
      try {
        const mtime = Deno.lstatSync(full).mtime?.getTime() ?? 0;
        if (now - mtime < minAgeMs) continue;
        Deno.removeSync(full, { recursive: true });
        removed.push(e.name);
      } catch {
        // busy (a mount still on merged) or gone meanwhile: the next sweep retries
      }
    }
    return removed;
  }
}
