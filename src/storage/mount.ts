/**
 * A mount that storage describes and the runtime performs (containerd's snapshotter rule):
 * storage never mounts anything itself.
 *
 * @module
 */

/** How a container's rootfs gets mounted, performed inside the container's mount namespace. */
export interface RootfsMount {
  /** `overlay` or `bind`. */
  type: string;
  /** Mount source (`overlay` for overlayfs, a directory for a bind). */
  source: string;
  /** Mount options, e.g. `lowerdir=…`, `upperdir=…`, `workdir=…`. */
  options: string[];
}
