/**
 * A container's root filesystem as a description: overlay lowerdirs from the image's unpacked
 * layers, upper/work in the container directory. Storage describes; the runtime mounts it inside
 * the container's own mount namespace. Also reads single files through the layer stack (for
 * `/etc/passwd` lookups before anything is mounted).
 *
 * @module
 */
import { dirnamePath, joinPath } from "../util/path.ts";
import type { RootfsMount } from "./mount.ts";

/** Where a container's writable layer lives. */
export interface SnapshotDirs {
  upper: string;
  work: string;
  /** Mount point used by the runtime (inside the container's mount namespace). */
  merged: string;
}

/** The snapshot directories under a container directory. */
export function snapshotDirs(containerDir: string): SnapshotDirs {
  return {
    upper: joinPath(containerDir, "upper"),
    work: joinPath(containerDir, "work"),
    merged: joinPath(containerDir, "merged"),
  };
}

/** Creates the upper/work/merged directories (idempotent). */
export function prepareSnapshotDirs(containerDir: string): SnapshotDirs {
  const dirs = snapshotDirs(containerDir);
  for (const d of [dirs.upper, dirs.work, dirs.merged]) {
    Deno.mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  // The upper dir's root becomes the container's "/": overlay copies its mode, so keep 0755.
  Deno.chmodSync(dirs.upper, 0o755);
  return dirs;
}

/**
 * Describes the overlay mount of a container.
 *
 * @param layerDirs the image's unpacked layer directories, bottom (base) layer first
 * @param containerDir the container's directory (holds upper/work)
 *
 * @example
 * ```ts
 * import { describeRootfs } from "./container_snapshot.ts";
 * const m = describeRootfs(["/l/base", "/l/top"], "/c/abc");
 * console.assert(m.options[0] === "lowerdir=/l/top:/l/base");
 * ```
 */
export function describeRootfs(
  layerDirs: readonly string[],
  containerDir: string,
  options: { readonly?: boolean } = {},
): RootfsMount {
  const dirs = snapshotDirs(containerDir);
  if (layerDirs.length === 0) {
    // An image without layers (FROM scratch with nothing added): the upper dir alone.
    return { type: "bind", source: dirs.upper, options: ["rbind", options.readonly ? "ro" : "rw"] };
  }
  // overlayfs lists the topmost lower layer first.
  const lower = [...layerDirs].reverse().join(":");
  if (options.readonly) {
    // A read-only rootfs needs no upper layer (and overlay then needs two or more lowers).
    if (layerDirs.length === 1) {
      return { type: "bind", source: layerDirs[0], options: ["rbind", "ro"] };
    }
    return { type: "overlay", source: "overlay", options: [`lowerdir=${lower}`, "ro"] };
  }
  return {
    type: "overlay",
    source: "overlay",
    options: [`lowerdir=${lower}`, `upperdir=${dirs.upper}`, `workdir=${dirs.work}`],
  };
}

function isWhiteout(p: string): boolean {
  try {
    const st = Deno.lstatSync(p);
    // overlay-style whiteout: a 0:0 character device
    return st.isCharDevice === true && st.rdev === 0;
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a regular file through a layer stack as the merged rootfs would show it: the topmost
 * layer holding it wins; whiteouts (overlay 0:0 char devices or `.wh.` files) and opaque
 * directories (`.wh..wh..opq`) hide lower layers. Symlinks are not followed across layers
 * (rare for `/etc/passwd`); returns null when the file is absent.
 *
 * @param layerDirs bottom layer first (plus, optionally, the container's upper dir last)
 */
export function readFileFromLayers(layerDirs: readonly string[], file: string): string | null {
  const rel = file.replace(/^\/+/, "");
  const parts = rel.split("/");
  for (let i = layerDirs.length - 1; i >= 0; i--) {
    const dir = layerDirs[i];
    // Hidden in this layer (and everything below) by a whiteout of the file or any ancestor.
    for (let k = 1; k <= parts.length; k++) {
      const parent = parts.slice(0, k - 1).join("/");
      const name = parts[k - 1];
      if (
        isWhiteout(joinPath(dir, parent, name)) || exists(joinPath(dir, parent, `.wh.${name}`))
      ) {
        return null;
      }
    }
    const full = joinPath(dir, rel);
    try {
      const st = Deno.lstatSync(full);
      if (st.isFile) return Deno.readTextFileSync(full);
      if (!st.isSymlink) return null;
      const target = Deno.readLinkSync(full);
      const resolved = target.startsWith("/") ? target : joinPath(dirnamePath("/" + rel), target);
      if (resolved === "/" + rel) return null;
      return readFileFromLayers(layerDirs.slice(0, i + 1), resolved);
    } catch {
      // not in this layer
    }
    // An opaque ancestor directory in this layer hides the layers below.
    for (let k = 1; k < parts.length; k++) {
      if (exists(joinPath(dir, ...parts.slice(0, k), ".wh..wh..opq"))) return null;
    }
  }
  return null;
}
