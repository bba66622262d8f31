/**
 * `docker cp` on a stopped container, on a single-use Worker thread (DENO-FACTS 2, 3, 12): the
 * thread unshares its fs struct and mount namespace, makes `/` rprivate so nothing propagates to
 * the host, mounts the container's rootfs (as storage describes it) over the container's unused
 * `merged` directory, and copies with synchronous calls only, every container path resolved
 * confined to that root. The launcher terminates the thread afterwards: the namespace, and the
 * mount with it, die then; nothing is ever mounted in the host's namespace.
 *
 * A `hold` request mounts the rootfs the same way and then answers with a path that reaches it
 * from any thread: `/proc/<pid>/task/<tid>/root` is this thread's root in its private mount
 * namespace, so the mountpoint below it is the container's filesystem. The thread keeps the mount
 * until a `release` message; tar streams use this, since their reads and writes are asynchronous
 * and may run on any thread of the process (DENO-FACTS 3).
 *
 * @module
 */
import { CLONE_FS, CLONE_NEWNS, unshare } from "../../ffi/namespace.ts";
import {
  MNT_DETACH,
  mount,
  MS_BIND,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  umount2,
} from "../../ffi/mount.ts";
import { copyInto, resolveInRoot } from "../container/cp_paths.ts";
import type { RootfsMount } from "../storage/mount.ts";

/** What the engine asks the rootfs Worker to do. */
export interface RootfsCopyRequest {
  /** The container's rootfs as storage describes it. */
  rootfs: RootfsMount;
  /** An existing directory to mount it on (inside the Worker's private namespace only). */
  mountpoint: string;
  /** `from`: container → host; `to`: host → container. */
  direction: "from" | "to";
  /** The source as the user gave it (a container path for `from`). */
  src: string;
  /** The destination as the user gave it (a container path for `to`). */
  dest: string;
}

/** The Worker's answer; errors carry their docker-ts category so the caller can rethrow it. */
export type RootfsCopyReply = { ok: true } | { ok: false; kind?: string; message: string };

/** Mount the rootfs privately and keep it until a {@link RootfsReleaseRequest}. */
export interface RootfsHoldRequest {
  op: "hold";
  /** The container's rootfs as storage describes it. */
  rootfs: RootfsMount;
  /** An existing directory to mount it on (inside the Worker's private namespace only). */
  mountpoint: string;
}

/** Unmount what a {@link RootfsHoldRequest} mounted; the Worker may be terminated after the reply. */
export interface RootfsReleaseRequest {
  op: "release";
}

/** The answer to a hold: `root` reaches the mounted rootfs from every thread of the process. */
export type RootfsHoldReply = { ok: true; root: string } | {
  ok: false;
  kind?: string;
  message: string;
};

function mountRootfs(m: RootfsMount, target: string): void {
  if (m.type === "bind") {
    mount(m.source, target, null, MS_BIND | MS_REC, null);
    if (m.options.includes("ro")) {
      // A bind ignores MS_RDONLY on the first call; a remount applies it.
      mount(null, target, null, MS_BIND | MS_REC | MS_RDONLY | MS_REMOUNT, null);
    }
    return;
  }
  const ro = m.options.includes("ro");
  const data = m.options.filter((o) => o !== "ro").join(",");
  mount(m.source, target, m.type, ro ? MS_RDONLY : 0, data);
}

/** Runs one copy in this thread's private mount namespace (exported for its Worker handler). */
export function copyInPrivateRootfs(req: RootfsCopyRequest): RootfsCopyReply {
  let mounted = false;
  try {
    unshare(CLONE_FS | CLONE_NEWNS);
    // Most hosts make "/" shared: without this our mount would show up in the host's namespace.
    mount(null, "/", null, MS_REC | MS_PRIVATE, null);
    mountRootfs(req.rootfs, req.mountpoint);
    mounted = true;
    const root = req.mountpoint;
    if (req.direction === "from") {
      // Like docker: a trailing symlink is copied as a link unless the path ends in "/" or "/.".
      const from = resolveInRoot(root, req.src, { followLast: /\/\.?$/.test(req.src) });
      copyInto(from, req.dest, { src: req.src, dest: req.dest });
    } else {
      copyInto(req.src, resolveInRoot(root, req.dest), { src: req.src, dest: req.dest });
    }
    return { ok: true };
  } catch (err) {
    const e = err as Error & { kind?: string };
    return { ok: false, kind: e.kind, message: e.message };
  } finally {
    // Worker.terminate() ends the thread (and the namespace) asynchronously: unmount now so the
    // overlay's upper dir is free the moment the caller hears back (e.g. for a `start`).
    if (mounted) {
      try {
        umount2(req.mountpoint, MNT_DETACH);
      } catch {
        // the namespace's end still takes the mount away
      }
    }
  }
}

/**
 * Mounts the rootfs in this thread's private mount namespace and names the path that reaches it
 * from other threads (exported for its Worker handler).
 */
export function holdPrivateRootfs(req: RootfsHoldRequest): RootfsHoldReply {
  try {
    unshare(CLONE_FS | CLONE_NEWNS);
    mount(null, "/", null, MS_REC | MS_PRIVATE, null);
    mountRootfs(req.rootfs, req.mountpoint);
    // A synchronous readlink runs on this thread, so "thread-self" names this very thread:
    // "<pid>/task/<tid>". Its "root" link enters this thread's mount namespace.
    const self = Deno.readLinkSync("/proc/thread-self");
    return { ok: true, root: `/proc/${self}/root${req.mountpoint}` };
  } catch (err) {
    const e = err as Error & { kind?: string };
    return { ok: false, kind: e.kind, message: e.message };
  }
}

// deno-lint-ignore no-explicit-any
const scope = self as any;
let used = false;
let held: string | undefined;
scope.onmessage = (
  ev: MessageEvent<RootfsCopyRequest | RootfsHoldRequest | RootfsReleaseRequest>,
) => {
  const msg = ev.data;
  if ("op" in msg && msg.op === "release") {
    if (held !== undefined) {
      try {
        // Unmount now rather than at terminate(): the overlay's upper dir is free at the reply.
        umount2(held, MNT_DETACH);
      } catch {
        // the namespace's end still takes the mount away
      }
      held = undefined;
    }
    scope.postMessage({ ok: true });
    return;
  }
  // Single use: this thread's mount namespace holds the container's rootfs now.
  if (used) {
    scope.postMessage({ ok: false, message: "The rootfs Worker was already used" });
    return;
  }
  used = true;
  if ("op" in msg && msg.op === "hold") {
    const reply = holdPrivateRootfs(msg);
    if (reply.ok) held = msg.mountpoint;
    scope.postMessage(reply);
    return;
  }
  scope.postMessage(copyInPrivateRootfs(msg as RootfsCopyRequest));
};
