/**
 * Content-addressed chunks. One chunk at a time goes to its own file:
 * `<root>/chunks/ab/cdef…` holds the bytes whose SHA-256 is `abcdef…`
 * (256-way fan-out by the first two hex digits keeps directories small).
 * Many chunks at once (a put's new chunks, a batch received from a peer) go
 * to packs in `<root>/packs/` (`chunk-pack.ts`). Both are written once,
 * atomically, read-only (0444), and every read re-hashes: bytes that do not
 * match their id are never returned.
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { syncDir, writeFileAtomic, writeFilesAtomic } from "./atomic-write.ts";
import { ChunkPacks, type Place } from "./chunk-pack.ts";
import { ChunkCorruptError, ChunkMissingError } from "./errors.ts";
import type { HashPool } from "./hash-pool.ts";
import { assertHexId } from "./hex-id.ts";
import { limitConcurrency } from "./limit-concurrency.ts";
import { PackStaging } from "./pack-staging.ts";
import { ReceivedPacks } from "./received-packs.ts";
import { errnoCode, nodeStoreFs, type StoreFs } from "./store-fs.ts";

/** No chunker the store accepts cuts chunks larger than this (the 2020 reference's bound). */
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;

/** From this many chunks a batch is written as one pack rather than a file each. */
export const PACK_FROM = 8;
/** A batch is cut into packs of at most about this many bytes. */
const PACK_BYTES = 64 * 1024 * 1024;

/** `missing` looks up about this many chunk files between yields to the event loop. */
const MISSING_SLICE = 1024;
/** `missing` lists a fan-out folder asked for at least this many chunks, rather than a stat each. */
const LIST_FOLDER_FROM = 16;
/**
 * A fan-out folder whose size is at most this is listed rather than looked
 * into a stat per chunk: one block of entries on ext4 (a few dozen chunk
 * files), and at most a few hundred on tmpfs or btrfs.
 */
const SMALL_FOLDER_BYTES = 4096;
/** A folder modified this recently is not remembered as empty (see `missing`). */
const RACY_MS = 2000;

const FANOUT = /^[0-9a-f]{2}$/;
const REST = /^[0-9a-f]{62}$/;

interface Stored {
  bytes: Uint8Array;
  path: string;
}

export interface ChunkFile {
  id: string;
  size: number;
  mtimeMs: number;
}

function mismatchError(id: string, size: number, actual: string): ChunkCorruptError {
  return new ChunkCorruptError(`refusing chunk ${id}: its ${size} bytes hash to ${actual}`, {
    chunk: id,
    actual,
    size,
  });
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export class ChunkStore {
  readonly dir: string;
  readonly packs: ChunkPacks;
  private readonly fs: StoreFs;
  private readonly tmpDir: string;
  /** Writes received chunks as packs on a hashing thread (made on first use). */
  #received: ReceivedPacks | undefined;
  /** Fan-out folders found empty, with their mtime (ns) then (see `missing`). */
  readonly #emptyFolders = new Map<string, bigint>();

  constructor({
    fs,
    dir,
    packDir,
    tmpDir,
  }: {
    fs: StoreFs;
    dir: string;
    packDir: string;
    tmpDir: string;
  }) {
    this.fs = fs;
    this.dir = dir;
    this.tmpDir = tmpDir;
    this.packs = new ChunkPacks({ fs, dir: packDir, tmpDir });
  }

  /** Creates the 256 fan-out directories once, so writes never race on mkdir. */
  async init(): Promise<void> {
    await this.fs.mkdir(this.dir, { recursive: true });
    const present = new Set(await this.fs.readdir(this.dir));
    for (let i = 0; i < 256; i++) {
      const name = i.toString(16).padStart(2, "0");
      if (!present.has(name)) await this.fs.mkdir(join(this.dir, name), { recursive: true });
    }
    await this.fs.mkdir(this.packs.dir, { recursive: true });
    await this.packs.refresh();
  }

  fanoutDir(id: string): string {
    return join(this.dir, id.slice(0, 2));
  }

  path(id: string): string {
    assertHexId(id, "chunk");
    return join(this.dir, id.slice(0, 2), id.slice(2));
  }

  async has(id: string): Promise<boolean> {
    if (this.packs.locate(id)) return true;
    try {
      await this.fs.stat(this.path(id));
      return true;
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return false;
      throw error;
    }
  }

  /**
   * Which of `ids` the store lacks, in order. Packed chunks are found in
   * memory. On the real filesystem the rest are looked up by fan-out folder,
   * synchronously (a thread-pool round trip per chunk costs more than the
   * lookup), yielding to the event loop between folders:
   * - a folder found empty is not looked into again while its mtime stays
   *   the same: a node that only fetches (its chunks all in packs) answers
   *   with a stat per folder, where a stat per chunk cost a blob's 7,000
   *   chunks 30 ms of the main thread;
   * - a folder asked for many chunks, or small enough to list at once, is
   *   listed once;
   * - a large folder asked for a few gets a stat per chunk (listing a folder
   *   of an old store with thousands of files would cost more).
   */
  async missing(ids: string[], signal?: AbortSignal): Promise<string[]> {
    await this.packs.refresh();
    if (this.fs === nodeStoreFs) {
      // By fan-out folder, named by the id's first two hex digits.
      const byFolder = new Map<string, string[]>();
      for (const id of ids) {
        if (this.packs.locate(id)) continue;
        assertHexId(id, "chunk"); // before it names a folder
        const fanout = id.slice(0, 2);
        const group = byFolder.get(fanout);
        if (group) group.push(id);
        else byFolder.set(fanout, [id]);
      }
      const absent = new Set<string>();
      let looked = 0;
      for (const [fanout, group] of byFolder) {
        const dir = join(this.dir, fanout);
        const folder = statSync(dir, { bigint: true, throwIfNoEntry: false });
        if (!folder || this.#emptyFolders.get(fanout) === folder.mtimeNs) {
          for (const id of group) absent.add(id);
          continue;
        }
        signal?.throwIfAborted();
        if (looked >= MISSING_SLICE) {
          looked = 0;
          await new Promise(setImmediate);
        }
        looked += group.length;
        if (group.length >= LIST_FOLDER_FROM || folder.size <= SMALL_FOLDER_BYTES) {
          const files = listFolder(dir);
          for (const id of group) if (!files.has(id.slice(2))) absent.add(id);
          // A folder changed within the mtime's granularity of this listing
          // could change again without its mtime moving ("racy git"): not kept.
          if (files.size === 0 && Date.now() - Number(folder.mtimeNs / 1_000_000n) > RACY_MS) {
            this.#emptyFolders.set(fanout, folder.mtimeNs);
          } else {
            this.#emptyFolders.delete(fanout);
          }
        } else {
          for (const id of group) {
            if (!statSync(join(dir, id.slice(2)), { throwIfNoEntry: false })) absent.add(id);
          }
        }
      }
      return ids.filter((id) => absent.has(id));
    }
    const limit = limitConcurrency(32);
    const present = await Promise.all(
      ids.map((id) =>
        limit(async () => {
          signal?.throwIfAborted();
          return this.has(id);
        }),
      ),
    );
    return ids.filter((_, k) => !present[k]);
  }

  /**
   * Marks an existing chunk as just used (mtime = now) and says whether it
   * exists: one syscall that both answers "do I need to write it" and renews
   * the gc grace period for a chunk a put is about to reference.
   */
  async touch(id: string, now = new Date()): Promise<boolean> {
    if (await this.packs.touch(id, now)) return true;
    try {
      await this.fs.utimes(this.path(id), now, now);
      return true;
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return false;
      throw error;
    }
  }

  /**
   * Which of `ids` (distinct) are stored, renewing their gc grace as `touch`
   * does. A batch that `writeTrustedBatch` will pack is only looked up in the
   * packs (memory, no syscall per chunk): one that is also kept as a file is
   * then stored twice, which `list` and `remove` treat as one chunk.
   */
  async present(ids: string[], now = new Date()): Promise<Set<string>> {
    const found = new Set<string>();
    if (ids.length >= PACK_FROM) {
      for (const id of ids) {
        // A chunk about to be received is in no pack: no promise for it.
        if (this.packs.locate(id) && (await this.packs.touch(id, now))) found.add(id);
      }
      return found;
    }
    await Promise.all(
      ids.map(async (id) => {
        if (await this.touch(id, now)) found.add(id);
      }),
    );
    return found;
  }

  /**
   * Reads a chunk and refuses it unless its bytes hash to `id`. Given
   * `place`, the bytes are read into the view `place(length)` returns (a
   * buffer about to be sent, say) rather than into a new buffer. `verify:
   * false` skips the hash, for bytes whose reader hashes them anyway (a peer
   * the chunk is served to).
   */
  async read(
    id: string,
    { blob, place, verify = true }: { blob?: string; place?: Place; verify?: boolean } = {},
  ): Promise<Uint8Array> {
    const { bytes, path } = await this.#readStored(id, blob, place);
    return verify ? verifiedChunk(id, bytes, path, blob) : bytes;
  }

  /**
   * A packed chunk's bytes as stored (not hashed), read without a promise;
   * undefined where `read` has to look further (not packed, not the real
   * filesystem, its pack replaced meanwhile).
   */
  readPackedSync(id: string, place?: Place): Uint8Array | undefined {
    const entry = this.packs.locate(id);
    if (!entry) return undefined;
    if (entry.length > MAX_CHUNK_SIZE)
      throw oversizedChunk(id, entry.length, this.packs.dir, undefined);
    return this.packs.readSync(id, place);
  }

  /** A chunk's bytes as stored (not hashed), and the file they came from. */
  async #readStored(
    id: string,
    blob: string | undefined,
    place: Place | undefined,
  ): Promise<Stored> {
    const packed = await this.#readPacked(id, blob, place);
    if (packed) return packed;
    try {
      return await this.#readFile(id, this.path(id), blob, place);
    } catch (error) {
      if (!(error instanceof ChunkMissingError)) throw error;
      // Another process may have packed it since this one looked.
      await this.packs.refresh();
      const late = await this.#readPacked(id, blob, place);
      if (late) return late;
      throw error;
    }
  }

  async #readPacked(
    id: string,
    blob: string | undefined,
    place: Place | undefined,
  ): Promise<Stored | undefined> {
    const entry = this.packs.locate(id);
    if (!entry) return undefined;
    if (entry.length > MAX_CHUNK_SIZE) {
      throw oversizedChunk(id, entry.length, this.packs.dir, blob);
    }
    return this.packs.read(id, place);
  }

  async #readFile(
    id: string,
    path: string,
    blob: string | undefined,
    place: Place | undefined,
  ): Promise<Stored> {
    if (this.fs === nodeStoreFs) return this.#readDirect(id, path, blob, place);
    let handle: Awaited<ReturnType<StoreFs["open"]>>;
    try {
      handle = await this.fs.open(path, "r");
    } catch (error) {
      if (errnoCode(error) === "ENOENT") {
        throw missingChunk(id, blob);
      }
      throw error;
    }
    let bytes: Uint8Array;
    try {
      const { size } = await handle.stat();
      if (size > MAX_CHUNK_SIZE) {
        throw oversizedChunk(id, size, path, blob);
      }
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
    if (place) {
      const view = place(bytes.length);
      view.set(bytes);
      bytes = view;
    }
    return { bytes, path };
  }

  /**
   * `read` on the real filesystem: one synchronous open/fstat/read/close. A
   * chunk is small (32 KiB on average) and served thousands at a time; four
   * thread-pool round trips per chunk cost more than the reads themselves.
   */
  #readDirect(
    id: string,
    path: string,
    blob: string | undefined,
    place: Place | undefined,
  ): Stored {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (error) {
      if (errnoCode(error) === "ENOENT") {
        throw missingChunk(id, blob);
      }
      throw error;
    }
    let bytes: Uint8Array;
    try {
      const { size } = fstatSync(fd);
      if (size > MAX_CHUNK_SIZE) {
        throw oversizedChunk(id, size, path, blob);
      }
      bytes = place ? place(size) : Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const n = readSync(fd, bytes, off, size - off, off);
        if (n === 0) break;
        off += n;
      }
      // A file that shrank since fstat: what is there is refused by the hash check.
      if (off < size) bytes = bytes.subarray(0, off);
    } finally {
      closeSync(fd);
    }
    return { bytes, path };
  }

  /** Writes bytes already known to hash to `id` (the caller hashed them). */
  async writeTrusted(id: string, bytes: Uint8Array): Promise<void> {
    await writeFileAtomic({
      fs: this.fs,
      tmpDir: this.tmpDir,
      path: this.path(id),
      data: bytes,
      chunk: id,
    });
  }

  /** New chunks of a put, staged in packs and published together (see `PackStaging`). */
  packStaging(): PackStaging {
    return new PackStaging({
      packs: this.packs,
      fs: this.fs,
      tmpDir: this.tmpDir,
      packBytes: PACK_BYTES,
    });
  }

  /**
   * Hashes `bytes`, refuses them unless they match `id`, and writes them
   * atomically if the chunk is not already stored. Returns true if it wrote.
   */
  async writeVerified(id: string, bytes: Uint8Array): Promise<boolean> {
    this.verify(id, bytes);
    if (await this.touch(id)) return false;
    await this.writeTrusted(id, bytes);
    return true;
  }

  /**
   * Throws `ChunkCorruptError` unless `bytes` hash to `id` (and are no longer
   * than any chunk can be).
   */
  verify(id: string, bytes: Uint8Array): void {
    this.verifyShape(id, bytes);
    const actual = sha256Hex(bytes);
    if (actual !== id) throw mismatchError(id, bytes.length, actual);
  }

  /** What `verify` checks before hashing: a chunk id, and a size a chunk can have. */
  verifyShape(id: string, bytes: Uint8Array): void {
    assertHexId(id, "chunk");
    if (bytes.length > MAX_CHUNK_SIZE) {
      throw new ChunkCorruptError(
        `chunk ${id} is ${bytes.length} bytes, more than any chunk can be`,
        {
          chunk: id,
          actual: "",
          size: bytes.length,
        },
      );
    }
  }

  /** Whether `writeReceivedPack` can be used (packs written by a thread need the real filesystem). */
  get writesPacksOnThreads(): boolean {
    return this.fs === nodeStoreFs;
  }

  /**
   * Checks received chunks (shapes already checked) against their ids on a
   * hashing thread, which writes those marked `write` that match in a
   * durable pack (shared with batches that arrive while one is being
   * written; see `ReceivedPacks`), then indexed. Returns the chunks, by
   * index, whose bytes did not match (a `ChunkCorruptError` each), and the
   * buffers to use after: chunks on plain ArrayBuffers are moved to the
   * thread and back (detached from the call on); shared ones must not change
   * until it resolves.
   */
  async writeReceivedPack(
    pool: HashPool,
    chunks: { id: string; bytes: Uint8Array; write: boolean }[],
  ): Promise<{
    mismatched: Map<number, ChunkCorruptError>;
    returned: Map<ArrayBufferLike, ArrayBufferLike>;
  }> {
    this.#received ??= new ReceivedPacks({
      pool,
      packs: this.packs,
      tmpDir: this.tmpDir,
      maxPackBytes: PACK_BYTES,
    });
    // Read before the bytes move away.
    const lengths = chunks.map((c) => c.bytes.length);
    const { mismatched, returned } = await this.#received.write(chunks);
    return {
      mismatched: new Map(
        [...mismatched].map(([index, actual]) => [
          index,
          mismatchError(chunks[index]!.id, lengths[index]!, actual),
        ]),
      ),
      returned,
    };
  }

  /**
   * Writes chunks already verified (`verify`) and not yet stored, durably:
   * from `PACK_FROM` chunks as packs, fewer as files (temp files, one batch
   * sync, renames, an fsync per touched folder; see `writeFilesAtomic`).
   */
  async writeTrustedBatch(chunks: { id: string; bytes: Uint8Array }[]): Promise<void> {
    if (chunks.length >= PACK_FROM) {
      let start = 0;
      let bytes = 0;
      for (let k = 0; k < chunks.length; k++) {
        bytes += chunks[k]!.bytes.length;
        if (bytes >= PACK_BYTES || k === chunks.length - 1) {
          await this.packs.write(chunks.slice(start, k + 1));
          start = k + 1;
          bytes = 0;
        }
      }
      return;
    }
    await writeFilesAtomic({
      fs: this.fs,
      tmpDir: this.tmpDir,
      files: chunks.map((c) => ({ path: this.path(c.id), data: c.bytes, chunk: c.id })),
    });
    const dirs = new Set(chunks.map((c) => this.fanoutDir(c.id)));
    await Promise.all([...dirs].map((dir) => syncDir(this.fs, dir)));
  }

  /** Removes a chunk file now; a packed chunk is marked, and gone at `compactPacks`. */
  async remove(id: string): Promise<void> {
    this.packs.remove(id);
    try {
      await this.fs.unlink(this.path(id));
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
    }
  }

  /** Rewrites the packs that hold removed chunks (see `ChunkPacks.compact`). */
  async compactPacks(): Promise<void> {
    await this.packs.compact(
      (id, bytes) => bytes.length <= MAX_CHUNK_SIZE && sha256Hex(bytes) === id,
    );
  }

  /**
   * Every stored chunk, with its size and mtime (a packed chunk's is its
   * pack's), each id once: a chunk stored twice (a file and a pack entry)
   * gets the newer mtime, so gc keeps or removes both copies together. Names
   * that are not chunk ids (stray files) are reported through `stray` and
   * never touched.
   */
  async *list(stray?: (path: string) => void): AsyncGenerator<ChunkFile> {
    // What is on disk now: packs another process added, replaced or lost.
    await this.packs.refresh();
    const packed = new Map<string, ChunkFile>();
    for await (const entry of this.packs.list()) {
      const other = packed.get(entry.id);
      if (!other || other.mtimeMs < entry.mtimeMs) packed.set(entry.id, entry);
    }
    for await (const file of this.#listFiles(stray)) {
      const copy = packed.get(file.id);
      packed.delete(file.id);
      yield copy && copy.mtimeMs > file.mtimeMs ? { ...file, mtimeMs: copy.mtimeMs } : file;
    }
    yield* packed.values();
  }

  async *#listFiles(stray?: (path: string) => void): AsyncGenerator<ChunkFile> {
    for (const fan of (await this.fs.readdir(this.dir)).sort()) {
      const fanDir = join(this.dir, fan);
      if (!FANOUT.test(fan)) {
        stray?.(fanDir);
        continue;
      }
      for (const rest of (await this.fs.readdir(fanDir)).sort()) {
        const path = join(fanDir, rest);
        if (!REST.test(rest)) {
          stray?.(path);
          continue;
        }
        try {
          const st = await this.fs.stat(path);
          yield { id: fan + rest, size: st.size, mtimeMs: st.mtimeMs };
        } catch (error) {
          if (errnoCode(error) !== "ENOENT") throw error;
        }
      }
    }
  }
}

// What both read paths (through the injected fs, and the direct one) report.

function missingChunk(id: string, blob: string | undefined): ChunkMissingError {
  return new ChunkMissingError(
    `chunk ${id} is missing from the store${blob ? ` (needed by blob ${blob})` : ""}`,
    { chunk: id, ...(blob ? { blob } : {}) },
  );
}

function oversizedChunk(
  id: string,
  size: number,
  path: string,
  blob: string | undefined,
): ChunkCorruptError {
  return new ChunkCorruptError(
    `chunk ${id} is ${size} bytes, more than any chunk can be (${path})`,
    { chunk: id, actual: "", size, path, ...(blob ? { blob } : {}) },
  );
}

/** Returns `bytes` if they hash to `id`; refuses them otherwise. */
function verifiedChunk<T extends Uint8Array>(
  id: string,
  bytes: T,
  path: string,
  blob: string | undefined,
): T {
  const actual = sha256Hex(bytes);
  if (actual !== id) {
    throw new ChunkCorruptError(
      `chunk ${id} does not verify: its ${bytes.length} bytes hash to ${actual} (${path})${blob ? ` in blob ${blob}` : ""}`,
      { chunk: id, actual, size: bytes.length, path, ...(blob ? { blob } : {}) },
    );
  }
  return bytes;
}

/** The names in folder `dir`; empty if it does not exist. */
function listFolder(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch (error) {
    if (errnoCode(error) === "ENOENT") return new Set();
    throw error;
  }
}
