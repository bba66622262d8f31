/**
 * Copies into or out of a container that has no running process, through its rootfs mounted in
 * a private mount namespace on a single-use Worker (`rootfs_worker.ts`). The engine's main
 * thread never changes namespaces. {@link holdStoppedRootfs} keeps such a mount for as long as a
 * tar stream needs it and hands back a path that reaches it from any thread.
 *
 * @module
 */
import { DockerTsError, type ErrorKind, InternalError } from "../errors.ts";
import type { RootfsMount } from "../storage/mount.ts";
import type {
  RootfsCopyReply,
  RootfsCopyRequest,
  RootfsHoldReply,
  RootfsHoldRequest,
  RootfsReleaseRequest,
} from "./rootfs_worker.ts";

const WORKER_URL = new URL("./rootfs_worker.ts", import.meta.url);

const KINDS = new Set<string>([
  "NotFound",
  "Conflict",
  "InvalidArgument",
  "InvalidState",
  "NotImplemented",
  "Unavailable",
  "Unauthorized",
  "Internal",
]);

/** Where and what to copy (see {@link RootfsCopyRequest}). */
export interface StoppedCopy {
  rootfs: RootfsMount;
  /** An existing, otherwise unused directory to mount the rootfs on (privately). */
  mountpoint: string;
  direction: "from" | "to";
  src: string;
  dest: string;
}

/**
 * Runs `docker cp` against a stopped container's rootfs on a fresh Worker; rejects with the
 * copy's own error category (e.g. NotFound for a missing source).
 */
export async function copyWithStoppedRootfs(job: StoppedCopy): Promise<void> {
  const worker = new Worker(WORKER_URL, { type: "module" });
  try {
    const reply = await new Promise<RootfsCopyReply>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<RootfsCopyReply>) => resolve(e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new InternalError(`Cannot copy files: the rootfs worker failed: ${e.message}`));
      };
      worker.postMessage(job satisfies RootfsCopyRequest);
    });
    if (!reply.ok) {
      const kind = reply.kind && KINDS.has(reply.kind) ? reply.kind as ErrorKind : "Internal";
      throw new DockerTsError(kind, reply.message);
    }
  } finally {
    // Ends the thread and its mount namespace: the rootfs mount goes with it.
    worker.terminate();
  }
}

/** A stopped container's rootfs, mounted privately on a Worker until {@link release} is called. */
export interface RootfsLease {
  /** A host path to the mounted rootfs, valid from every thread until the release. */
  root: string;
  /** Unmounts and ends the Worker; safe to call more than once. */
  release(): Promise<void>;
}

/** Asks the Worker something and waits for its single answer. */
function ask<T>(worker: Worker, msg: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<T>) => resolve(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      reject(
        new InternalError(
          `Cannot reach the container's files: the rootfs worker failed: ${e.message}`,
        ),
      );
    };
    worker.postMessage(msg);
  });
}

/**
 * Mounts a stopped container's rootfs in a private mount namespace on a fresh Worker and keeps
 * it mounted until the lease is released. Nothing is mounted in the host's namespace.
 */
export async function holdStoppedRootfs(
  job: Pick<StoppedCopy, "rootfs" | "mountpoint">,
): Promise<RootfsLease> {
  const worker = new Worker(WORKER_URL, { type: "module" });
  let reply: RootfsHoldReply;
  try {
    reply = await ask<RootfsHoldReply>(
      worker,
      {
        op: "hold",
        rootfs: job.rootfs,
        mountpoint: job.mountpoint,
      } satisfies RootfsHoldRequest,
    );
  } catch (err) {
    worker.terminate();
    throw err;
  }
  if (!reply.ok) {
    worker.terminate();
    const kind = reply.kind && KINDS.has(reply.kind) ? reply.kind as ErrorKind : "Internal";
    throw new DockerTsError(kind, reply.message);
  }
  let released: Promise<void> | undefined;
  return {
    root: reply.root,
    release(): Promise<void> {
      released ??= (async () => {
        try {
          await ask(worker, { op: "release" } satisfies RootfsReleaseRequest);
        } catch {
          // terminate() below still ends the namespace and its mount
        } finally {
          worker.terminate();
        }
      })();
      return released;
    },
  };
}
