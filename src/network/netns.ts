/**
 * Reaching another network namespace without touching the main thread's: a single-use Worker
 * joins the namespace, opens a netlink socket there and hands back the fd.
 *
 * @module
 */
import { RouteSocket } from "./socket.ts";
import type { NetnsWorkerReply, NetnsWorkerRequest } from "./netns_worker.ts";

const WORKER_URL = new URL("./netns_worker.ts", import.meta.url);

/**
 * Opens a NETLINK_ROUTE socket inside the network namespace at `path` (a `/run/netns/<name>`
 * bind mount or `/proc/<pid>/ns/net`). Every request on it acts in that namespace.
 */
export async function openRouteSocketIn(path: string): Promise<RouteSocket> {
  const worker = new Worker(WORKER_URL, { type: "module" });
  try {
    const reply = await new Promise<NetnsWorkerReply>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<NetnsWorkerReply>) => resolve(e.data);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        reject(new Error(`Netns worker failed: ${e.message}`));
      };
      worker.postMessage({ path } satisfies NetnsWorkerRequest);
    });
    if (!reply.ok) {
      throw new Error(
        `Cannot open netlink socket in network namespace "${path}": ${reply.message}`,
      );
    }
    return new RouteSocket(reply.fd);
  } finally {
    // The thread (and its namespace membership) ends here; the socket outlives it.
    worker.terminate();
  }
}
