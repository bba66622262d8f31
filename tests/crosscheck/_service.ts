/**
 * docker-ts as the cross-checks drive it: an ImageService on temp roots, and the merged view of
 * an image's unpacked layers.
 *
 * @module
 */
import * as path from "node:path";
import { Paths } from "../../src/paths.ts";
import { ImageService } from "../../src/image/image_service.ts";
import { LayerStore } from "../../src/storage/layer_store.ts";
import { HostLayerFs } from "../../src/runtime/host_layer_fs.ts";
import { snapshotTree, type Tree } from "./_tree.ts";
import { mountMerged } from "./_overlay.ts";

/** An ImageService on temp roots under `dir`, as the engine builds it, with no saved logins. */
export function tempImageService(dir: string): ImageService {
  const paths = new Paths(path.join(dir, "root"), path.join(dir, "run"));
  return new ImageService(paths, new LayerStore(paths, new HostLayerFs()), {
    authConfigPath: path.join(dir, "docker-config.json"),
    retries: 1,
    backoffMs: 50,
  });
}

/** Snapshot of the merged view of `layerDirs` (bottom first) through a read-only overlay. */
export async function mergedTree(layerDirs: string[], scratch: string): Promise<Tree> {
  const view = await mountMerged(layerDirs, scratch);
  try {
    return snapshotTree(view.path);
  } finally {
    await view.close();
  }
}
