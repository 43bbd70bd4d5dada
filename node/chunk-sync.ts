/**
 * Blob chunks between members (`/gdo/chunks/1`, RFC 7): the chunks of the
 * blobs this node wants (`wanted-blobs.ts`) fetched from any peer that has
 * them (`chunk-fetch.ts`), and the chunks this node holds served to its
 * peers (`chunk-server.ts`). A pass runs when asked (main moved, a peer
 * connected, a timer), one at a time: a request during a pass runs another
 * right after it.
 */
import type { BlobStore } from "../ledger/blobs/blob-store.ts";
import { ChunkFetch } from "./chunk-fetch.ts";
import { ChunkServer } from "./chunk-server.ts";
import { CHUNK_PROTOCOL } from "./chunk-wire.ts";
import type { Limits } from "./config.ts";
import { peerFailure } from "./errors.ts";
import type { MembershipGate } from "./gater.ts";
import type { ServeHooks, SyncNetwork } from "./network.ts";
import type { PeerTable } from "./peers.ts";
import type { Replica } from "./replica.ts";
import { WantedBlobs } from "./wanted-blobs.ts";

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

export class ChunkSync {
  readonly #init: ChunkSyncInit;
  readonly #net: SyncNetwork;
  readonly #controller = new AbortController();
  readonly #wanted: WantedBlobs;
  readonly #fetch: ChunkFetch;
  readonly #server: ChunkServer;
  #running: Promise<void> | undefined;
  #again = false;
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
    const { replica, blobs, gate, peers, limits, replicate, hooks, log } = init;
    const counts = this.#progress;
    this.#wanted = new WantedBlobs({ replica, blobs, replicate, log, counts });
    this.#fetch = new ChunkFetch({ blobs, gate, peers, limits, log, counts }, net);
    this.#server = new ChunkServer(
      { blobs, gate, peers, limits, ...(hooks ? { hooks } : {}), served: counts },
      this.#controller.signal,
    );
  }

  progress(): ChunkProgress {
    const progress = { ...this.#progress, running: this.#running !== undefined };
    progress.missingChunks = this.#fetch.missingNow() ?? progress.missingChunks;
    return progress;
  }

  async start(): Promise<void> {
    await this.#net.handle(CHUNK_PROTOCOL, (stream, peer) => this.#server.serve(stream, peer), {
      maxInboundStreams: this.#init.limits.maxInboundStreams,
      maxOutboundStreams: Math.max(this.#init.limits.chunkRequestsPerPeer, 4) * 2,
    });
  }

  async stop(): Promise<void> {
    this.#controller.abort(new Error("node stopping"));
    await this.#net.unhandle(CHUNK_PROTOCOL).catch(() => {});
    await this.#running?.catch(() => {});
    this.#fetch.close();
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
          if (!this.#controller.signal.aborted) this.#init.log(`chunks    ${peerFailure(error)}`);
        }
      } while (this.#again && !this.#controller.signal.aborted);
    })().finally(() => {
      this.#running = undefined;
    });
  }

  /** One pass: work out what is missing, fetch it from connected peers until done or stuck. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      const wanted = await this.#wanted.chunks(signal);
      this.#progress.checkedChunks = wanted.length;
      const missing = await this.#fetch.run(wanted, signal);
      this.#wanted.markComplete(missing);
    } finally {
      // A pass is done once the manifests it found are durable too.
      await this.#wanted.settle();
    }
  }
}
