/**
 * The container store: one directory per container under `<root>/containers/<id>/` holding
 * `config.json` (the OCI spec, written once), `container.json` (create-time facts) and
 * `state.json` (process facts). A container appears atomically (built in a temp directory, then
 * renamed) and disappears atomically (renamed away, then deleted). Name checks and creation run
 * under one store-wide lock so two processes cannot take the same name; state updates run under
 * a per-container lock.
 *
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConflictError, InvalidArgumentError, NotFoundError } from "../errors.ts";
import type { Paths } from "../paths.ts";
import type { OciSpec, RootfsMount } from "../runtime/oci_spec.ts";
import type { RunOptions } from "../spec/run_options.ts";
import { atomicWriteJsonSync, fsyncDirSync } from "../util/atomic_write.ts";
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

function writeDurable(file: string, content: string): void {
  const fd = fs.openSync(file, "wx", 0o644);
  try {
    fs.writeSync(fd, new TextEncoder().encode(content));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
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
    return path.join(this.#paths.locksDir, "containers.lock");
  }

  #containerLock(id: string): string {
    return path.join(this.#paths.locksDir, `${id}.lock`);
  }

  /** Ids of all published containers. */
  ids(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.#paths.containersDir);
    } catch {
      return [];
    }
    return names.filter(isFullId);
  }

  #readRecord(id: string): ContainerRecord | null {
    try {
      return JSON.parse(
        fs.readFileSync(path.join(this.dir(id), RECORD), "utf8"),
      ) as ContainerRecord;
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
    fs.mkdirSync(this.#paths.containersDir, { recursive: true, mode: 0o710 });
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
      if (fs.existsSync(finalDir)) {
        throw new ConflictError(`Cannot create container "${id}": id already in use`);
      }
      const tmp = path.join(this.#paths.containersDir, `.tmp-${id}`);
      fs.rmSync(tmp, { recursive: true, force: true });
      fs.mkdirSync(tmp, { mode: 0o710 });
      try {
        // The directory is published by one rename, so files inside it need no rename of their
        // own: write and fsync each, then fsync the directory once before publishing it.
        const all: [string, string][] = [
          ...Object.entries(input.files),
          [CONFIG, JSON.stringify(input.spec, null, 2) + "\n"],
          [RECORD, JSON.stringify(record, null, 2) + "\n"],
          [STATE, JSON.stringify(initialState(), null, 2) + "\n"],
        ];
        for (const [file, content] of all) writeDurable(path.join(tmp, file), content);
        input.prepare?.(tmp);
        fsyncDirSync(tmp);
        fs.renameSync(tmp, finalDir);
        fsyncDirSync(this.#paths.containersDir);
      } catch (err) {
        fs.rmSync(tmp, { recursive: true, force: true });
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
        ...JSON.parse(fs.readFileSync(path.join(this.dir(id), STATE), "utf8")),
      };
    } catch {
      state = initialState();
    }
    return { record, state };
  }

  /** The stored OCI spec. */
  spec(id: string): OciSpec {
    return JSON.parse(fs.readFileSync(path.join(this.dir(id), CONFIG), "utf8")) as OciSpec;
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
  writeState(id: string, state: ContainerState): void {
    const dir = this.dir(id);
    if (!fs.existsSync(dir)) throw new NotFoundError(`No such container: ${id}`);
    atomicWriteJsonSync(path.join(dir, STATE), state);
  }

  /** Read-modify-write of the state under the container lock. */
  updateState(
    id: string,
    change: (state: ContainerState) => ContainerState | void,
  ): Promise<ContainerState> {
    return this.locked(id, () => {
      const { state } = this.get(id);
      const next = change(state) ?? state;
      this.writeState(id, next);
      return next;
    });
  }

  /**
   * Deletes a container's directory: renamed away first (so it vanishes at once from listings),
   * then removed. Idempotent.
   */
  delete(id: string): void {
    const dir = this.dir(id);
    const gone = path.join(this.#paths.containersDir, `.removing-${id}`);
    try {
      fs.renameSync(dir, gone);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    fs.rmSync(gone, { recursive: true, force: true });
    fs.rmSync(this.#containerLock(id), { force: true });
  }
}
