/**
 * The answering side of `/gdo/chunks/1` (see `chunk-wire.ts`): a member's
 * GETs answered from the blob store, in order, each chunk read straight into
 * the frame that carries it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { PeerId, Stream } from "@libp2p/interface";
import type { BlobStore } from "../ledger/blobs/blob-store.ts";
import { GdoError } from "../ledger/errors.ts";
import { CHUNK, GET, MISSING, parseGetIds } from "./chunk-wire.ts";
import type { Limits } from "./config.ts";
import { ProtocolError } from "./errors.ts";
import { FrameBatch, FrameReader, parseJson } from "./frame.ts";
import type { MembershipGate } from "./gater.ts";
import type { ServeHooks } from "./network.ts";
import type { PeerTable } from "./peers.ts";

/** A stream is served this long at most, however busy. */
const STREAM_LIFE_MS = 10 * 60_000;

export interface ChunkServerInit {
  blobs: BlobStore;
  gate: MembershipGate;
  peers: PeerTable;
  limits: Limits;
  hooks?: ServeHooks;
  /** What was served, counted as it goes. */
  served: { servedChunks: number; servedBytes: number };
}

export class ChunkServer {
  readonly #init: ChunkServerInit;
  /** Aborted when the node stops. */
  readonly #stopping: AbortSignal;

  constructor(init: ChunkServerInit, stopping: AbortSignal) {
    this.#init = init;
    this.#stopping = stopping;
  }

  /** Answers a stream's GETs until the client closes its side. */
  async serve(stream: Stream, peer: PeerId): Promise<void> {
    const { gate, limits, peers } = this.#init;
    if (!gate.decide(peer, "inbound").admit) {
      stream.abort(new ProtocolError("not admitted"));
      return;
    }
    const signal = AbortSignal.any([this.#stopping, AbortSignal.timeout(STREAM_LIFE_MS)]);
    const reader = new FrameReader(stream, {
      maxFrame: limits.maxChunkRequest,
      idleMs: limits.streamIdleMs,
    });
    try {
      const out = new FrameBatch(stream);
      for (;;) {
        const frame = await reader.next({ signal });
        if (!frame) break;
        if (frame.kind !== GET)
          throw new ProtocolError(`unexpected message kind 0x${frame.kind.toString(16)}`);
        const ids = parseGetIds(parseJson(frame.payload, "GET").ids);
        await this.#answer(ids, out, peer, signal);
        await out.flush({ signal });
      }
      await stream.close({ signal });
    } catch (error) {
      stream.abort(error as Error);
      if (error instanceof ProtocolError) peers.penalize(peer.toString(), 1, error.message);
    }
  }

  /** Queues the frames answering one GET on `out`. */
  async #answer(ids: string[], out: FrameBatch, peer: PeerId, signal: AbortSignal): Promise<void> {
    const { blobs, hooks, peers, served } = this.#init;
    const record = peers.get(peer.toString());
    for (const chunk of ids) {
      const idBytes = Buffer.from(chunk, "hex");
      if (hooks?.chunkDelayMs) await sleep(hooks.chunkDelayMs);
      // The chunk is read straight into the frame that carries it: no buffer
      // of its own, no copy into the batch. It is not re-hashed here: the
      // receiver hashes every chunk before storing it, and refuses (and
      // fetches elsewhere) one that does not match, as it would a forged one.
      let reserved = false;
      const place = (length: number) => {
        reserved = true;
        return out.reserve(CHUNK, idBytes, length);
      };
      let bytes: Uint8Array | undefined;
      try {
        // Packed chunks (nearly all) are read without a promise each.
        bytes = hooks?.chunk ? undefined : blobs.readPackedChunk({ id: chunk, place });
        bytes ??= await blobs.readChunk({
          id: chunk,
          verify: false,
          ...(hooks?.chunk ? {} : { place }),
        });
      } catch (error) {
        if (!(error instanceof GdoError)) throw error;
        if (reserved) out.unreserve();
      }
      if (!bytes) {
        await out.add(MISSING, [idBytes], { signal });
        continue;
      }
      if (hooks?.chunk) {
        // Tests' forging peers: the bytes they serve replace the stored ones.
        bytes = hooks.chunk(chunk, bytes);
        await out.add(CHUNK, [idBytes, bytes], { signal });
      } else if (out.full) {
        await out.flush({ signal });
      }
      record.chunkBytesOut += bytes.length;
      served.servedChunks++;
      served.servedBytes += bytes.length;
    }
  }
}
