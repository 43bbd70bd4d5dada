/**
 * Worker body for `hash-pool.ts`: SHA-256 over views of SharedArrayBuffer
 * blocks the chunking thread filled, so hashing overlaps chunking without a
 * copy. Kept free of imports from the rest of gdo (but the pack format, its
 * direct writer and the received chunks' layout) so a worker starts fast.
 *
 * It also stores chunks received from peers (`pack`): it checks each against
 * its id and writes those that match as one durable pack (temp file written
 * direct where it can be, fsync, rename, fsync of the folder). Done here
 * with synchronous calls, that is one message each way; on the main thread
 * it was six thread-pool round trips per pack, each waiting behind the
 * network's callbacks on a busy receiver.
 *
 * Given `chunksDir`, it also says which chunks are already stored (a
 * synchronous stat here costs a few microseconds and no main-thread time;
 * through the main thread's async fs it costs more than hashing the chunk).
 */
import { createHash, type Hash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { parentPort } from "node:worker_threads";
import { encodeChunkPackIndex, MAGIC } from "./chunk-pack-format.ts";
import { DirectFileWriter } from "./direct-file.ts";
import { LAYOUT_FIELDS } from "./received-layout.ts";

export type HashRequest =
  | {
      op: "chunks";
      seq: number;
      buffer: SharedArrayBuffer;
      byteOffset: number;
      lengths: number[];
      chunksDir?: string;
    }
  | {
      op: "update";
      seq: number;
      stream: number;
      buffer: SharedArrayBuffer;
      byteOffset: number;
      length: number;
    }
  | { op: "digest"; seq: number; stream: number }
  | { op: "discard"; stream: number }
  | {
      op: "pack";
      seq: number;
      /** Shared, or moved here (and moved back in the reply). */
      buffers: (SharedArrayBuffer | ArrayBuffer)[];
      /** Where each chunk lies (see `received-layout.ts`). */
      layout: Uint32Array;
      /** What each chunk must hash to: 32 bytes each. */
      ids: Uint8Array;
      /** Where the pack is written first, and the folder it is renamed into. */
      tmpPath: string;
      packDir: string;
    };

export type HashReply =
  | { seq: number; ids: string[]; present?: boolean[] }
  | { seq: number; hex: string }
  | { seq: number; done: true }
  | {
      seq: number;
      /** The chunks (by index) whose bytes hash to something else. */
      mismatched: { index: number; actual: string }[];
      /** The pack written, if any chunk was to be written: which chunks, in file order, at which offsets. */
      pack?: { name: string; chunks: Uint32Array; offsets: Uint32Array };
      /** The request's buffers, in its order: the moved ones moved back, for reuse. */
      buffers: (SharedArrayBuffer | ArrayBuffer)[];
    }
  | { seq: number; error: string; code?: string };

const port = parentPort;
/** Received packs are written past the page cache where the filesystem allows it. */
const packFiles = new DirectFileWriter();
if (port) {
  const streams = new Map<number, Hash>();
  port.on("message", (m: HashRequest) => {
    switch (m.op) {
      case "chunks": {
        try {
          const ids: string[] = [];
          let offset = m.byteOffset;
          for (const length of m.lengths) {
            const view = new Uint8Array(m.buffer, offset, length);
            ids.push(createHash("sha256").update(view).digest("hex"));
            offset += length;
          }
          const dir = m.chunksDir;
          const present = dir
            ? ids.map((id) => existsSync(join(dir, id.slice(0, 2), id.slice(2))))
            : undefined;
          port.postMessage({ seq: m.seq, ids, present } satisfies HashReply);
        } catch (error) {
          port.postMessage({ seq: m.seq, error: String(error) } satisfies HashReply);
        }
        break;
      }
      case "update": {
        let hash = streams.get(m.stream);
        if (!hash) {
          hash = createHash("sha256");
          streams.set(m.stream, hash);
        }
        hash.update(new Uint8Array(m.buffer, m.byteOffset, m.length));
        // The ack lets the main thread reuse the block.
        port.postMessage({ seq: m.seq, done: true } satisfies HashReply);
        break;
      }
      case "digest": {
        const hash = streams.get(m.stream) ?? createHash("sha256");
        streams.delete(m.stream);
        port.postMessage({ seq: m.seq, hex: hash.digest("hex") } satisfies HashReply);
        break;
      }
      case "discard":
        streams.delete(m.stream);
        break;
      case "pack":
        try {
          const written = writeReceivedPack(m);
          const moved = m.buffers.filter((b) => !(b instanceof SharedArrayBuffer));
          port.postMessage(
            { seq: m.seq, ...written, buffers: m.buffers } satisfies HashReply,
            moved as ArrayBuffer[],
          );
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          port.postMessage({
            seq: m.seq,
            error: (error as Error).message,
            ...(typeof code === "string" ? { code } : {}),
          } satisfies HashReply);
        }
        break;
    }
  });
}

function writeReceivedPack(m: Extract<HashRequest, { op: "pack" }>): {
  mismatched: { index: number; actual: string }[];
  pack?: { name: string; chunks: Uint32Array; offsets: Uint32Array };
} {
  const { layout, ids } = m;
  const count = layout.length / LAYOUT_FIELDS;
  const mismatched: { index: number; actual: string }[] = [];
  const entries: { id: Uint8Array; offset: number; length: number }[] = [];
  const chunks: number[] = [];
  const taken = new Set<string>();
  // Each chunk that matches goes into the pack right after it is hashed,
  // while its bytes are still in the CPU's cache.
  const file = packFiles.create(m.tmpPath, 0o444);
  let offset = MAGIC.length;
  try {
    file.append(MAGIC);
    for (let index = 0; index < count; index++) {
      const at = index * LAYOUT_FIELDS;
      const bytes = new Uint8Array(m.buffers[layout[at]!]!, layout[at + 1]!, layout[at + 2]!);
      const id = ids.subarray(index * 32, index * 32 + 32);
      const actual = createHash("sha256").update(bytes).digest();
      if (!actual.equals(id)) {
        mismatched.push({ index, actual: actual.toString("hex") });
        continue;
      }
      const key = actual.toString("latin1");
      if (layout[at + 3] === 0 || taken.has(key)) continue;
      taken.add(key);
      file.append(bytes);
      entries.push({ id, offset, length: bytes.length });
      chunks.push(index);
      offset += bytes.length;
    }
    if (entries.length === 0) {
      file.discard();
      return { mismatched };
    }
    const { index, trailer, name } = encodeChunkPackIndex(entries, offset);
    file.append(index);
    file.append(trailer);
    file.finish();
    try {
      renameSync(m.tmpPath, join(m.packDir, name));
    } catch (error) {
      try {
        unlinkSync(m.tmpPath);
      } catch {}
      throw error;
    }
    // The rename is durable once the folder is.
    const dir = openSync(m.packDir, "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return {
      mismatched,
      pack: {
        name,
        chunks: Uint32Array.from(chunks),
        offsets: Uint32Array.from(entries, (e) => e.offset),
      },
    };
  } catch (error) {
    file.discard();
    throw error;
  }
}
