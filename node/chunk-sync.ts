/**
 * `/gdo/chunks/1`: fetching the chunks of wanted blobs from any peer that
 * has them.
 *
 *   client → server   0x01 GET      {ids:[64-hex…]}     (≤ 256 ids per request)
 *   server → client   0x81 CHUNK    id (32 bytes) ‖ chunk bytes      one frame per id, in order
 *                     0x82 MISSING  id (32 bytes)                    not here (or unreadable)
 *
 * A stream carries many requests, answered in order, until the client closes
 * its side: the client sends its next GET before the current answer ends, so
 * the server never waits for work, and a stream's flow-control window grows
 * once instead of starting small for every request.
 *
 * Which blobs a node wants: the `*.blob` pointer files in main's tree whose
 * path matches `config.replicate`. For those, only chunks the store lacks are
 * asked for, spread over all connected peers in parallel (a few requests in
 * flight per peer). Every chunk is re-hashed by the blob store before it is
 * written; a chunk whose bytes do not match its id is dropped, the peer loses
 * score and is not asked for that chunk again, and the chunk goes back in the
 * queue for another peer. Progress survives a disconnect or a restart because
 * "what is missing" is always recomputed from the store.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { PeerId, Stream } from "@libp2p/interface";
import type { BlobStore } from "../ledger/blobs/blob-store.ts";
import { MAX_CHUNK_SIZE } from "../ledger/blobs/chunk-store.ts";
import type { ManifestChunk } from "../ledger/blobs/manifest.ts";
import { PointerFiles } from "../ledger/blobs/pointer-files.ts";
import { GdoError } from "../ledger/errors.ts";
import { matchesPattern } from "../ledger/policy.ts";
import { type Answered, CHUNK, ChunkAnswers, MISSING } from "./chunk-answers.ts";
import { BufferPool, type ChunkGroup } from "./chunk-group.ts";
import type { Limits } from "./config.ts";
import { ProtocolError } from "./errors.ts";
import { FrameBatch, FrameReader, parseJson, sendJson } from "./frame.ts";
import type { MembershipGate } from "./gater.ts";
import { MissingLookup } from "./missing-lookup.ts";
import type { ServeHooks, SyncNetwork } from "./network.ts";
import type { PeerTable } from "./peers.ts";
import type { Replica } from "./replica.ts";

export const CHUNK_PROTOCOL = "/gdo/chunks/1";
export const GET = 0x01;
export const MAX_GET_IDS = 256;
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
 * A blob whose every chunk the store held at the end of a pass is not looked
 * at again (a door's log line moves main every swipe; each move used to
 * look up every chunk of every wanted blob), except by a full check this
 * often, which catches a chunk lost since (one removed by `blob check`).
 */
const FULL_CHECK_MS = 10 * 60_000;

const HEX64 = /^[0-9a-f]{64}$/;

export interface ChunkSyncInit {
  replica: Replica;
  blobs: BlobStore;
  gate: MembershipGate;
  peers: PeerTable;
  limits: Limits;
  replicate: string[];
  hooks?: ServeHooks;
  log: (line: string) => void;
}

export interface ChunkProgress {
  wantedBlobs: number;
  /** Chunks of the wanted blobs (those of complete blobs counted per blob). */
  wantedChunks: number;
  /** Chunks the last pass looked up in the store: those of blobs not yet complete. */
  checkedChunks: number;
  /**
   * Chunks not stored: while a pass runs, those it has not stored yet
   * (chunks not yet looked up count as missing); after it, those it could
   * not fetch.
   */
  missingChunks: number;
  fetchedChunks: number;
  fetchedBytes: number;
  refusedChunks: number;
  servedChunks: number;
  servedBytes: number;
  running: boolean;
}

interface Wanted {
  id: string;
  length: number;
  /** Peers that lacked it or served bad bytes for it. */
  excluded: Set<string>;
}

export class ChunkSync {
  readonly #init: ChunkSyncInit;
  readonly #net: SyncNetwork;
  readonly #controller = new AbortController();
  /** Buffers received chunks are gathered in (see `ChunkGroup`): those of the groups in flight. */
  readonly #groupBuffers: BufferPool;
  #running: Promise<void> | undefined;
  #again = false;
  /** Main's head for which the wanted set was last computed, and that set. */
  #wantedFor: string | undefined;
  #wanted: { id: string; length: number }[] = [];
  /**
   * The chunk lists of the wanted manifests, by the oid of their pointer
   * file: a new block (a door's log line) does not read, parse and store
   * again every manifest main names, only those it changed.
   */
  #manifests = new Map<string, readonly ManifestChunk[]>();
  /** Main's pointer files, listed again by the folders each block changed. */
  readonly #pointerFiles = new PointerFiles();
  /** Pointer oids of wanted blobs whose every chunk is stored (see `FULL_CHECK_MS`), and since when the set is kept. */
  #complete = new Set<string>();
  #completeSince = Date.now();
  /** The wanted blobs not yet complete, with their chunks: as of `#wantedFor`. */
  #incomplete: { oid: string; chunks: readonly ManifestChunk[] }[] = [];
  /** While a pass fetches: how many chunks it has yet to store. */
  #missingNow: (() => number) | undefined;
  /** Stores of the manifests found by this pass, awaited before it ends: the pointer oid of each that failed. */
  #manifestsStored: Promise<string | undefined>[] = [];
  readonly #progress: ChunkProgress = {
    wantedBlobs: 0,
    wantedChunks: 0,
    checkedChunks: 0,
    missingChunks: 0,
    fetchedChunks: 0,
    fetchedBytes: 0,
    refusedChunks: 0,
    servedChunks: 0,
    servedBytes: 0,
    running: false,
  };

  constructor(init: ChunkSyncInit, net: SyncNetwork) {
    this.#init = init;
    this.#net = net;
    // Per lane: the group being received and those still being stored.
    const lanes = Math.max(1, init.limits.chunkRequestsPerPeer);
    this.#groupBuffers = new BufferPool({
      size: GROUP_BUFFER_BYTES,
      keep: lanes * (STORING_PER_STREAM + 1),
    });
  }

  progress(): ChunkProgress {
    const progress = { ...this.#progress, running: this.#running !== undefined };
    if (this.#missingNow) progress.missingChunks = this.#missingNow();
    return progress;
  }

  async start(): Promise<void> {
    await this.#net.handle(CHUNK_PROTOCOL, (stream, peer) => this.#serve(stream, peer), {
      maxInboundStreams: this.#init.limits.maxInboundStreams,
      maxOutboundStreams: Math.max(this.#init.limits.chunkRequestsPerPeer, 4) * 2,
    });
  }

  async stop(): Promise<void> {
    this.#controller.abort(new Error("node stopping"));
    await this.#net.unhandle(CHUNK_PROTOCOL).catch(() => {});
    await this.#running?.catch(() => {});
  }

  /** Fetches missing chunks soon (after main moved, a peer connected, or a timer). */
  requestRun(): void {
    if (this.#controller.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          await this.run(this.#controller.signal);
        } catch (error) {
          if (!this.#controller.signal.aborted)
            this.#init.log(`chunks    ${(error as Error).message}`);
        }
      } while (this.#again && !this.#controller.signal.aborted);
    })().finally(() => {
      this.#running = undefined;
    });
  }

  /** The chunks of every wanted blob not yet complete, by main's pointer files and the replicate rules. */
  async #wantedChunks(signal: AbortSignal): Promise<{ id: string; length: number }[]> {
    const { replica, blobs, replicate } = this.#init;
    const main = await replica.mainBlock();
    if (!main) return [];
    if (Date.now() - this.#completeSince > FULL_CHECK_MS) {
      this.#complete.clear();
      this.#completeSince = Date.now();
      this.#wantedFor = undefined;
    }
    if (this.#wantedFor === main.oid) return this.#wanted;
    const me = main.charter.memberByKey(replica.key.publicKey)?.name ?? "";
    const reader = replica.verifier.reader;
    const seen = new Set<string>();
    const wanted: { id: string; length: number }[] = [];
    const manifests = new Map<string, readonly ManifestChunk[]>();
    const incomplete: { oid: string; chunks: readonly ManifestChunk[] }[] = [];
    let count = 0;
    let completeChunks = 0;
    for (const file of await this.#pointerFiles.list(reader, main.tree)) {
      signal.throwIfAborted();
      if (!replicate.some((p) => matchesPattern(p, file.path, me))) continue;
      let chunks = manifests.get(file.oid) ?? this.#manifests.get(file.oid);
      if (!chunks) {
        const bytes = (await reader.objects.readObject(file.oid)).content;
        try {
          // Stored while its chunks are fetched: its fsyncs need not hold up the first request.
          const added = blobs.startAddManifest({ bytes, source: file.path, signal });
          chunks = added.manifest.chunks;
          // This node put it: every chunk is here already.
          if (blobs.putComplete(added.id)) this.#complete.add(file.oid);
          this.#manifestsStored.push(
            added.stored.then(
              () => undefined,
              (error: Error) => {
                if (!signal.aborted) {
                  this.#init.log(
                    `chunks    cannot store the manifest of ${file.path}: ${error.message}`,
                  );
                }
                return file.oid;
              },
            ),
          );
        } catch (error) {
          if (!(error instanceof GdoError)) throw error;
          this.#init.log(`chunks    skipping ${file.path}: ${error.message}`);
          continue;
        }
      }
      manifests.set(file.oid, chunks);
      count++;
      if (this.#complete.has(file.oid)) {
        completeChunks += chunks.length;
        continue;
      }
      incomplete.push({ oid: file.oid, chunks });
      for (const c of chunks) {
        if (seen.has(c.id)) continue;
        seen.add(c.id);
        wanted.push(c);
      }
    }
    this.#wantedFor = main.oid;
    this.#wanted = wanted;
    this.#incomplete = incomplete;
    // Kept for the next block: only the manifests this one still names.
    this.#manifests = manifests;
    for (const oid of this.#complete) if (!manifests.has(oid)) this.#complete.delete(oid);
    this.#progress.wantedBlobs = count;
    this.#progress.wantedChunks = wanted.length + completeChunks;
    return wanted;
  }

  /** Marks the wanted blobs none of whose chunks is in `missing` complete. */
  #markComplete(missing: { has(id: string): boolean }): void {
    let marked = false;
    for (const { oid, chunks } of this.#incomplete) {
      if (chunks.some((c) => missing.has(c.id))) continue;
      this.#complete.add(oid);
      marked = true;
    }
    // The next pass leaves their chunks out.
    if (marked) this.#wantedFor = undefined;
  }

  /** One pass: compute what is missing, fetch it from connected peers until done or stuck. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      await this.#fetchMissing(signal);
    } finally {
      // What the pass left missing (every slice looked up once it returns).
      if (this.#missingNow) this.#progress.missingChunks = this.#missingNow();
      this.#missingNow = undefined;
      // A pass is done once the manifests it found are durable too; one
      // that could not be stored is read and stored again by the next.
      for (const failed of await Promise.all(this.#manifestsStored.splice(0))) {
        if (!failed) continue;
        this.#manifests.delete(failed);
        this.#complete.delete(failed);
        this.#wantedFor = undefined;
      }
    }
  }

  async #fetchMissing(signal: AbortSignal): Promise<void> {
    const { blobs } = this.#init;
    const wanted = await this.#wantedChunks(signal);
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
    this.#progress.checkedChunks = wanted.length;
    this.#missingNow = () => queue.size + lookup.unlookedChunks;
    // The first slice's missing chunks, or the whole lookup's if it has none.
    while (queue.size === 0 && !lookup.finished) await lookup.next();
    const peers = this.#net.connectedPeers();
    if (queue.size === 0 || peers.length === 0) {
      await lookup.lookUpRest();
      if (queue.size === 0) this.#markComplete(queue);
      return;
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
        const reason = (error as Error).message;
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
    try {
      await Promise.all(
        Array.from({ length: lanes }).flatMap(() => peers.map((peer) => lane(peer))),
      );
    } finally {
      // Kept beyond the pass, they outlived it in an idle node's memory (a
      // released buffer is freed only by a collection, which an idle node
      // seldom runs): 115 MiB 30 s after a 256 MiB fetch, 149-160 MiB kept.
      this.#groupBuffers.clear();
    }
    // Lanes that all failed leave the rest of the lookup to finish here.
    await lookup.lookUpRest();
    this.#markComplete(queue);
    if (queue.size > 0 && peers.length > 0) {
      this.#init.log(
        `chunks    ${queue.size} chunk(s) not available from ${peers.length} connected peer(s); will retry`,
      );
    }
  }

  /**
   * A stream to `peer` for a run of requests: `request` sends a GET,
   * `receive` reads the answer to the oldest one and returns a promise of its
   * chunks being stored, `finish` closes the client's side.
   */
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
              this.#progress.refusedChunks++;
              const banned = peers.penalize(id, BAD_CHUNK_PENALTY, `bad chunk ${w.id}`);
              log(
                `refused   chunk ${w.id.slice(0, 12)} from ${this.#nameOf(peer)}: its bytes do not match its id${banned ? " (peer banned)" : ""}`,
              );
              return;
            }
            queue.delete(w.id);
            record.chunksIn++;
            this.#progress.fetchedChunks++;
            this.#progress.fetchedBytes += size;
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

  async #serve(stream: Stream, peer: PeerId): Promise<void> {
    const { gate, limits, peers } = this.#init;
    if (!gate.decide(peer, "inbound").admit) {
      stream.abort(new ProtocolError("not admitted"));
      return;
    }
    const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(10 * 60_000)]);
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
        await this.#answer(parseJson(frame.payload, "GET").ids, out, peer, signal);
        await out.flush({ signal });
      }
      await stream.close({ signal });
    } catch (error) {
      stream.abort(error as Error);
      if (error instanceof ProtocolError) peers.penalize(peer.toString(), 1, error.message);
    }
  }

  /** Queues the frames answering one GET on `out`. */
  async #answer(ids: unknown, out: FrameBatch, peer: PeerId, signal: AbortSignal): Promise<void> {
    const { blobs, hooks, peers } = this.#init;
    const record = peers.get(peer.toString());
    if (!Array.isArray(ids) || ids.length > MAX_GET_IDS || !ids.every((i) => HEX64.test(i)))
      throw new ProtocolError(`GET: 'ids' must be at most ${MAX_GET_IDS} chunk ids`);
    for (const chunk of ids as string[]) {
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
      this.#progress.servedChunks++;
      this.#progress.servedBytes += bytes.length;
    }
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
