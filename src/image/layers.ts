/**
 * What the image code needs from the layer store (`src/storage/layer_store.ts`). Declared here
 * structurally so pull/rmi/run depend on behaviour, not on the class, and tests can pass a fake.
 *
 * @module
 */

/** Arguments of {@link LayerUnpacker.unpack}. */
export interface UnpackRequest {
  /** Chain id of the layer being created (its identity in the layer store). */
  chainId: string;
  /** Chain id of the layer below, if any. */
  parentChainId?: string;
  /** sha256 of the uncompressed tar; the store must verify it before committing. */
  diffId: string;
  /** The layer's media type (decides gzip / zstd / plain). */
  mediaType: string;
  /**
   * Opens the compressed layer stream. The stream ends normally only when the blob verified;
   * otherwise it errors, and the store must not commit.
   */
  open: () => ReadableStream<Uint8Array>;
  /** Aborts the unpack; the store must leave nothing behind. */
  signal?: AbortSignal;
}

/** The subset of LayerStore that image code calls. */
export interface LayerUnpacker {
  /** Whether a layer with this chain id is unpacked and committed. */
  has(chainId: string): boolean | Promise<boolean>;
  /** The directory holding the layer's files (an overlay lowerdir). */
  diffDir(chainId: string): string;
  /** Unpacks one layer; commits atomically or leaves nothing. */
  unpack(req: UnpackRequest): Promise<void>;
  /** Removes a layer (no-op when absent). */
  remove(chainId: string): void | Promise<void>;
  /** The unpacked layer's metadata (its uncompressed size), when the store keeps it. */
  meta?(chainId: string): { size: number };
}
