/**
 * Two hashing threads so `put` can chunk on the main thread while the
 * SHA-256 work runs beside it:
 *
 *     main:      read → copy into shared block → FastCDC cuts → writes
 *     worker 0:  whole-blob SHA-256 (sequential, one stream per put)
 *     worker 1:  chunk ids (SHA-256 of each chunk of a block)
 *
 * Blocks are SharedArrayBuffers, so no bytes are copied between threads. The
 * workers are started on first use, unref'd whenever nothing is pending so an
 * idle pool never keeps a process alive, and stopped once unused for a while:
 * two idle hashing threads held 30 MB of a node's memory (each is a V8
 * isolate of its own), and a node puts blobs rarely.
 */
import { isMarkedAsUntransferable, Worker } from "node:worker_threads";
import { IdleRelease } from "../idle-release.ts";
import type { PackEntry } from "./chunk-pack-format.ts";
import type { HashReply, HashRequest } from "./hash-worker.ts";
import { LAYOUT_FIELDS } from "./received-layout.ts";

/** The threads stop after this long without a request (and no blob hash open). */
const IDLE_MS = 10_000;

interface Pending {
  resolve: (reply: HashReply) => void;
  reject: (error: Error) => void;
}

class HashThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private failed: Error | undefined;

  constructor() {
    this.worker = new Worker(new URL("./hash-worker.ts", import.meta.url));
    this.worker.unref();
    this.worker.on("message", (reply: HashReply) => {
      const p = this.pending.get(reply.seq);
      if (!p) return;
      this.pending.delete(reply.seq);
      if (this.pending.size === 0) this.worker.unref();
      if ("error" in reply) {
        p.reject(Object.assign(new Error(`hash worker: ${reply.error}`), { code: reply.code }));
      } else p.resolve(reply);
    });
    const fail = (error: Error) => {
      this.failed = error;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`hash worker exited (${code})`)));
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  post(message: HashRequest): void {
    if (this.failed) throw this.failed;
    this.worker.postMessage(message);
  }

  /** Sends `message`, moving the buffers in `transfer` to the thread (they are detached here). */
  request(
    message: HashRequest & { seq: number },
    transfer: ArrayBuffer[] = [],
  ): Promise<HashReply> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(message.seq, { resolve, reject });
      this.worker.postMessage(message, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}

/** A running whole-blob SHA-256 on the blob thread. */
export interface BlobHasher {
  /** Resolves once the bytes are hashed (the view may then be reused). */
  update(view: Uint8Array): Promise<void>;
  digest(): Promise<string>;
  discard(): void;
}

export class HashPool {
  private threads: [HashThread, HashThread] | undefined;
  private seq = 0;
  private streams = 0;
  /** Blob hashes begun and neither digested nor discarded: their state lives in a thread. */
  private openStreams = 0;
  private readonly idle: IdleRelease;

  private readonly count: number;

  /** `threads`: 2 puts the whole-blob hash and the chunk ids on separate threads, 1 shares one. */
  constructor({ threads = 2, idleMs = IDLE_MS }: { threads?: 1 | 2; idleMs?: number } = {}) {
    this.count = threads;
    this.idle = new IdleRelease(idleMs, () => {
      const busy = this.openStreams > 0 || this.threads?.some((t) => t.busy);
      if (busy) this.idle.touch();
      else void this.close();
    });
  }

  /** Whether the hashing threads are running (they start on first use). */
  get running(): boolean {
    return this.threads !== undefined;
  }

  private get started(): [HashThread, HashThread] {
    this.idle.touch();
    if (!this.threads) {
      const first = new HashThread();
      this.threads = [first, this.count === 2 ? new HashThread() : first];
    }
    return this.threads;
  }

  /**
   * SHA-256 ids of consecutive chunks in `data` (which must view a
   * SharedArrayBuffer), and, given the store's chunks folder, which of them
   * are already there.
   */
  async chunkIds(
    data: Uint8Array,
    lengths: number[],
    chunksDir?: string,
  ): Promise<{ ids: string[]; present?: boolean[] }> {
    const reply = await this.started[1].request({
      op: "chunks",
      seq: ++this.seq,
      buffer: sharedBuffer(data),
      byteOffset: data.byteOffset,
      lengths,
      ...(chunksDir ? { chunksDir } : {}),
    });
    return reply as { ids: string[]; present?: boolean[] };
  }

  /**
   * Checks received chunks against their ids and writes those to be written
   * that match as one durable pack in `packDir` (through `tmpPath`), on the
   * chunk-id thread. Chunks on SharedArrayBuffers are read there in place
   * (they must not change until it resolves); plain ArrayBuffers are moved
   * there, not copied, and back: detached here from the call on, they come
   * back in `returned` (each given buffer → the one to use after).
   */
  async receivedPack({
    chunks,
    tmpPath,
    packDir,
  }: {
    chunks: { id: string; bytes: Uint8Array; write: boolean }[];
    tmpPath: string;
    packDir: string;
  }): Promise<{
    mismatched: { index: number; actual: string }[];
    pack?: { name: string; entries: PackEntry[] };
    returned: Map<ArrayBufferLike, ArrayBufferLike>;
  }> {
    const buffers: ArrayBufferLike[] = [];
    const layout = new Uint32Array(chunks.length * LAYOUT_FIELDS);
    const ids = Buffer.allocUnsafe(chunks.length * 32);
    chunks.forEach(({ id, bytes, write }, k) => {
      let buffer = buffers.indexOf(bytes.buffer);
      if (buffer < 0) buffer = buffers.push(bytes.buffer) - 1;
      layout.set([buffer, bytes.byteOffset, bytes.length, write ? 1 : 0], k * LAYOUT_FIELDS);
      ids.write(id, k * 32, "hex");
    });
    // Node's own buffer pool (small `Buffer`s share it) cannot move: it is cloned instead.
    const moved = buffers.filter(
      (b): b is ArrayBuffer => !(b instanceof SharedArrayBuffer) && !isMarkedAsUntransferable(b),
    );
    const reply = (await this.started[1].request(
      {
        op: "pack",
        seq: ++this.seq,
        buffers: buffers as (SharedArrayBuffer | ArrayBuffer)[],
        layout,
        ids,
        tmpPath,
        packDir,
      },
      moved,
    )) as Extract<HashReply, { mismatched: unknown }>;
    const returned = new Map<ArrayBufferLike, ArrayBufferLike>();
    buffers.forEach((given, k) => {
      returned.set(given, reply.buffers[k]!);
    });
    const written = reply.pack;
    const pack = written && {
      name: written.name,
      entries: Array.from(written.chunks, (k, j) => ({
        id: chunks[k]!.id,
        offset: written.offsets[j]!,
        length: layout[k * LAYOUT_FIELDS + 2]!,
      })),
    };
    return { mismatched: reply.mismatched, ...(pack ? { pack } : {}), returned };
  }

  /** Starts the threads now (they would start on first use), so work about to come does not wait for them. */
  warm(): void {
    void this.started;
  }

  blobHasher(): BlobHasher {
    const thread = this.started[0];
    const stream = ++this.streams;
    this.openStreams++;
    let open = true;
    const closed = () => {
      if (open) this.openStreams--;
      open = false;
    };
    return {
      update: async (view) => {
        await thread.request({
          op: "update",
          seq: ++this.seq,
          stream,
          buffer: sharedBuffer(view),
          byteOffset: view.byteOffset,
          length: view.length,
        });
      },
      digest: async () => {
        try {
          const reply = await thread.request({ op: "digest", seq: ++this.seq, stream });
          return (reply as { hex: string }).hex;
        } finally {
          closed();
        }
      },
      discard: () => {
        closed();
        thread.post({ op: "discard", stream });
      },
    };
  }

  async close(): Promise<void> {
    this.idle.cancel();
    const threads = this.threads;
    this.threads = undefined;
    if (threads) await Promise.all([...new Set(threads)].map((t) => t.terminate()));
  }
}

function sharedBuffer(view: Uint8Array): SharedArrayBuffer {
  if (!(view.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError("hash pool: data must be a view on a SharedArrayBuffer");
  }
  return view.buffer;
}
