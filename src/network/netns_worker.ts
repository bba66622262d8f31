/**
 * Single-use Worker: joins a network namespace and opens a NETLINK_ROUTE socket there.
 *
 * setns changes only this thread (DENO-FACTS 2), and only synchronous calls are sure to run on it
 * (DENO-FACTS 3), so everything here is sync FFI. The socket stays bound to the namespace it was
 * created in; its fd belongs to the whole process, so the caller uses it after this thread ends.
 *
 * @module
 */
import { CLONE_NEWNET, setns } from "../../ffi/namespace.ts";
import { close, O_RDONLY, open } from "../../ffi/io.ts";
import { netlinkSocket } from "../../ffi/netlink.ts";

/** The request: the namespace file to join (`/run/netns/x`, `/proc/<pid>/ns/net`). */
export interface NetnsWorkerRequest {
  path: string;
}

/** The answer: the socket fd, or why it failed. */
export type NetnsWorkerReply = { ok: true; fd: number } | { ok: false; message: string };

// The Worker global scope, typed by what this module uses (deno check sees `window` types here).
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<NetnsWorkerRequest>) => void) | null;
  postMessage(message: NetnsWorkerReply): void;
};

scope.onmessage = (e: MessageEvent<NetnsWorkerRequest>) => {
  let reply: NetnsWorkerReply;
  try {
    const nsFd = open(e.data.path, O_RDONLY);
    try {
      setns(nsFd, CLONE_NEWNET, e.data.path);
    } finally {
      close(nsFd);
    }
    reply = { ok: true, fd: netlinkSocket() };
  } catch (err) {
    reply = { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  scope.postMessage(reply);
};
