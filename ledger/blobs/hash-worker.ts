/**
 * Worker body for `hash-pool.ts`: SHA-256 over views of SharedArrayBuffer
 * blocks the chunking thread filled, so hashing overlaps chunking without a
 * copy. Kept free of imports from the rest of gdo so a worker starts fast.
 */
import { createHash, type Hash } from "node:crypto";
import { parentPort } from "node:worker_threads";

export type HashRequest =
  | { op: "chunks"; seq: number; buffer: SharedArrayBuffer; byteOffset: number; lengths: number[] }
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
  | { seq: number; ids: string[] }
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
          port.postMessage({ seq: m.seq, ids } satisfies HashReply);
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
