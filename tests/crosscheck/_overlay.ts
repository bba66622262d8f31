/**
 * A read-only overlay of unpacked layers, mounted in a private mount namespace that only a helper
 * process (util-linux `unshare`, started here) holds. The test reads the merged view through
 * `/proc/<pid>/root/…`, so the host's mount table never changes, and killing the helper is the
 * whole cleanup.
 *
 * @module
 */

/** A mounted merged view; call {@link MergedView.close} when done. */
export interface MergedView {
  /** Path under which the merged tree is visible to this process. */
  path: string;
  /** Ends the helper, which takes the namespace and the mount with it. */
  close(): Promise<void>;
}

/**
 * Mounts `lowerdirs` (bottom layer first, as images list them) as one read-only overlay and
 * returns a path to the merged tree. Needs root.
 */
export async function mountMerged(lowerdirs: string[], scratch: string): Promise<MergedView> {
  const mnt = `${scratch}/merged`;
  await Deno.mkdir(mnt, { recursive: true });
  // overlayfs lists lowerdirs top first; a single lowerdir needs a bind mount instead.
  const mount = lowerdirs.length === 1
    ? `mount --bind -o ro '${lowerdirs[0]}' '${mnt}'`
    : `mount -t overlay overlay -o 'ro,lowerdir=${[...lowerdirs].reverse().join(":")}' '${mnt}'`;
  const child = new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      `${mount} && echo ready && exec sleep 3600`,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  const said = new TextDecoder().decode(first.value ?? new Uint8Array());
  if (!said.startsWith("ready")) {
    const status = await child.status;
    const err = new TextDecoder().decode(
      (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
    );
    throw new Error(`Failed to mount the merged view (exit ${status.code}): ${err.trim()}`);
  }
  return {
    path: `/proc/${child.pid}/root${mnt}`,
    async close(): Promise<void> {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
    },
  };
}
