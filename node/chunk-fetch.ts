/**
 * One pass of fetching missing chunks over `/gdo/chunks/1` (see
 * `chunk-wire.ts`): the wanted chunks the store lacks, asked of every
 * connected peer at once, a few requests in flight on each (lanes), each
 * answer hashed and stored as it arrives.
 *
 * Every chunk is re-hashed by the blob store before it is written; a chunk
 * whose bytes do not match its id is dropped, the peer loses score and is
 * not asked for that chunk again, and the chunk goes back in the queue for
 * another peer. A peer that fails or stalls mid-request is skipped for what
 * it did not deliver. Progress survives a disconnect or a restart because
 * what is missing is always looked up in the store.
 */
import type { PeerId } from "@libp2p/interface";
import type { BlobStore } from "../ledger/blobs/blob-store.ts";
import { MAX_CHUNK_SIZE } from "../ledger/blobs/chunk-store.ts";
import type { ManifestChunk } from "../ledger/blobs/manifest.ts";
import { IdleRelease } from "../ledger/idle-release.ts";
import { type Answered, ChunkAnswers } from "./chunk-answers.ts";
import { BufferPool, type ChunkGroup } from "./chunk-group.ts";
import { CHUNK_PROTOCOL, GET, MAX_GET_IDS } from "./chunk-wire.ts";
import type { Limits } from "./config.ts";
import { peerFailure } from "./errors.ts";
import { sendJson } from "./frame.ts";
import type { MembershipGate } from "./gater.ts";
import { MissingLookup } from "./missing-lookup.ts";
import type { SyncNetwork } from "./network.ts";
import type { PeerTable } from "./peers.ts";

/** A GET asks for about this many bytes (by manifest lengths), so one slow request holds little. */
export const REQUEST_BYTES = 4 * 1024 * 1024;
/** The smallest request, when there is little to fetch. */
const MIN_REQUEST_BYTES = 256 * 1024;
/** Requests sent on a stream before their answers are read. */
const REQUESTS_AHEAD = 2;
/** A stream is closed and a new one opened after this many requests (the server caps a stream's life). */
const REQUESTS_PER_STREAM = 64;
const BAD_CHUNK_PENALTY = 5;
/**
 * Received chunks are gathered, hashed and written (one pack, one fsync) a
 * request's answer at a time: a request asks for `REQUEST_BYTES` and the
 * chunk that crosses it, so a buffer of this size holds nearly every answer
 * whole (a longer one spills into a second group).
 */
const GROUP_BUFFER_BYTES = REQUEST_BYTES + 1024 * 1024;
/** Requests per lane whose chunks may still be being written while the next is received. */
export const STORING_PER_LANE = 2;
/** Groups of a stream being stored before it is paused: those of the requests ahead and one more. */
const STORING_PER_STREAM = REQUESTS_AHEAD + 1;
/**
 * The group buffers are kept from pass to pass until no pass has run for
 * this long (as the blob store's hashing threads are): a node fetching blob
 * after blob reuses memory it already has, where new buffers cost the
 * kernel a fault and a cleared page per 2 MiB on first touch (RFC 7).
 */
const GROUP_BUFFERS_IDLE_MS = 10_000;

export interface ChunkFetchInit {
  blobs: BlobStore;
  gate: MembershipGate;
  peers: PeerTable;
  limits: Limits;
  log: (line: string) => void;
  /** Counted as a pass goes; `missingChunks` set when it ends. */
  counts: {
    missingChunks: number;
    fetchedChunks: number;
    fetchedBytes: number;
    refusedChunks: number;
  };
}

interface Wanted {
  id: string;
  length: number;
  /** Peers that lacked it or served bad bytes for it. */
  excluded: Set<string>;
}

export class ChunkFetch {
  readonly #init: ChunkFetchInit;
  readonly #net: SyncNetwork;
  /** Buffers received chunks are gathered in (see `ChunkGroup`): those of the groups in flight. */
  readonly #groupBuffers: BufferPool;
  readonly #buffersIdle: IdleRelease;
  /** While a pass runs: how many chunks it has yet to store. */
  #missingNow: (() => number) | undefined;

  constructor(init: ChunkFetchInit, net: SyncNetwork) {
    this.#init = init;
    this.#net = net;
    // Per lane: the group being received and those still being stored.
    const lanes = Math.max(1, init.limits.chunkRequestsPerPeer);
    this.#groupBuffers = new BufferPool({
      size: GROUP_BUFFER_BYTES,
      keep: lanes * (STORING_PER_STREAM + 1),
    });
    this.#buffersIdle = new IdleRelease(GROUP_BUFFERS_IDLE_MS, () => this.#groupBuffers.clear());
  }

  /** Lets go of the group buffers at once (the node is stopping). */
  close(): void {
    this.#buffersIdle.cancel();
    this.#groupBuffers.clear();
  }

  /**
   * Chunks the running pass has not stored yet, those not yet looked up
   * included; undefined between passes.
   */
  missingNow(): number | undefined {
    return this.#missingNow?.();
  }

  /**
   * Fetches those of `wanted` the store lacks from the connected peers, until
   * every one is stored or no peer has the rest. Returns the chunks still
   * missing.
   */
  async run(
    wanted: readonly ManifestChunk[],
    signal: AbortSignal,
  ): Promise<{ has(id: string): boolean }> {
    try {
      return await this.#fetch(wanted, signal);
    } finally {
      // What the pass left missing (every slice looked up once it returns).
      if (this.#missingNow) this.#init.counts.missingChunks = this.#missingNow();
      this.#missingNow = undefined;
    }
  }

  /** The pass: returns the chunks it left missing. */
  async #fetch(
    wanted: readonly ManifestChunk[],
    signal: AbortSignal,
  ): Promise<Map<string, Wanted>> {
    const { blobs } = this.#init;
    const queue = new Map<string, Wanted>();
    // Those of the queue not in flight: a request takes from here, so it does
    // not step over the chunks every other request holds (8 ms a 256 MiB blob).
    const ready = new Map<string, Wanted>();
    // Which chunks are missing is looked up a slice at a time, and the lanes
    // start on the first: looking up a large blob's chunks took 10-30 ms
    // before the first request went out, with both nodes idle.
    const lanes = Math.max(1, this.#init.limits.chunkRequestsPerPeer);
    const lookup = new MissingLookup({
      wanted,
      // A request's worth for every lane of every peer in hand before the next slice.
      lowWaterBytes: lanes * Math.max(1, this.#net.connectedPeers().length) * REQUEST_BYTES,
      missing: (ids) => blobs.missingChunks({ ids, signal }),
      found: (w) => {
        const wanted: Wanted = { id: w.id, length: w.length, excluded: new Set() };
        queue.set(w.id, wanted);
        ready.set(w.id, wanted);
      },
    });
    this.#missingNow = () => queue.size + lookup.unlookedChunks;
    // The first slice's missing chunks, or the whole lookup's if it has none.
    while (queue.size === 0 && !lookup.finished) await lookup.next();
    const peers = this.#net.connectedPeers();
    if (queue.size === 0 || peers.length === 0) {
      await lookup.lookUpRest();
      return queue;
    }
    // The threads that check and write what arrives start while the first requests go out.
    blobs.warmHashThreads();
    // Small requests when there is little left to ask for, so every lane of
    // every peer gets a share (by what is known so far: chunks not yet looked
    // up count as missing).
    const slots = peers.length * lanes;
    const take = (peer: string): Wanted[] => {
      const target = Math.max(
        MIN_REQUEST_BYTES,
        Math.min(REQUEST_BYTES, Math.ceil(lookup.unrequestedBytes / slots)),
      );
      const batch: Wanted[] = [];
      let bytes = 0;
      for (const w of ready.values()) {
        if (w.excluded.has(peer)) continue;
        batch.push(w);
        ready.delete(w.id);
        bytes += w.length;
        if (batch.length >= MAX_GET_IDS || bytes >= target) break;
      }
      lookup.taken(bytes);
      return batch;
    };
    /** A request's chunks are no longer in flight: those not stored (refused, lacking, cut off) are to be asked for again. */
    const release = (batch: Wanted[]) => {
      for (const w of batch) {
        if (!queue.has(w.id)) continue;
        ready.set(w.id, w);
        lookup.returned(w.length);
      }
    };
    const lane = async (peer: PeerId) => {
      const id = peer.toString();
      // A request's chunks are stored while the lane's next requests are
      // received (at most STORING_PER_LANE requests still being written).
      const storing = new Set<Promise<void>>();
      const failed = (batch: Wanted[], error: unknown) => {
        // A peer that fails mid-request (disconnect, reset, a trickle) is
        // not asked again this pass for what it did not deliver.
        let left = 0;
        for (const w of batch) {
          if (!queue.has(w.id)) continue;
          w.excluded.add(id);
          left++;
        }
        const record = this.#init.peers.get(id);
        const reason = peerFailure(error);
        // Once per reason, not once per lane.
        if (left > 0 && record.lastError !== reason) {
          this.#init.log(
            `chunks    ${this.#nameOf(peer)}: ${reason}; ${left} chunk(s) left to other peers`,
          );
        }
        record.lastError = reason;
      };
      try {
        for (;;) {
          signal.throwIfAborted();
          if (this.#init.peers.banned(id)) return;
          let requests = 0;
          let session: ChunkSession | undefined;
          // Sent and not yet answered, oldest first, with their answers.
          const sent: { batch: Wanted[]; answer: Promise<Answered> }[] = [];
          try {
            for (;;) {
              while (sent.length < REQUESTS_AHEAD && requests < REQUESTS_PER_STREAM) {
                const batch = take(id);
                if (batch.length === 0) {
                  // Nothing to ask for yet, and nothing asked: wait for the lookup's next slice.
                  if (sent.length === 0 && !lookup.finished) {
                    await lookup.next();
                    continue;
                  }
                  break;
                }
                requests++;
                session ??= await this.#openSession(peer, queue, signal);
                const { answer, posted } = session.request(batch, { signal });
                sent.push({ batch, answer });
                await posted;
              }
              const oldest = sent[0];
              if (!oldest) break;
              if (sent.length === 1 && requests < REQUESTS_PER_STREAM && lookup.finished) {
                // Nothing more to ask: let the server end the stream after this answer.
                await session!.finish({ signal });
              }
              const { stored } = await oldest.answer;
              sent.shift();
              const { batch } = oldest;
              const settled: Promise<void> = stored
                .catch((error) => {
                  if (!signal.aborted) failed(batch, error);
                })
                .finally(() => {
                  release(batch);
                  storing.delete(settled);
                });
              storing.add(settled);
              if (storing.size >= STORING_PER_LANE) await Promise.race(storing);
            }
            await session?.finish({ signal });
          } catch (error) {
            session?.abort(error as Error);
            const batches = sent.flatMap((s) => s.batch);
            // The answers' stores begun have settled once they reject.
            await Promise.allSettled(sent.map((s) => s.answer));
            release(batches);
            if (signal.aborted) throw error;
            failed(batches, error);
            continue;
          }
          if (requests < REQUESTS_PER_STREAM) return;
        }
      } finally {
        await Promise.all(storing);
      }
    };
    // Lanes start interleaved across peers (peer 1, peer 2, … then again).
    this.#buffersIdle.touch();
    try {
      await Promise.all(
        Array.from({ length: lanes }).flatMap(() => peers.map((peer) => lane(peer))),
      );
    } finally {
      // Held for the next pass, and given back once passes stop coming.
      this.#buffersIdle.touch();
    }
    // Lanes that all failed leave the rest of the lookup to finish here.
    await lookup.lookUpRest();
    if (queue.size > 0 && peers.length > 0) {
      this.#init.log(
        `chunks    ${queue.size} chunk(s) not available from ${peers.length} connected peer(s); will retry`,
      );
    }
    return queue;
  }

  /** A stream to `peer` for a run of requests (see `ChunkSession`). */
  async #openSession(
    peer: PeerId,
    queue: Map<string, Wanted>,
    signal: AbortSignal,
  ): Promise<ChunkSession> {
    const { blobs, peers, limits, log } = this.#init;
    const id = peer.toString();
    const record = peers.get(id);
    const stream = await this.#net.openStream(peer, CHUNK_PROTOCOL, { signal });
    let finished = false;
    const buffers = this.#groupBuffers;
    // Received chunks are stored in groups (one writer registration, one
    // pack, one fsync per group), each written while the next is received.
    const store = (group: ChunkGroup<Wanted>): Promise<Uint8Array> => {
      // Read before the buffer moves to the hashing thread.
      const lengths = group.items.map(({ bytes }) => bytes.length);
      return blobs
        .writeReceivedChunks({
          chunks: group.items.map(({ item, bytes }) => ({ id: item.id, bytes })),
          signal,
        })
        .then(({ results, returned }) => {
          results.forEach((result, k) => {
            const w = group.items[k]!.item;
            const size = lengths[k]!;
            record.chunkBytesIn += size;
            if (result instanceof Error) {
              w.excluded.add(id);
              record.refusedChunks++;
              this.#init.counts.refusedChunks++;
              const banned = peers.penalize(id, BAD_CHUNK_PENALTY, `bad chunk ${w.id}`);
              log(
                `refused   chunk ${w.id.slice(0, 12)} from ${this.#nameOf(peer)}: its bytes do not match its id${banned ? " (peer banned)" : ""}`,
              );
              return;
            }
            queue.delete(w.id);
            record.chunksIn++;
            this.#init.counts.fetchedChunks++;
            this.#init.counts.fetchedBytes += size;
          });
          const buffer = returned.get(group.buffer.buffer);
          return buffer ? new Uint8Array(buffer) : group.buffer;
        });
    };
    const answers = new ChunkAnswers<Wanted>(stream, {
      buffers,
      store,
      missing: (w) => w.excluded.add(id),
      maxChunk: MAX_CHUNK_SIZE,
      idleMs: limits.streamIdleMs,
      maxStoring: STORING_PER_STREAM,
      minRate: limits.minChunkRate,
      lengthOf: (w) => w.length,
      signal,
    });
    return {
      request(batch, options) {
        const ids = Buffer.allocUnsafe(batch.length * 32);
        for (const [k, w] of batch.entries()) ids.write(w.id, k * 32, "hex");
        // Expected before it is sent: the answer may come at once.
        const answer = answers.expect(batch, ids);
        const posted = sendJson(stream, GET, { ids: batch.map((w) => w.id) }, options).then(
          () => {},
          (error: Error) => {
            answers.fail(error);
            throw error;
          },
        );
        return { answer, posted };
      },
      async finish(options) {
        if (finished) return;
        finished = true;
        await stream.close(options);
      },
      abort(error) {
        answers.fail(error);
        stream.abort(error);
      },
    };
  }

  /** How log lines name a peer: its member name, else its peer id. */
  #nameOf(peer: PeerId): string {
    const id = peer.toString();
    return this.#init.gate.nameOf(peer) ?? this.#init.peers.get(id).name ?? id;
  }
}

interface ChunkSession {
  /**
   * Sends a GET for `batch`: `posted` once it is sent; `answer` once every
   * chunk of it arrived, with a promise of their being stored.
   */
  request(
    batch: Wanted[],
    options: { signal: AbortSignal },
  ): { answer: Promise<Answered>; posted: Promise<void> };
  finish(options: { signal: AbortSignal }): Promise<void>;
  abort(error: Error): void;
}
