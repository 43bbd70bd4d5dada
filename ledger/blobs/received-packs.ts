/**
 * Chunks received from peers, checked and written as packs by a hashing
 * thread (`HashPool.receivedPack`), with group commit: while one pack is
 * being written (its fsyncs are most of its time), the batches that arrive
 * wait, then go out together as one pack. A writer that keeps up writes a
 * pack per batch; one that falls behind writes fewer, larger packs (fewer
 * fsyncs) instead of a growing queue of small ones.
 */
import { join } from "node:path";
import { tempName, writeError } from "./atomic-write.ts";
import type { ChunkPacks } from "./chunk-pack.ts";
import type { HashPool } from "./hash-pool.ts";

type Chunk = { id: string; bytes: Uint8Array; write: boolean };

/**
 * What became of a batch: its chunks (by index) whose bytes hash to
 * something else, and what they hash to; the buffers to use after (see
 * `HashPool.receivedPack`).
 */
export interface BatchWritten {
  mismatched: Map<number, string>;
  returned: Map<ArrayBufferLike, ArrayBufferLike>;
}

interface Waiting {
  chunks: Chunk[];
  bytes: number;
  resolve: (written: BatchWritten) => void;
  reject: (error: Error) => void;
}

export class ReceivedPacks {
  readonly #pool: HashPool;
  readonly #packs: ChunkPacks;
  readonly #tmpDir: string;
  readonly #maxPackBytes: number;
  readonly #waiting: Waiting[] = [];
  #writing = false;

  constructor({
    pool,
    packs,
    tmpDir,
    maxPackBytes,
  }: {
    pool: HashPool;
    packs: ChunkPacks;
    tmpDir: string;
    /** A pack of several batches stays below this (one batch may exceed it alone). */
    maxPackBytes: number;
  }) {
    this.#pool = pool;
    this.#packs = packs;
    this.#tmpDir = tmpDir;
    this.#maxPackBytes = maxPackBytes;
  }

  /**
   * Checks `chunks` and writes those marked `write` whose bytes match their
   * ids, durably, in a pack that is then indexed. Chunks on plain
   * ArrayBuffers are moved to the hashing thread and back (detached here
   * from the call on); shared ones must not change until this resolves.
   */
  write(chunks: Chunk[]): Promise<BatchWritten> {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.bytes.length;
    const written = new Promise<BatchWritten>((resolve, reject) => {
      this.#waiting.push({ chunks, bytes, resolve, reject });
    });
    void this.#drain();
    return written;
  }

  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#waiting.length > 0) {
        let bytes = this.#waiting[0]!.bytes;
        let count = 1;
        while (
          count < this.#waiting.length &&
          bytes + this.#waiting[count]!.bytes <= this.#maxPackBytes
        ) {
          bytes += this.#waiting[count]!.bytes;
          count++;
        }
        await this.#writeTogether(this.#waiting.splice(0, count));
      }
    } finally {
      this.#writing = false;
    }
  }

  async #writeTogether(batches: Waiting[]): Promise<void> {
    const chunks = batches.flatMap((b) => b.chunks);
    try {
      const { mismatched, pack, returned } = await this.#pool.receivedPack({
        chunks,
        tmpPath: join(this.#tmpDir, tempName()),
        packDir: this.#packs.dir,
      });
      if (pack) this.#packs.installWritten(pack);
      const byBatch = batches.map(() => new Map<number, string>());
      let first = 0;
      const starts = batches.map((b) => {
        const start = first;
        first += b.chunks.length;
        return start;
      });
      for (const { index, actual } of mismatched) {
        let k = batches.length - 1;
        while (starts[k]! > index) k--;
        byBatch[k]!.set(index - starts[k]!, actual);
      }
      batches.forEach((b, k) => {
        b.resolve({ mismatched: byBatch[k]!, returned });
      });
    } catch (error) {
      const failed = writeError(
        this.#packs.dir,
        undefined,
        error,
        `a pack of ${chunks.length} received chunks`,
      );
      for (const b of batches) b.reject(failed);
    }
  }
}
