/**
 * Received chunks gathered for one store call: each chunk's bytes are copied
 * once, from the buffers they arrived in, into one contiguous buffer
 * (`ChunkAnswers`). The chunks are then hashed and written from it, and the
 * pack they go to is one contiguous write instead of a gather of thousands
 * of small views; a chunk split across two received buffers needs no join of
 * its own.
 */
export class ChunkGroup<T> {
  /** The buffer the chunks are copied into (give it back to its pool once they are stored). */
  readonly buffer: Uint8Array;
  #used = 0;
  readonly items: { item: T; bytes: Uint8Array }[] = [];

  constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }

  get bytes(): number {
    return this.#used;
  }

  /** Whether `length` more bytes fit. */
  fits(length: number): boolean {
    return this.#used + length <= this.buffer.length;
  }

  /** Places `item`'s `length` bytes next: returns where to copy them (it must fit). */
  reserve(item: T, length: number): Uint8Array {
    if (!this.fits(length)) throw new RangeError(`${length} bytes do not fit the group`);
    const bytes = this.buffer.subarray(this.#used, this.#used + length);
    this.#used += length;
    this.items.push({ item, bytes });
    return bytes;
  }

  /** Takes back the item placed last (its bytes did not all arrive). */
  dropLast(): void {
    const last = this.items.pop();
    if (last) this.#used -= last.bytes.length;
  }
}

/**
 * Group buffers for reuse: a fresh multi-megabyte buffer costs the kernel a
 * page fault per 4 KiB on first touch (measured: about 0.1 s of CPU per
 * 256 MiB received), a reused one nothing.
 */
export class BufferPool {
  readonly #size: number;
  readonly #keep: number;
  readonly #free: Uint8Array[] = [];

  /** Buffers of `size` bytes; at most `keep` are held while unused. */
  constructor({ size, keep }: { size: number; keep: number }) {
    this.#size = size;
    this.#keep = keep;
  }

  /**
   * A buffer of at least `size` bytes: a pooled one if `size` fits the
   * pool's. A plain ArrayBuffer, not a shared one: V8 copies into shared
   * memory with word-sized relaxed atomic stores (measured: 2.6 times as slow
   * as into plain memory), and the chunks are copied in as they arrive. The
   * buffer moves to a hashing thread to be stored, and comes back
   * (`BlobStore.writeReceivedChunks`).
   */
  take(size: number): Uint8Array {
    if (size > this.#size) return newBuffer(size);
    return this.#free.pop() ?? newBuffer(this.#size);
  }

  /** Takes `buffer` back for reuse (one of another size, or detached, is let go). */
  give(buffer: Uint8Array): void {
    if (buffer.length === this.#size && this.#free.length < this.#keep) this.#free.push(buffer);
  }

  /**
   * Lets go of the unused buffers (a node that is done fetching keeps no
   * memory for it). They are detached, so their memory goes back at once:
   * dropped, it would wait for a collection, which an idle node seldom runs
   * (30 s after a 256 MiB fetch, held 10 s: 177 MiB resident in one of two
   * runs when only dropped, 121-124 MiB in three detached).
   */
  clear(): void {
    for (const { buffer } of this.#free.splice(0)) {
      if (buffer instanceof ArrayBuffer) buffer.transfer(0);
    }
  }
}

/**
 * A buffer of its own (not a slice of Node's pool, which cannot move to
 * another thread), not zero-filled: only bytes copied in are ever read.
 */
function newBuffer(size: number): Uint8Array {
  return Buffer.allocUnsafeSlow(size);
}
