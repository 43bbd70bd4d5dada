/**
 * The chunk pack file format (see `chunk-pack.ts` for the layout and why
 * packs exist): encoding a pack's bytes and index. Kept free of imports
 * from the rest of gdo, so the hashing thread that writes received packs
 * (`hash-worker.ts`) starts fast.
 */
import { createHash } from "node:crypto";

export const MAGIC = Buffer.from("GDOCPK01");
export const INDEX_MAGIC = Buffer.from("GDOCPKIX");
export const ENTRY_BYTES = 40;
export const TRAILER_BYTES = 4 + 32 + 8;
/** Offsets are u32: a pack stays below 4 GiB (writers cut batches far smaller). */
const MAX_PACK_BYTES = 0xffff_ffff;
export const PACK_NAME = /^[0-9a-f]{32}\.gcp$/;

export interface PackEntry {
  id: string;
  offset: number;
  length: number;
}

/** A chunk's id: 64 hex digits, or its 32 bytes (the hashing thread's form). */
type Id = string | Uint8Array;

/** A pack file's bytes (as parts to write in order) and its name. */
export function encodeChunkPack(chunks: { id: string; bytes: Uint8Array }[]): {
  name: string;
  parts: Uint8Array[];
  size: number;
  entries: PackEntry[];
} {
  const entries: PackEntry[] = [];
  let offset = MAGIC.length;
  for (const chunk of chunks) {
    entries.push({ id: chunk.id, offset, length: chunk.bytes.length });
    offset += chunk.bytes.length;
  }
  const { name, index, trailer } = encodeChunkPackIndex(entries, offset);
  return {
    name,
    parts: [MAGIC, ...adjacentJoined(chunks.map((c) => c.bytes)), index, trailer],
    size: offset + index.length + trailer.length,
    entries,
  };
}

/** The bytes every pack starts with. */
export const PACK_MAGIC: Uint8Array = MAGIC;

/**
 * A pack's index and trailer, which follow its `chunkEnd` bytes of magic and
 * chunks, and the pack's name (from the index's hash).
 */
export function encodeChunkPackIndex(
  entries: { id: Id; offset: number; length: number }[],
  chunkEnd: number,
): { name: string; index: Buffer; trailer: Buffer } {
  const index = Buffer.alloc(entries.length * ENTRY_BYTES);
  entries.forEach((entry, k) => {
    const at = k * ENTRY_BYTES;
    if (typeof entry.id === "string") index.write(entry.id, at, "hex");
    else index.set(entry.id, at);
    index.writeUInt32BE(entry.offset, at + 32);
    index.writeUInt32BE(entry.length, at + 36);
  });
  const size = chunkEnd + index.length + TRAILER_BYTES;
  if (size > MAX_PACK_BYTES) throw new RangeError(`a chunk pack of ${size} bytes is too large`);
  const digest = createHash("sha256").update(index).digest();
  const trailer = Buffer.alloc(TRAILER_BYTES);
  trailer.writeUInt32BE(entries.length, 0);
  digest.copy(trailer, 4);
  INDEX_MAGIC.copy(trailer, 36);
  return { name: `${digest.toString("hex").slice(0, 32)}.gcp`, index, trailer };
}

/**
 * `views` with each run of views that lie end to end in one buffer (chunks
 * received into one group buffer) made one view: one part to write, not
 * thousands.
 */
export function adjacentJoined(views: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const view of views) {
    const last = out.at(-1);
    if (last && last.buffer === view.buffer && last.byteOffset + last.length === view.byteOffset) {
      out[out.length - 1] = new Uint8Array(last.buffer, last.byteOffset, last.length + view.length);
    } else {
      out.push(view);
    }
  }
  return out;
}
