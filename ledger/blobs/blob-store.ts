/**
 * The node's blob store: FastCDC chunks, content-addressed on disk, plus a
 * local copy of every manifest it wrote or received. Layout (RFC 0004):
 *
 *     <dataDir>/blobs/config                 gdo-blob-store v1 + the store's chunker line
 *     <dataDir>/blobs/packs/<32 hex>.gcp     chunk packs: a put's new chunks, a peer's batches (0444)
 *     <dataDir>/blobs/chunks/ab/cdef…        single chunks, named by SHA-256 (0444)
 *     <dataDir>/blobs/manifests/<id>         canonical manifest bytes, named by their SHA-256
 *     <dataDir>/blobs/tmp/<pid>.<rand>.tmp   writes in progress (stale ones removed on open)
 *     <dataDir>/blobs/locks/                 gc.lock, put.<pid>.<rand> (see store-lock.ts)
 *
 * The ledger (committing pointer files, scanning branches for live manifests)
 * lives above this module: `put` returns the canonical manifest bytes to
 * commit, and `gc` takes the live manifests as an argument.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { GdoError } from "../errors.ts";
import { syncDir, TEMP_NAME, writeFileAtomic } from "./atomic-write.ts";
import type { Place } from "./chunk-pack.ts";
import { ChunkStore, PACK_FROM, sha256Hex } from "./chunk-store.ts";
import { type ChunkSource, chunkStream } from "./chunk-stream.ts";
import {
  type ChunkerParams,
  DEFAULT_CHUNKER,
  formatChunkerParams,
  parseChunkerParams,
  validateChunkerParams,
} from "./chunker-params.ts";
import {
  BlobCorruptError,
  BlobNotFoundError,
  ChunkCorruptError,
  ChunkerMismatchError,
  ChunkMissingError,
  ManifestCorruptError,
} from "./errors.ts";
import { FastCdcCutter } from "./fastcdc.ts";
import { type BlobHasher, HashPool } from "./hash-pool.ts";
import { assertHexId, isHexId } from "./hex-id.ts";
import { limitConcurrency } from "./limit-concurrency.ts";
import {
  type Manifest,
  type ManifestChunk,
  manifestId,
  parseManifest,
  serializeManifest,
} from "./manifest.ts";
import { type CheckReport, checkStore } from "./store-check.ts";
import { errnoCode, nodeStoreFs, type StoreFs } from "./store-fs.ts";
import { pidAlive, StoreLock } from "./store-lock.ts";
import { type StoreStats, storeStats } from "./store-stats.ts";

export type { CheckReport, StoreStats };

const CONFIG_MAGIC = "gdo-blob-store v1";
/** Batches (blocks of ~4 MiB) being hashed or written at once during a put. */
const BATCHES_IN_FLIGHT = 4;
/** Chunk file operations (stat/utimes/write) in flight at once. */
const FILE_OPS_IN_FLIGHT = 16;
/** A temp file of a live pid older than this is a leftover of a reused pid. */
const TEMP_MAX_AGE_MS = 60 * 60_000;
/** Default gc grace: chunks and local manifests younger than this are kept. */
export const DEFAULT_GC_GRACE_MS = 60 * 60_000;

export interface PutResult {
  /** The manifest id: SHA-256 of `bytes`. */
  id: string;
  manifest: Manifest;
  /** Canonical manifest bytes: the pointer file to commit to the ledger. */
  bytes: Uint8Array;
  /** Chunks this put wrote (the rest were already stored). */
  newChunks: number;
  newBytes: number;
}

export interface BlobInfo {
  id: string;
  manifest: Manifest;
}

export interface GcReport {
  removedChunks: number;
  removedBytes: number;
  keptChunks: number;
  /** Unreferenced chunks kept because they are younger than the grace period. */
  keptByGrace: number;
  removedManifests: number;
  removedTempFiles: number;
  strayFiles: string[];
}

export interface OpenBlobStoreOptions {
  /** The node's data folder; the store lives in `<dataDir>/blobs`. */
  dataDir: string;
  /**
   * Cut rules. A new store records them (default `DEFAULT_CHUNKER`); an
   * existing store refuses others (`ChunkerMismatchError`) rather than silently
   * mixing cut rules. Omit to use whatever the store was created with.
   */
  chunker?: ChunkerParams;
  /** The filesystem (default node:fs/promises); tests inject faults here. */
  fs?: StoreFs;
  /** Milliseconds since the epoch (default Date.now). */
  clock?: () => number;
  /**
   * Hashing threads beside the chunking thread: 2 (default) hashes the whole
   * blob and the chunk ids in parallel; 1 saves ~20 MB of memory.
   */
  hashThreads?: 1 | 2;
  signal?: AbortSignal;
}

export async function openBlobStore(options: OpenBlobStoreOptions): Promise<BlobStore> {
  const fs = options.fs ?? nodeStoreFs;
  const root = join(options.dataDir, "blobs");
  for (const dir of ["manifests", "tmp", "locks"]) {
    await fs.mkdir(join(root, dir), { recursive: true });
  }
  const chunks = new ChunkStore({
    fs,
    dir: join(root, "chunks"),
    packDir: join(root, "packs"),
    tmpDir: join(root, "tmp"),
  });
  await chunks.init();
  const chunker = await loadConfig(fs, root, options.chunker);
  const store = new BlobStore({
    fs,
    root,
    chunker,
    chunks,
    clock: options.clock ?? Date.now,
    pool: new HashPool({ threads: options.hashThreads ?? 2 }),
  });
  await store.removeStaleTempFiles();
  return store;
}

async function loadConfig(
  fs: StoreFs,
  root: string,
  wanted: ChunkerParams | undefined,
): Promise<ChunkerParams> {
  const path = join(root, "config");
  let text: string | undefined;
  try {
    text = await fs.readFile(path, "latin1");
  } catch (error) {
    if (errnoCode(error) !== "ENOENT") throw error;
  }
  if (text === undefined) {
    const chunker = validateChunkerParams({ ...(wanted ?? DEFAULT_CHUNKER) });
    const data = Buffer.from(`${CONFIG_MAGIC}\nchunker ${formatChunkerParams(chunker)}\n`);
    await writeFileAtomic({ fs, tmpDir: join(root, "tmp"), path, data, mode: 0o644 });
    await syncDir(fs, root);
    return chunker;
  }
  const m = /^gdo-blob-store v1\nchunker ([^\n]*)\n$/.exec(text);
  if (!m) {
    throw new ManifestCorruptError(`${path}: not a gdo blob store config`, {
      blob: "config",
      reason: "bad config",
      path,
    });
  }
  const chunker = parseChunkerParams(m[1]!, path);
  if (wanted && formatChunkerParams(wanted) !== formatChunkerParams(chunker)) {
    throw new ChunkerMismatchError(
      `blob store ${root} chunks with '${formatChunkerParams(chunker)}', not '${formatChunkerParams(wanted)}'; a store never mixes cut rules`,
      { store: root, expected: formatChunkerParams(chunker), actual: formatChunkerParams(wanted) },
    );
  }
  return chunker;
}

/** A manifest from the ledger or a peer, and where it came from (named in errors). */
interface ReceivedManifest {
  bytes: Uint8Array;
  source: string;
  signal?: AbortSignal;
}

/** How many recent puts `putComplete` knows of, and for how long. */
const PUT_IDS_KEPT = 64;
const PUT_HINT_MS = 60_000;

export class BlobStore {
  /** `<dataDir>/blobs`. */
  readonly root: string;
  /** The cut rules every `put` uses (recorded in the store's config). */
  readonly chunker: Readonly<ChunkerParams>;
  private readonly fs: StoreFs;
  private readonly chunks: ChunkStore;
  private readonly lock: StoreLock;
  private readonly pool: HashPool;
  private readonly clock: () => number;
  private readonly manifestsDir: string;
  private readonly tmpDir: string;
  /**
   * Blobs put by this store lately, with when, newest last (a bounded few):
   * every chunk of each was stored by the put (see `putComplete`).
   */
  readonly #putIds = new Map<string, number>();

  constructor(parts: {
    fs: StoreFs;
    root: string;
    chunker: ChunkerParams;
    chunks: ChunkStore;
    clock: () => number;
    pool: HashPool;
  }) {
    this.pool = parts.pool;
    this.fs = parts.fs;
    this.root = parts.root;
    this.chunker = Object.freeze({ ...parts.chunker });
    this.chunks = parts.chunks;
    this.clock = parts.clock;
    this.manifestsDir = join(parts.root, "manifests");
    this.tmpDir = join(parts.root, "tmp");
    this.lock = new StoreLock({ fs: parts.fs, dir: join(parts.root, "locks") });
  }

  /** Stops the hashing threads and closes open packs (nothing here keeps a process alive). */
  async close(): Promise<void> {
    await this.lock.close();
    await this.pool.close();
    this.chunks.packs.closeFiles();
  }

  /**
   * Chunks, hashes and stores a stream, then stores its manifest locally and
   * returns it with its canonical bytes (to commit to the ledger) and id.
   * Memory stays bounded (a few 2 MiB blocks) whatever the input size. Chunks
   * already stored are not rewritten; new ones go to packs (`PackStaging`).
   * Nothing is published until every chunk is durable: the packs, the pack
   * folder, then the manifest. The store lock keeps gc out until the
   * manifest is written; after that the fresh local manifest keeps every
   * chunk it names (new or reused) live for gc's grace period, until the
   * ledger commits it.
   */
  async put({
    source,
    signal,
  }: {
    /** Pieces of the blob in order, or a `ByteReader` (e.g. over a file handle) read straight into the chunker's blocks. */
    source: ChunkSource;
    signal?: AbortSignal;
  }): Promise<PutResult> {
    const leave = await this.lock.enterWriter({ signal });
    let hasher: BlobHasher | undefined;
    try {
      const cutter = new FastCdcCutter(this.chunker);
      const entries: ManifestChunk[] = [];
      const stored = new Map<string, Promise<void>>();
      const staging = this.chunks.packStaging();
      const fileOp = limitConcurrency(FILE_OPS_IN_FLIGHT);
      let size = 0;
      let newChunks = 0;
      let newBytes = 0;
      let inline: ReturnType<typeof createHash> | undefined;
      let failure: unknown;
      const inFlight = new Set<Promise<void>>();

      /**
       * Stages a block's new chunks (appended to a pack); they are published
       * (made durable, then renamed into place) once the whole blob is cut.
       * `known`: whether the hashing thread found each stored (undefined: it
       * could not look, so it is asked here).
       */
      const storeChunks = (chunks: { id: string; bytes: Uint8Array; known?: boolean }[]) => {
        const waits: Promise<void>[] = [];
        const mine: typeof chunks = [];
        for (const chunk of chunks) {
          if (chunk.known === true) continue;
          const earlier = stored.get(chunk.id);
          if (earlier) waits.push(earlier);
          else if (!mine.some((c) => c.id === chunk.id)) mine.push(chunk);
        }
        if (mine.length > 0) {
          const done = (async () => {
            const absent = await Promise.all(
              mine.map((c) =>
                c.known === undefined ? fileOp(async () => !(await this.chunks.has(c.id))) : true,
              ),
            );
            const fresh = mine.filter((_, k) => absent[k]);
            await staging.add(fresh);
            for (const c of fresh) {
              newChunks++;
              newBytes += c.bytes.length;
            }
          })();
          for (const c of mine) stored.set(c.id, done);
          waits.push(done);
        }
        return Promise.all(waits);
      };
      // With the real fs the hashing thread also checks which chunks exist;
      // an injected fs (tests, faults) is asked here instead.
      const chunksDir = this.fs === nodeStoreFs ? this.chunks.dir : undefined;

      try {
        for await (const batch of chunkStream({ source, cutter, shared: true, signal })) {
          if (failure) break;
          // A single-block input (the first batch is also the last) is hashed
          // right here: starting threads would cost more than they save.
          if (size === 0 && !hasher && !inline) {
            if (batch.final) inline = createHash("sha256");
            else hasher = this.pool.blobHasher();
          }
          size += batch.data.length;
          const lengths = batch.chunks.map((c) => c.length);
          let ids: Promise<{ ids: string[]; present?: boolean[] }>;
          let hashed: Promise<void> | undefined;
          if (inline) {
            inline.update(batch.data);
            const local: string[] = [];
            let o = 0;
            for (const length of lengths) {
              local.push(sha256Hex(batch.data.subarray(o, o + length)));
              o += length;
            }
            ids = Promise.resolve({ ids: local });
          } else {
            hashed = hasher!.update(batch.data);
            ids = batch.chunks.length
              ? this.pool.chunkIds(batch.data, lengths, chunksDir)
              : Promise.resolve({ ids: [] });
          }
          const slot = entries.length;
          entries.length += lengths.length;
          const written = ids.then(async ({ ids: list, present }) => {
            const chunks: { id: string; bytes: Uint8Array; known?: boolean }[] = [];
            let o = 0;
            for (let k = 0; k < list.length; k++) {
              const id = list[k]!;
              entries[slot + k] = { id, length: lengths[k]! };
              chunks.push({
                id,
                bytes: batch.data.subarray(o, o + lengths[k]!),
                // The hashing thread looks for chunk files; packed chunks are known here.
                known: present && (present[k] || this.chunks.packs.locate(id) !== undefined),
              });
              o += lengths[k]!;
            }
            await storeChunks(chunks);
          });
          // The block goes back to the chunker once both threads and every
          // write are done with it, whether they succeeded or not.
          const work = Promise.all([written, hashed]).finally(() =>
            Promise.allSettled([written, hashed]).then(() => batch.release()),
          );
          const tracked = work.then(
            () => {
              inFlight.delete(tracked);
            },
            (error) => {
              inFlight.delete(tracked);
              failure ??= error;
            },
          );
          inFlight.add(tracked);
          while (inFlight.size >= BATCHES_IN_FLIGHT && !failure) await Promise.race(inFlight);
        }
      } catch (error) {
        // The source failed or the signal aborted: still wait for the writes
        // in flight, so nothing is written after put has returned.
        failure ??= error;
      }
      await Promise.all(inFlight);
      await Promise.allSettled(stored.values());
      if (failure) {
        await staging.discard();
        throw failure;
      }
      try {
        await staging.publish();
      } catch (error) {
        await staging.discard();
        throw error;
      }

      const sha256 = inline ? inline.digest("hex") : await hasher!.digest();
      hasher = undefined;
      const manifest: Manifest = { size, sha256, chunker: { ...this.chunker }, chunks: entries };
      const bytes = serializeManifest(manifest);
      const id = manifestId(bytes);
      await this.writeManifest(id, bytes);
      this.#putIds.delete(id);
      this.#putIds.set(id, this.clock());
      if (this.#putIds.size > PUT_IDS_KEPT) this.#putIds.delete(this.#putIds.keys().next().value!);
      return { id, manifest, bytes, newChunks, newBytes };
    } finally {
      hasher?.discard();
      await leave();
    }
  }

  /**
   * Stores a manifest received from the ledger or a peer (strictly parsed;
   * its id is the SHA-256 of `bytes`). Fetch the manifest before its chunks:
   * a fresh local manifest keeps its chunks live during gc's grace period.
   */
  async addManifest(received: ReceivedManifest): Promise<BlobInfo> {
    const { id, manifest, stored } = this.startAddManifest(received);
    await stored;
    return { id, manifest };
  }

  /**
   * Whether blob `id` was put by this store within the last minute: its
   * manifest and every chunk are stored, and a node need not look them up
   * (the node that puts a blob sees its block next). A minute is far inside
   * gc's grace period, so no gc, of this process or another, has removed
   * them since. Only the last few puts are known.
   */
  putComplete(id: string): boolean {
    const at = this.#putIds.get(id);
    return at !== undefined && this.clock() - at < PUT_HINT_MS;
  }

  /**
   * `addManifest` in two steps: returns once the manifest is parsed (a
   * format error throws at once), with `stored` settling once it is
   * durable. A fetch then asks for the chunks while the manifest's two
   * fsyncs run; its chunks arrive fresh, inside gc's grace period, either way.
   * A manifest this store put is not written again.
   */
  startAddManifest({
    bytes,
    source,
    signal,
  }: ReceivedManifest): BlobInfo & { stored: Promise<void> } {
    const manifest = parseManifest(bytes, source);
    const id = manifestId(bytes);
    if (this.putComplete(id)) return { id, manifest, stored: Promise.resolve() };
    const stored = (async () => {
      const leave = await this.lock.enterWriter({ signal });
      try {
        await this.writeManifest(id, bytes);
      } finally {
        await leave();
      }
    })();
    return { id, manifest, stored };
  }

  private async writeManifest(id: string, bytes: Uint8Array): Promise<void> {
    const path = join(this.manifestsDir, id);
    await writeFileAtomic({ fs: this.fs, tmpDir: this.tmpDir, path, data: bytes });
    await syncDir(this.fs, this.manifestsDir);
  }

  /** The stored manifest `id`, verified against its id and strictly parsed. */
  async manifest({ id }: { id: string; signal?: AbortSignal }): Promise<Manifest> {
    assertHexId(id, "blob");
    const path = join(this.manifestsDir, id);
    let bytes: Uint8Array;
    try {
      bytes = await this.fs.readFile(path);
    } catch (error) {
      if (errnoCode(error) === "ENOENT") {
        throw new BlobNotFoundError(`blob ${id} is not in the store (no manifest ${path})`, {
          blob: id,
        });
      }
      throw error;
    }
    const actual = manifestId(bytes);
    if (actual !== id) {
      throw new ManifestCorruptError(
        `manifest of blob ${id} does not verify: its bytes hash to ${actual} (${path})`,
        { blob: id, reason: "hash mismatch", path },
      );
    }
    try {
      return parseManifest(bytes, path);
    } catch (error) {
      throw new ManifestCorruptError((error as Error).message, {
        blob: id,
        reason: "does not parse",
        path,
      });
    }
  }

  /** Every stored manifest, by id; unreadable ones carry `error` instead of `manifest`. */
  async *manifests({
    signal,
  }: {
    signal?: AbortSignal;
  } = {}): AsyncGenerator<{ id: string; manifest?: Manifest; error?: Error; mtimeMs: number }> {
    for (const name of (await this.fs.readdir(this.manifestsDir)).sort()) {
      signal?.throwIfAborted();
      if (!isHexId(name)) continue;
      let mtimeMs = 0;
      try {
        mtimeMs = (await this.fs.stat(join(this.manifestsDir, name))).mtimeMs;
        yield { id: name, manifest: await this.manifest({ id: name }), mtimeMs };
      } catch (error) {
        if (errnoCode(error) === "ENOENT") continue;
        if (!(error instanceof GdoError)) throw error;
        yield { id: name, error: error as Error, mtimeMs };
      }
    }
  }

  /**
   * Streams a blob's bytes, each chunk verified against its id and length, and
   * the whole against the manifest's size and SHA-256 at the end (a
   * `BlobCorruptError` after the last piece means: discard what you got).
   */
  async *get({ id, signal }: { id: string; signal?: AbortSignal }): AsyncGenerator<Uint8Array> {
    const manifest = await this.manifest({ id });
    const whole = createHash("sha256");
    const list = manifest.chunks;
    // An incomplete blob (a node still fetching it) fails before its first
    // byte, so no reader is handed a torn prefix; the chunks are not read.
    const absent = await this.missingChunks({ ids: list.map((c) => c.id), signal });
    if (absent.length > 0) {
      throw new ChunkMissingError(
        `blob ${id} is incomplete here: ${absent.length} of its ${list.length} chunk(s) are not in the store (not fetched yet, or lost: 'gdo blob check' tells), ${absent[0]} first`,
        { chunk: absent[0]!, blob: id },
      );
    }
    const read = (k: number) => {
      const p = this.chunks.read(list[k]!.id, { blob: id });
      p.catch(() => {}); // awaited in order below; silence early rejections of prefetches
      return p;
    };
    const ahead: Promise<Uint8Array>[] = [];
    let next = 0;
    let size = 0;
    while (ahead.length < 4 && next < list.length) ahead.push(read(next++));
    for (let k = 0; k < list.length; k++) {
      signal?.throwIfAborted();
      const bytes = await ahead.shift()!;
      if (next < list.length) ahead.push(read(next++));
      if (bytes.length !== list[k]!.length) {
        throw new BlobCorruptError(
          `blob ${id}: manifest says chunk ${k} (${list[k]!.id}) has ${list[k]!.length} bytes, it has ${bytes.length}`,
          { blob: id, reason: "chunk length", chunk: list[k]!.id },
        );
      }
      whole.update(bytes);
      size += bytes.length;
      yield bytes;
    }
    const actual = whole.digest("hex");
    if (actual !== manifest.sha256 || size !== manifest.size) {
      throw new BlobCorruptError(
        `blob ${id} does not verify: ${size} bytes hashing to ${actual}, manifest says ${manifest.size} bytes, ${manifest.sha256}`,
        {
          blob: id,
          reason: "whole-blob hash",
          expectedSha256: manifest.sha256,
          actualSha256: actual,
          size,
        },
      );
    }
  }

  /** Which of these chunk ids the store lacks (each id validated; order kept, duplicates once). */
  async missingChunks({
    ids,
    signal,
  }: {
    ids: Iterable<string>;
    signal?: AbortSignal;
  }): Promise<string[]> {
    const unique = [...new Set(ids)];
    for (const id of unique) assertHexId(id, "chunk");
    return this.chunks.missing(unique, signal);
  }

  /**
   * A chunk's bytes, re-hashed: `ChunkCorruptError` if they do not match
   * `id`, `ChunkMissingError` if absent. Given `place`, read into the view it
   * returns for the chunk's length; `verify: false` leaves out the hash (see
   * `ChunkStore.read`).
   */
  async readChunk({
    id,
    place,
    verify = true,
  }: {
    id: string;
    place?: Place;
    verify?: boolean;
    signal?: AbortSignal;
  }): Promise<Uint8Array> {
    return this.chunks.read(id, { verify, ...(place ? { place } : {}) });
  }

  /**
   * A packed chunk's bytes, not re-hashed, read synchronously into
   * `place(length)` (a node serving thousands of chunks to a peer, who
   * hashes each): undefined where the chunk must be read with `readChunk`
   * (not in a pack, or its pack just replaced).
   */
  readPackedChunk({ id, place }: { id: string; place?: Place }): Uint8Array | undefined {
    return this.chunks.readPackedSync(id, place);
  }

  /**
   * Stores a chunk received from elsewhere: hashes `bytes`, refuses a mismatch
   * (`ChunkCorruptError`), writes atomically. Returns true if it was new.
   */
  async writeVerifiedChunk({
    id,
    bytes,
    signal,
  }: {
    id: string;
    bytes: Uint8Array;
    signal?: AbortSignal;
  }): Promise<boolean> {
    assertHexId(id, "chunk");
    const leave = await this.lock.enterWriter({ signal });
    try {
      const written = await this.chunks.writeVerified(id, bytes);
      if (written) await syncDir(this.fs, this.chunks.fanoutDir(id));
      return written;
    } finally {
      await leave();
    }
  }

  /**
   * `writeVerifiedChunk` for many chunks under one writer registration: each
   * chunk is hashed and refused on a mismatch (its result is the
   * `ChunkCorruptError`, the others still go in), the new ones are written
   * durably as one batch (`ChunkStore.writeTrustedBatch`: a pack from a few
   * chunks). Results are in input order: true if written, false if the store
   * had it.
   */
  async writeVerifiedChunks({
    chunks,
    signal,
  }: {
    chunks: { id: string; bytes: Uint8Array }[];
    signal?: AbortSignal;
  }): Promise<(boolean | ChunkCorruptError)[]> {
    const refused: (ChunkCorruptError | undefined)[] = [];
    const fresh = new Map<string, { id: string; bytes: Uint8Array }>();
    for (const chunk of chunks) {
      try {
        this.chunks.verify(chunk.id, chunk.bytes);
        refused.push(undefined);
        fresh.set(chunk.id, chunk);
      } catch (error) {
        if (!(error instanceof ChunkCorruptError)) throw error;
        refused.push(error);
      }
    }
    if (fresh.size === 0) return refused as ChunkCorruptError[];
    const leave = await this.lock.enterWriter({ signal });
    try {
      signal?.throwIfAborted();
      const present = await this.chunks.present([...fresh.keys()]);
      const batch = [...fresh.values()].filter((c) => !present.has(c.id));
      if (batch.length > 0) await this.chunks.writeTrustedBatch(batch);
      return storedResults(chunks, refused, present);
    } finally {
      await leave();
    }
  }

  /**
   * `writeVerifiedChunks` for chunks received into buffers the caller gives
   * up: those of a batch that becomes a pack are moved (not copied) to a
   * hashing thread, which checks and writes them, and back. A given buffer
   * is detached from the call on; `returned` maps each to the one to use
   * after (the same one where nothing moved).
   */
  async writeReceivedChunks({
    chunks,
    signal,
  }: {
    chunks: { id: string; bytes: Uint8Array }[];
    signal?: AbortSignal;
  }): Promise<{
    results: (boolean | ChunkCorruptError)[];
    returned: Map<ArrayBufferLike, ArrayBufferLike>;
  }> {
    if (chunks.length >= PACK_FROM && this.chunks.writesPacksOnThreads) {
      return this.#writeReceivedOnThread(chunks, signal);
    }
    const results = await this.writeVerifiedChunks({ chunks, ...(signal ? { signal } : {}) });
    return { results, returned: new Map(chunks.map((c) => [c.bytes.buffer, c.bytes.buffer])) };
  }

  /** Starts the hashing threads now: chunks are about to be received (they check and write them). */
  warmHashThreads(): void {
    if (this.chunks.writesPacksOnThreads) this.pool.warm();
  }

  /**
   * Received chunks hashed, written as a pack and fsynced on a hashing
   * thread, so a receiving node's main thread (which also decrypts what
   * arrives) only checks ids and lengths and indexes the pack. Chunks on
   * plain ArrayBuffers move there and back (see `writeReceivedChunks`).
   */
  async #writeReceivedOnThread(
    chunks: { id: string; bytes: Uint8Array }[],
    signal: AbortSignal | undefined,
  ): Promise<{
    results: (boolean | ChunkCorruptError)[];
    returned: Map<ArrayBufferLike, ArrayBufferLike>;
  }> {
    const unmoved = () => new Map(chunks.map((c) => [c.bytes.buffer, c.bytes.buffer]));
    const shapeErrors: (ChunkCorruptError | undefined)[] = chunks.map((chunk) => {
      try {
        this.chunks.verifyShape(chunk.id, chunk.bytes);
        return undefined;
      } catch (error) {
        if (!(error instanceof ChunkCorruptError)) throw error;
        return error;
      }
    });
    const checked = chunks.filter((_, k) => shapeErrors[k] === undefined);
    if (checked.length === 0) {
      return { results: shapeErrors as ChunkCorruptError[], returned: unmoved() };
    }
    const leave = await this.lock.enterWriter({ signal });
    try {
      signal?.throwIfAborted();
      const present = await this.chunks.present([...new Set(checked.map((c) => c.id))]);
      const { mismatched, returned } = await this.chunks.writeReceivedPack(
        this.pool,
        checked.map((c) => ({ ...c, write: !present.has(c.id) })),
      );
      let k = 0;
      const refused = shapeErrors.map((shapeError) => shapeError ?? mismatched.get(k++));
      // Buffers that held only chunks refused by shape did not move.
      for (const c of chunks)
        if (!returned.has(c.bytes.buffer)) returned.set(c.bytes.buffer, c.bytes.buffer);
      return { results: storedResults(chunks, refused, present), returned };
    } finally {
      await leave();
    }
  }

  /**
   * Checks every stored manifest and chunk (see `checkStore`): without
   * `readData`, that every referenced chunk exists with the right size; with
   * it, every chunk re-hashed too.
   */
  check({
    readData = false,
    signal,
  }: {
    readData?: boolean;
    signal?: AbortSignal;
  } = {}): Promise<CheckReport> {
    return checkStore({
      manifests: this.manifests({ signal }),
      store: this.chunks,
      readData,
      signal,
    });
  }

  /**
   * Removes every chunk no live manifest references. Live = the given
   * manifests, plus any local manifest younger than `graceMs` (put but not yet
   * committed). A chunk younger than `graceMs` (written or reused recently) is
   * kept too. Puts in flight are excluded by the store lock: gc waits for them
   * (up to `waitMs`) and puts wait for gc. Local manifests that are neither
   * live nor young are removed.
   */
  async gc({
    liveManifests,
    graceMs = DEFAULT_GC_GRACE_MS,
    waitMs,
    signal,
  }: {
    liveManifests: AsyncIterable<Manifest> | Iterable<Manifest>;
    graceMs?: number;
    waitMs?: number;
    signal?: AbortSignal;
  }): Promise<GcReport> {
    const leave = await this.lock.enterGc({ signal, ...(waitMs === undefined ? {} : { waitMs }) });
    try {
      const report: GcReport = {
        removedChunks: 0,
        removedBytes: 0,
        keptChunks: 0,
        keptByGrace: 0,
        removedManifests: 0,
        removedTempFiles: 0,
        strayFiles: [],
      };
      const cutoff = this.clock() - graceMs;
      const live = new Set<string>();
      const liveIds = new Set<string>();
      for await (const m of liveManifests) {
        liveIds.add(manifestId(serializeManifest(m)));
        for (const c of m.chunks) live.add(c.id);
      }
      for await (const entry of this.manifests({ signal })) {
        if (liveIds.has(entry.id)) continue;
        if (entry.mtimeMs >= cutoff) {
          for (const c of entry.manifest?.chunks ?? []) live.add(c.id);
          continue;
        }
        // A local manifest that does not verify is left for `check` to report.
        if (!entry.manifest) continue;
        await this.fs.unlink(join(this.manifestsDir, entry.id)).catch((error) => {
          if (errnoCode(error) !== "ENOENT") throw error;
        });
        this.#putIds.delete(entry.id);
        report.removedManifests++;
      }
      for await (const file of this.chunks.list((p) => report.strayFiles.push(p))) {
        signal?.throwIfAborted();
        if (live.has(file.id)) report.keptChunks++;
        else if (file.mtimeMs >= cutoff) {
          report.keptChunks++;
          report.keptByGrace++;
        } else {
          await this.chunks.remove(file.id);
          report.removedChunks++;
          report.removedBytes += file.size;
        }
      }
      await this.chunks.compactPacks();
      report.removedTempFiles = await this.removeStaleTempFiles();
      return report;
    } finally {
      await leave();
    }
  }

  /** Counts and sizes, logical (what the blobs add up to) against stored (chunks). */
  stats({ signal }: { signal?: AbortSignal } = {}): Promise<StoreStats> {
    return storeStats({
      manifests: this.manifests({ signal }),
      store: this.chunks,
      chunker: this.chunker,
    });
  }

  /**
   * Removes temp files left by writers that died (kill -9, power loss): their
   * pid is gone, or the file is older than an hour (the pid was reused).
   */
  async removeStaleTempFiles(): Promise<number> {
    let removed = 0;
    const now = this.clock();
    for (const name of await this.fs.readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      const m = TEMP_NAME.exec(name);
      let stale = m ? !pidAlive(Number(m[1])) : false;
      if (!stale) {
        try {
          stale = now - (await this.fs.stat(path)).mtimeMs > TEMP_MAX_AGE_MS;
        } catch (error) {
          if (errnoCode(error) === "ENOENT") continue;
          throw error;
        }
      }
      if (stale) {
        await this.fs.unlink(path).catch((error) => {
          if (errnoCode(error) !== "ENOENT") throw error;
        });
        removed++;
      }
    }
    return removed;
  }
}

/**
 * Each chunk's result in a batch written from a peer: its refusal if it was
 * refused, else whether it is new (the first accepted copy of a chunk the
 * store lacked).
 */
function storedResults(
  chunks: { id: string }[],
  refused: (ChunkCorruptError | undefined)[],
  present: Set<string>,
): (boolean | ChunkCorruptError)[] {
  const counted = new Set<string>();
  return chunks.map(({ id }, k) => {
    const refusal = refused[k];
    if (refusal) return refusal;
    if (present.has(id) || counted.has(id)) return false;
    counted.add(id);
    return true;
  });
}
