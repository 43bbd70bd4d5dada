/**
 * A put's new chunks, appended to packs as the blob is cut and published
 * together once all of it is stored: one file per `packBytes` of new chunks
 * instead of one per chunk. Creating a file costs the kernel far more than
 * writing its bytes (a 512 MiB put of 14,000 chunk files ran at a fifth of
 * the rate of the same bytes written to one file), and a chunk served from a
 * pack is a read from an open file, not an open, a read and a close.
 *
 * The same guarantee as any store write: no pack is in the pack folder
 * before all of its bytes are on disk. Packs are written as temp files,
 * made durable (one filesystem flush where the system has one, else an
 * fsync each), then renamed into place (`publish`). `discard` removes what a
 * failed put wrote; a crash leaves temp files, which the store removes when
 * it opens.
 */
import { join } from "node:path";
import { syncDir, tempName, writeError, writeRest } from "./atomic-write.ts";
import type { ChunkPacks } from "./chunk-pack.ts";
import {
  adjacentJoined,
  encodeChunkPackIndex,
  PACK_MAGIC,
  type PackEntry,
} from "./chunk-pack-format.ts";
import { canSyncFilesystem, syncFilesystem } from "./filesystem-sync.ts";
import { nodeStoreFs, type StoreFs } from "./store-fs.ts";

type Handle = Awaited<ReturnType<StoreFs["open"]>>;

interface Sealed {
  tmp: string;
  name: string;
  entries: PackEntry[];
}

export class PackStaging {
  readonly #packs: ChunkPacks;
  readonly #fs: StoreFs;
  readonly #tmpDir: string;
  readonly #packBytes: number;
  /** One flush of the filesystem at `publish` rather than an fsync per pack. */
  readonly #flushOnce: boolean;
  /** The pack chunks are appended to now. */
  #open: PackWriter | undefined;
  /** Every pack started, the open one included. */
  readonly #all: PackWriter[] = [];
  readonly #sealed: Promise<Sealed>[] = [];

  constructor({
    packs,
    fs,
    tmpDir,
    packBytes,
  }: {
    packs: ChunkPacks;
    fs: StoreFs;
    tmpDir: string;
    packBytes: number;
  }) {
    this.#packs = packs;
    this.#fs = fs;
    this.#tmpDir = tmpDir;
    this.#packBytes = packBytes;
    this.#flushOnce = fs === nodeStoreFs && canSyncFilesystem();
  }

  /**
   * Appends chunks (already hashed, not yet stored) to the open pack; a pack
   * that reaches `packBytes` is sealed and the next chunks start another.
   * Calls may overlap: each one's place in the pack is taken when it is made.
   */
  add(chunks: { id: string; bytes: Uint8Array }[]): Promise<void> {
    if (chunks.length === 0) return Promise.resolve();
    if (!this.#open) {
      this.#open = new PackWriter(this.#fs, this.#tmpDir);
      this.#all.push(this.#open);
    }
    const writer = this.#open;
    const written = writer.append(chunks);
    if (writer.size >= this.#packBytes) this.#seal();
    return written;
  }

  /** Makes every staged pack durable, moves it into the pack folder and indexes it. */
  async publish(): Promise<void> {
    if (this.#open) this.#seal();
    const sealed = await Promise.all(this.#sealed);
    if (sealed.length === 0) return;
    if (this.#flushOnce) await syncFilesystem(this.#tmpDir);
    for (const pack of sealed) await this.#packs.adopt(pack);
    await syncDir(this.#fs, this.#packs.dir);
    this.#all.length = 0;
    this.#sealed.length = 0;
  }

  /** Removes every pack staged and not published (once their writes have settled). */
  async discard(): Promise<void> {
    this.#open = undefined;
    await Promise.allSettled(this.#sealed);
    await Promise.all(this.#all.map((writer) => writer.abandon()));
    this.#all.length = 0;
    this.#sealed.length = 0;
  }

  #seal(): void {
    const writer = this.#open!;
    this.#open = undefined;
    const sealed = writer.seal({ sync: !this.#flushOnce });
    // A failure is reported by `publish` (or dropped by `discard`), not as unhandled.
    sealed.catch(() => {});
    this.#sealed.push(sealed);
  }
}

/**
 * One pack being written to a temp file: chunks are appended in the order
 * `append` is called, then `seal` writes the index and trailer.
 */
class PackWriter {
  readonly tmp: string;
  readonly entries: PackEntry[] = [];
  /** Bytes the pack holds once every append is written. */
  size = PACK_MAGIC.length;
  readonly #fs: StoreFs;
  #handle: Handle | undefined;
  /** The writes so far, in order: each append waits for the one before. */
  #chain: Promise<void>;

  constructor(fs: StoreFs, tmpDir: string) {
    this.#fs = fs;
    const tmp = join(tmpDir, tempName());
    this.tmp = tmp;
    this.#chain = (async () => {
      try {
        this.#handle = await fs.open(tmp, "wx", 0o444);
        await writeRest(this.#handle, PACK_MAGIC, 0);
      } catch (error) {
        throw writeError(tmp, undefined, error, "a chunk pack");
      }
    })();
  }

  append(chunks: { id: string; bytes: Uint8Array }[]): Promise<void> {
    for (const { id, bytes } of chunks) {
      this.entries.push({ id, offset: this.size, length: bytes.length });
      this.size += bytes.length;
    }
    // Chunks cut from one block lie end to end: usually one write per call.
    const parts = adjacentJoined(chunks.map((c) => c.bytes));
    const first = chunks[0]!.id;
    this.#chain = this.#chain.then(async () => {
      try {
        for (const part of parts) await writeRest(this.#handle!, part, 0);
      } catch (error) {
        throw writeError(this.tmp, first, error);
      }
    });
    return this.#chain;
  }

  /** Writes the index and trailer after the appends, fsyncs if `sync`, and closes. */
  async seal({ sync }: { sync: boolean }): Promise<Sealed> {
    await this.#chain;
    const handle = this.#handle!;
    const { name, index, trailer } = encodeChunkPackIndex(this.entries, this.size);
    try {
      await writeRest(handle, index, 0);
      await writeRest(handle, trailer, 0);
      if (sync) await handle.sync();
      this.#handle = undefined;
      await handle.close();
    } catch (error) {
      throw writeError(this.tmp, undefined, error, `a pack of ${this.entries.length} chunks`);
    }
    return { tmp: this.tmp, name, entries: this.entries };
  }

  /** Closes and removes the temp file, once the writes in flight have settled. */
  async abandon(): Promise<void> {
    await this.#chain.catch(() => {});
    await this.#handle?.close().catch(() => {});
    this.#handle = undefined;
    await this.#fs.unlink(this.tmp).catch(() => {});
  }
}
