/**
 * Worker body for `hash-pool.ts`: SHA-256 over views of SharedArrayBuffer
 * blocks the chunking thread filled, so hashing overlaps chunking without a
 * copy. Kept free of imports from the rest of gdo so a worker starts fast.
 *
 * Given `chunksDir`, it also says which chunks are already stored (a
 * synchronous stat here costs a few microseconds and no main-thread time;
 * through the main thread's async fs it costs more than hashing the chunk).
 */
import { createHash, type Hash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parentPort } from "node:worker_threads";

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
  | { op: "discard"; stream: number };

export type HashReply =
  | { seq: number; ids: string[]; present?: boolean[] }
  | { seq: number; hex: string }
  | { seq: number; done: true }
  | { seq: number; error: string };

const port = parentPort;
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
    }
  });
}
