/**
 * Chunking a stream of any length in bounded memory, with cut points identical
 * to chunking the whole input as one buffer.
 *
 * The stream is copied into blocks of `blockSize + maxSize` bytes. A block is
 * cut only while at least `maxSize` bytes lie ahead of the cursor (or the input
 * has ended), which is exactly the window a cutter can look at, so where the
 * input was split never shows. The uncut tail (< maxSize) moves to the front of
 * the next block:
 *
 *     block k:   [ chunk | chunk | ... | chunk ][ tail < max ]
 *     block k+1: [ tail ... new input ...                     ]
 *
 * Each yielded batch owns its block, so a consumer may keep it or hand it to a
 * worker while the next block fills. A consumer that calls `release()` when
 * done lets the block be reused: fresh memory costs a page fault per 4 KiB,
 * which on a VM is as expensive as the chunking itself. Memory is one block
 * plus whatever the consumer holds.
 */
import type { Chunk, Cutter } from "./fastcdc.ts";

export interface ChunkBatch {
  /** The bytes of `chunks`, back to back (a view on a SharedArrayBuffer when `shared`). */
  data: Uint8Array;
  /** Offset of `data[0]` in the whole input. */
  offset: number;
  chunks: Chunk[];
  /** True for the batch that ends the input (it may have no chunks for an empty input). */
  final: boolean;
  /** Hands the block back for reuse; `data` must not be touched afterwards. */
  release(): void;
}

export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;

/**
 * A source the chunker can read straight into its blocks (a file handle), which
 * saves a copy and the garbage of one fresh buffer per read. Returns the bytes
 * read, 0 at the end.
 */
export interface ByteReader {
  read(into: Uint8Array, offset: number, length: number): Promise<number>;
}

export type ChunkSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | ByteReader;

function isByteReader(source: ChunkSource): source is ByteReader {
  return typeof (source as ByteReader).read === "function" && !(Symbol.asyncIterator in source);
}

export async function* chunkStream({
  source,
  cutter,
  blockSize = DEFAULT_BLOCK_SIZE,
  shared = false,
  signal,
}: {
  source: ChunkSource;
  cutter: Cutter;
  blockSize?: number;
  /** Back blocks with SharedArrayBuffer so worker threads can read them without a copy. */
  shared?: boolean;
  signal?: AbortSignal;
}): AsyncGenerator<ChunkBatch> {
  const capacity = Math.max(blockSize, 1) + cutter.maxSize;
  const free: Uint8Array[] = [];
  const allocate = () =>
    free.pop() ??
    new Uint8Array(shared ? new SharedArrayBuffer(capacity) : new ArrayBuffer(capacity));
  let block = allocate();
  let filled = 0;
  let base = 0;

  // Cuts as far as the window rule allows, yields the cut part, and moves the
  // tail into a fresh block.
  function cutBlock(final: boolean): ChunkBatch | undefined {
    const chunks: Chunk[] = [];
    let pos = 0;
    while (final ? pos < filled : filled - pos >= cutter.maxSize) {
      const length = cutter.cut(block, pos, filled);
      chunks.push({ offset: base + pos, length, hash: cutter.lastHash() });
      pos += length;
    }
    if (pos === 0 && !final) return undefined;
    const owned = block;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (free.length < 8) free.push(owned);
    };
    const batch = { data: block.subarray(0, pos), offset: base, chunks, final, release };
    const next = allocate();
    next.set(block.subarray(pos, filled));
    block = next;
    filled -= pos;
    base += pos;
    return batch;
  }

  if (isByteReader(source)) {
    for (;;) {
      signal?.throwIfAborted();
      const n = await source.read(block, filled, capacity - filled);
      if (n === 0) break;
      filled += n;
      if (filled === capacity) {
        const batch = cutBlock(false);
        if (batch) yield batch;
      }
    }
    yield cutBlock(true)!;
    return;
  }
  for await (const piece of source) {
    signal?.throwIfAborted();
    if (!(piece instanceof Uint8Array)) {
      throw new TypeError("chunkStream: the source must yield Uint8Array (Buffer) pieces");
    }
    let p = 0;
    while (p < piece.length) {
      const n = Math.min(piece.length - p, capacity - filled);
      block.set(piece.subarray(p, p + n), filled);
      filled += n;
      p += n;
      if (filled === capacity) {
        const batch = cutBlock(false);
        if (batch) yield batch;
      }
    }
  }
  signal?.throwIfAborted();
  yield cutBlock(true)!;
}
