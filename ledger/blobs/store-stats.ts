/** `gdo blob stats`: a store's counts and sizes, logical (what its blobs add up to) against stored. */
import type { ChunkStore } from "./chunk-store.ts";
import { type ChunkerParams, formatChunkerParams } from "./chunker-params.ts";
import type { Manifest } from "./manifest.ts";

export interface StoreStats {
  blobs: number;
  chunks: number;
  /** Sum of the sizes of all blobs (what `get` would return). */
  logicalBytes: number;
  /** Sum of the sizes of all stored chunks. */
  storedBytes: number;
  /** Stored bytes that some manifest references. */
  referencedBytes: number;
  unreferencedChunks: number;
  /** logicalBytes / storedBytes (1 when empty). */
  dedupRatio: number;
  /** The store's cut rules, and every distinct rule line found in its manifests. */
  chunker: string;
  manifestChunkers: string[];
}

export async function storeStats({
  manifests,
  store,
  chunker,
}: {
  /** The store's manifests; unreadable ones (no `manifest`) are left out. */
  manifests: AsyncIterable<{ manifest?: Manifest }>;
  store: ChunkStore;
  /** The store's own cut rules. */
  chunker: Readonly<ChunkerParams>;
}): Promise<StoreStats> {
  const referenced = new Set<string>();
  const chunkers = new Set<string>();
  let blobs = 0;
  let logicalBytes = 0;
  for await (const entry of manifests) {
    if (!entry.manifest) continue;
    blobs++;
    logicalBytes += entry.manifest.size;
    chunkers.add(formatChunkerParams(entry.manifest.chunker));
    for (const c of entry.manifest.chunks) referenced.add(c.id);
  }
  let chunks = 0;
  let storedBytes = 0;
  let referencedBytes = 0;
  let unreferencedChunks = 0;
  for await (const file of store.list()) {
    chunks++;
    storedBytes += file.size;
    if (referenced.has(file.id)) referencedBytes += file.size;
    else unreferencedChunks++;
  }
  return {
    blobs,
    chunks,
    logicalBytes,
    storedBytes,
    referencedBytes,
    unreferencedChunks,
    dedupRatio: storedBytes === 0 ? 1 : logicalBytes / storedBytes,
    chunker: formatChunkerParams(chunker),
    manifestChunkers: [...chunkers].sort(),
  };
}
