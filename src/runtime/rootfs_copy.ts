/**
 * Copies into or out of a container that has no running process, through its rootfs mounted in
 * a private mount namespace on a single-use Worker (`rootfs_worker.ts`). The engine's main
 * thread never changes namespaces.
 *
 * @module
 */
import { DockerTsError, type ErrorKind, InternalError } from "../errors.ts";
import type { RootfsMount } from "../storage/mount.ts";
import type { RootfsCopyReply, RootfsCopyRequest } from "./rootfs_worker.ts";

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
