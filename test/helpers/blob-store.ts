import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after } from "node:test";
import { type BlobStore, openBlobStore } from "../../ledger/blobs/blob-store.ts";
import { parseChunkPackIndex } from "../../ledger/blobs/chunk-pack.ts";
import { encodeChunkPack } from "../../ledger/blobs/chunk-pack-format.ts";

export const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

// Stores are closed before their folders are removed, once, after the file's tests.
const dirs: string[] = [];
const stores: BlobStore[] = [];
after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh data folder, removed after the file's tests. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "gdo-blobs-"));
  dirs.push(d);
  return d;
}

/** A blob store on `dataDir` (default: a fresh one), closed after the file's tests. */
export async function openStore(
  dataDir = tempDir(),
  extra: Partial<Parameters<typeof openBlobStore>[0]> = {},
): Promise<BlobStore> {
  const store = await openBlobStore({ dataDir, ...extra });
  stores.push(store);
  return store;
}

/** Where a stored chunk's bytes are: a whole chunk file, or a range of a pack. */
export interface ChunkLocation {
  path: string;
  offset: number;
  length: number;
  packed: boolean;
}

/** Every chunk stored under `dataDir` (chunk files and pack entries), by id, read from disk. */
export function chunkLocations(dataDir: string): Map<string, ChunkLocation> {
  const found = new Map<string, ChunkLocation>();
  const chunks = join(dataDir, "blobs", "chunks");
  for (const fan of readdirSync(chunks)) {
    for (const rest of readdirSync(join(chunks, fan))) {
      const path = join(chunks, fan, rest);
      found.set(fan + rest, { path, offset: 0, length: statSync(path).size, packed: false });
    }
  }
  const packs = join(dataDir, "blobs", "packs");
  for (const name of readdirSync(packs)) {
    const path = join(packs, name);
    const bytes = readFileSync(path);
    for (const entry of parseChunkPackIndex(path, bytes.length, bytes)) {
      found.set(entry.id, { path, offset: entry.offset, length: entry.length, packed: true });
    }
  }
  return found;
}

/** A stored chunk's bytes as they are on disk (not verified). */
export function storedBytes(location: ChunkLocation): Buffer {
  const bytes = readFileSync(location.path);
  return bytes.subarray(location.offset, location.offset + location.length);
}

/** Asserts every stored chunk's bytes hash to its id: nothing partial or damaged under a final name. */
export function assertChunksIntact(dataDir: string): void {
  for (const [id, location] of chunkLocations(dataDir)) {
    assert.equal(sha(storedBytes(location)), id, `${location.path} at ${location.offset}`);
  }
}

/** Changes a stored chunk's bytes in place (`edit` gets them), as disk damage would. */
export function damageChunk(dataDir: string, id: string, edit: (bytes: Buffer) => void): void {
  const location = chunkLocations(dataDir).get(id);
  assert.ok(location, `chunk ${id} is stored`);
  const file = readFileSync(location.path);
  edit(file.subarray(location.offset, location.offset + location.length));
  chmodSync(location.path, 0o644);
  writeFileSync(location.path, file);
}

/**
 * Removes one stored chunk from disk, as if lost: its file, or its entry of
 * a pack (the pack is rewritten without it). Open the store again to see it.
 */
export function loseChunk(dataDir: string, id: string): void {
  const locations = chunkLocations(dataDir);
  const location = locations.get(id);
  assert.ok(location, `chunk ${id} is stored`);
  const rest = [...locations]
    .filter(([other, at]) => location.packed && at.path === location.path && other !== id)
    .map(([other, at]) => ({ id: other, bytes: storedBytes(at) }));
  rmSync(location.path);
  if (rest.length === 0) return;
  const { name, parts } = encodeChunkPack(rest);
  writeFileSync(join(dirname(location.path), name), Buffer.concat(parts));
}

/** Makes every chunk file and pack a day old (past gc's grace period). */
export function ageChunks(dataDir: string): void {
  const day = new Date(Date.now() - 24 * 3600_000);
  for (const path of new Set([...chunkLocations(dataDir).values()].map((l) => l.path))) {
    utimesSync(path, day, day);
  }
}
