import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { BlobStore } from "../../../ledger/blobs/blob-store.ts";
import { DEFAULT_CHUNKER } from "../../../ledger/blobs/chunker-params.ts";
import { type Manifest, parseManifest } from "../../../ledger/blobs/manifest.ts";
import type { StoreFs } from "../../../ledger/blobs/store-fs.ts";
import { VerificationError } from "../../../ledger/errors.ts";
import {
  ageChunks,
  assertChunksIntact,
  chunkLocations,
  damageChunk,
  loseChunk,
  openStore as open,
  sha,
  storedBytes,
  tempDir,
} from "../../helpers/blob-store.ts";

async function readAll(store: BlobStore, id: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of store.get({ id })) parts.push(part);
  return Buffer.concat(parts);
}

/** Deterministic data with repeats, so chunks dedup within and across blobs. */
function sampleData(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x, Math.min(i, size - 4));
  }
  return out;
}

function* pieces(data: Uint8Array, size: number) {
  for (let o = 0; o < data.length; o += size) yield data.subarray(o, o + size);
}

function oldTime(path: string) {
  const t = new Date(Date.now() - 24 * 3600_000);
  utimesSync(path, t, t);
}

/** The ids of the chunk files under `chunks/` (chunks not in packs). */
function looseChunks(dataDir: string): string[] {
  return [...chunkLocations(dataDir)].filter(([, at]) => !at.packed).map(([id]) => id);
}

describe("blob store", () => {
  it("should put and get back blobs of every size, from one buffer or a stream", async () => {
    const store = await open();
    for (const data of [
      Buffer.alloc(0),
      Buffer.from("x"),
      sampleData(300_000, 1),
      sampleData(9 * 1024 * 1024 + 5, 2),
    ]) {
      const result = await store.put({ source: pieces(data, 100_003) });
      assert.equal(result.manifest.size, data.length);
      assert.equal(result.manifest.sha256, sha(data));
      assert.deepEqual(result.manifest.chunker, DEFAULT_CHUNKER);
      assert.equal(result.id, sha(result.bytes));
      assert.deepEqual(parseManifest(result.bytes, "put"), result.manifest);
      assert.ok((await readAll(store, result.id)).equals(data));
      const again = await store.put({ source: [data] });
      assert.equal(
        again.id,
        result.id,
        "the same bytes give the same manifest id however they arrive",
      );
      assert.equal(again.newChunks, 0);
    }
  });

  it("should store a put's new chunks in read-only packs, each chunk by its id", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const result = await store.put({ source: [sampleData(500_000, 3)] });
    const stored = chunkLocations(dataDir);
    assert.deepEqual(looseChunks(dataDir), [], "no chunk file per chunk");
    const packs = readdirSync(join(dataDir, "blobs", "packs"));
    assert.equal(packs.length, 1, "one pack for a small blob");
    assert.equal(statSync(join(dataDir, "blobs", "packs", packs[0]!)).mode & 0o777, 0o444);
    for (const chunk of result.manifest.chunks) {
      const at = stored.get(chunk.id);
      assert.ok(at?.packed, `chunk ${chunk.id} is in the pack`);
      assert.equal(at.length, chunk.length);
      assert.equal(sha(storedBytes(at)), chunk.id);
    }
    assert.ok(
      readFileSync(join(dataDir, "blobs", "manifests", result.id)).equals(
        Buffer.from(result.bytes),
      ),
    );
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "tmp")), []);
  });

  it("should store a blob that shares most bytes with another in few new chunks", async () => {
    const store = await open();
    const a = sampleData(4 * 1024 * 1024, 4);
    const b = Buffer.concat([
      a.subarray(0, 2_000_000),
      Buffer.from("an edit in the middle"),
      a.subarray(2_000_000),
    ]);
    const first = await store.put({ source: [a] });
    const second = await store.put({ source: [b] });
    assert.ok(second.newChunks <= 3, `${second.newChunks} new chunks`);
    assert.ok(second.newBytes < 0.1 * b.length);
    const stats = await store.stats();
    assert.equal(stats.blobs, 2);
    assert.equal(stats.logicalBytes, a.length + b.length);
    assert.equal(stats.storedBytes, first.newBytes + second.newBytes);
    assert.ok(stats.dedupRatio > 1.8);
  });

  it("should refuse a chunk whose bytes do not match its id", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const result = await store.put({ source: [sampleData(400_000, 5)] });
    const victim = result.manifest.chunks[1]!.id;
    damageChunk(dataDir, victim, (bytes) => {
      bytes[1000]! ^= 0x01;
    });
    const bytes = storedBytes(chunkLocations(dataDir).get(victim)!);
    await assert.rejects(
      store.readChunk({ id: victim }),
      (e: Error & { code?: string; data?: { chunk?: string } }) => {
        assert.ok(e instanceof VerificationError);
        assert.equal(e.code, "chunk-corrupt");
        assert.equal(e.data?.chunk, victim);
        assert.match(e.message, new RegExp(`chunk ${victim} does not verify`));
        return true;
      },
    );
    await assert.rejects(readAll(store, result.id), { code: "chunk-corrupt" });
    // Serving a peer skips the hash (the peer hashes what it receives): the
    // bytes come back as stored, read into the buffer the caller places.
    const frame = new Uint8Array(bytes.length + 10);
    const served = await store.readChunk({
      id: victim,
      verify: false,
      place: (length) => frame.subarray(10, 10 + length),
    });
    assert.equal(served.buffer, frame.buffer, "read into the placed buffer");
    assert.deepEqual(Buffer.from(served), bytes);
  });

  it("should refuse a truncated chunk file and report a missing one", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    // Chunks from a peer one at a time: a file each, under chunks/ab/cdef….
    const [first, second] = [randomBytes(5000), randomBytes(6000)].map((bytes) => ({
      id: sha(bytes),
      bytes,
    }));
    for (const chunk of [first!, second!]) await store.writeVerifiedChunk(chunk);
    const files = chunkLocations(dataDir);
    for (const { id } of [first!, second!]) {
      const path = join(dataDir, "blobs", "chunks", id.slice(0, 2), id.slice(2));
      assert.equal(files.get(id)?.path, path);
      assert.equal(statSync(path).mode & 0o777, 0o444);
    }
    chmodSync(files.get(first!.id)!.path, 0o644);
    writeFileSync(files.get(first!.id)!.path, first!.bytes.subarray(0, 100));
    rmSync(files.get(second!.id)!.path);
    await assert.rejects(store.readChunk({ id: first!.id }), { code: "chunk-corrupt" });
    await assert.rejects(store.readChunk({ id: second!.id }), (e: Error & { code?: string }) => {
      assert.equal(e.code, "chunk-missing");
      assert.match(e.message, /is missing from the store/);
      return true;
    });
    assert.deepEqual(await store.missingChunks({ ids: [first!.id, second!.id, second!.id] }), [
      second!.id,
    ]);
  });

  it("should accept a verified chunk from a peer and refuse bytes that do not match the id", async () => {
    const store = await open();
    const bytes = randomBytes(5000);
    const id = sha(bytes);
    assert.deepEqual(await store.missingChunks({ ids: [id] }), [id]);
    await assert.rejects(store.writeVerifiedChunk({ id, bytes: randomBytes(5000) }), {
      code: "chunk-corrupt",
    });
    assert.deepEqual(
      await store.missingChunks({ ids: [id] }),
      [id],
      "a refused chunk is not stored",
    );
    assert.equal(await store.writeVerifiedChunk({ id, bytes }), true);
    assert.equal(await store.writeVerifiedChunk({ id, bytes }), false);
    assert.deepEqual(await store.missingChunks({ ids: [id] }), []);
    assert.ok(Buffer.from(await store.readChunk({ id })).equals(bytes));
  });

  it("should store a batch of peer chunks, refusing only the ones whose bytes do not match", async () => {
    const store = await open();
    const good = [randomBytes(4000), randomBytes(6000), randomBytes(8000)];
    const ids = good.map(sha);
    assert.equal(await store.writeVerifiedChunk({ id: ids[0]!, bytes: good[0]! }), true);
    const liar = randomBytes(5000);
    const results = await store.writeVerifiedChunks({
      chunks: [
        { id: ids[0]!, bytes: good[0]! }, // already stored
        { id: ids[1]!, bytes: good[1]! },
        { id: ids[2]!, bytes: liar }, // bytes that do not match the id
        { id: ids[1]!, bytes: good[1]! }, // twice in one batch
      ],
    });
    assert.equal(results[0], false);
    assert.equal(results[1], true);
    assert.ok(results[2] instanceof VerificationError && results[2].code === "chunk-corrupt");
    assert.equal(results[3], false);
    assert.deepEqual(await store.missingChunks({ ids }), [ids[2]]);
    assert.ok(Buffer.from(await store.readChunk({ id: ids[1]! })).equals(good[1]!));
  });

  it("should refuse ids with path separators, dot-dot or non-hex characters before touching the fs", async () => {
    const store = await open();
    const bad = [
      "../../../etc/passwd",
      `${"a".repeat(62)}/b`,
      "A".repeat(64),
      "a".repeat(63),
      `..${"a".repeat(62)}`,
      "",
    ];
    for (const id of bad) {
      await assert.rejects(store.readChunk({ id }), { code: "invalid-id" });
      await assert.rejects(store.missingChunks({ ids: [id] }), { code: "invalid-id" });
      await assert.rejects(store.writeVerifiedChunk({ id, bytes: new Uint8Array(1) }), {
        code: "invalid-id",
      });
      await assert.rejects(store.manifest({ id }), { code: "invalid-id" });
      await assert.rejects(readAll(store, id), { code: "invalid-id" });
    }
  });

  it("should report an unknown blob id as not found", async () => {
    const store = await open();
    await assert.rejects(readAll(store, "0".repeat(64)), { code: "blob-not-found" });
  });

  it("should refuse a stored manifest whose bytes do not match its id", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const { id } = await store.put({ source: [Buffer.from("hello")] });
    const path = join(dataDir, "blobs", "manifests", id);
    chmodSync(path, 0o644);
    writeFileSync(path, readFileSync(path, "latin1").replace("size 5", "size 6"));
    await assert.rejects(store.manifest({ id }), { code: "manifest-corrupt" });
  });

  it("should take received manifests only if they parse, and keep them by id", async () => {
    const store = await open();
    const { bytes, id } = await store.put({ source: [Buffer.from("hello")] });
    const other = await open();
    const added = await other.addManifest({ bytes, source: "rfcs/assets/hello.txt.blob" });
    assert.equal(added.id, id);
    assert.deepEqual(await other.missingChunks({ ids: added.manifest.chunks.map((c) => c.id) }), [
      added.manifest.chunks[0]!.id,
    ]);
    await assert.rejects(
      other.addManifest({ bytes: Buffer.from("gdo-blob v1\nsize x\n"), source: "bad.blob" }),
      (e: Error & { code?: string }) =>
        e.code === "manifest-invalid" && /^bad\.blob:2:/.test(e.message),
    );
  });

  it("should refuse to read a blob whose chunks are only partly here, before its first byte", async () => {
    const store = await open();
    const data = sampleData(600_000, 11);
    const { bytes, id, manifest } = await store.put({ source: [data] });
    assert.ok(manifest.chunks.length >= 3, `several chunks (${manifest.chunks.length})`);
    // A node still fetching it: the manifest and the first chunks only.
    const other = await open();
    await other.addManifest({ bytes, source: "blobs/partial.bin.blob" });
    const have = manifest.chunks.slice(0, -1);
    for (const { id: chunk } of have) {
      await other.writeVerifiedChunk({ id: chunk, bytes: await store.readChunk({ id: chunk }) });
    }
    const last = manifest.chunks.at(-1)!.id;
    const reader = other.get({ id })[Symbol.asyncIterator]();
    await assert.rejects(reader.next(), (e: Error & { code?: string }) => {
      assert.equal(e.code, "chunk-missing");
      assert.match(e.message, new RegExp(`blob ${id} is incomplete here: 1 of its`));
      assert.match(e.message, new RegExp(last));
      return true;
    });
    await other.writeVerifiedChunk({ id: last, bytes: await store.readChunk({ id: last }) });
    assert.ok((await readAll(other, id)).equals(data));
  });

  it("should check structure, re-hash with readData, and list every blob affected by a bad or missing chunk", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const shared = sampleData(600_000, 7);
    const a = await store.put({ source: [shared, Buffer.from("tail a")] });
    const b = await store.put({ source: [shared, Buffer.from("tail b")] });
    const c = await store.put({ source: [sampleData(300_000, 8)] });
    assert.equal((await store.check({ readData: true })).ok, true);

    const common = a.manifest.chunks[0]!.id;
    assert.equal(b.manifest.chunks[0]!.id, common);
    const onlyC = c.manifest.chunks[0]!.id;
    // Same size, one bit flipped: only a re-hash can see it.
    damageChunk(dataDir, onlyC, (bytes) => {
      bytes[7]! ^= 0x80;
    });
    loseChunk(dataDir, common);

    const structural = await store.check();
    assert.equal(structural.ok, false);
    assert.deepEqual(structural.missingChunks, [{ chunk: common, blobs: [a.id, b.id].sort() }]);
    assert.deepEqual(structural.corruptChunks, []);
    assert.deepEqual(structural.affectedBlobs, [a.id, b.id].sort());

    const deep = await store.check({ readData: true });
    assert.equal(deep.corruptChunks.length, 1);
    assert.equal(deep.corruptChunks[0]!.chunk, onlyC);
    assert.deepEqual(deep.corruptChunks[0]!.blobs, [c.id]);
    assert.deepEqual(deep.affectedBlobs, [a.id, b.id, c.id].sort());
  });

  it("should refuse to open a store with other chunker parameters than it was created with", async () => {
    const dataDir = tempDir();
    await open(dataDir);
    await assert.rejects(
      open(dataDir, { chunker: { ...DEFAULT_CHUNKER, avgSize: 16_384 } }),
      (e: Error & { code?: string }) =>
        e.code === "chunker-mismatch" && /never mixes cut rules/.test(e.message),
    );
    const same = await open(dataDir, { chunker: { ...DEFAULT_CHUNKER } });
    assert.deepEqual(same.chunker, DEFAULT_CHUNKER);
    const small = { ...DEFAULT_CHUNKER, minSize: 1024, avgSize: 4096, maxSize: 16_384 };
    const other = await open(tempDir(), { chunker: small });
    const { manifest } = await other.put({ source: [sampleData(100_000, 9)] });
    assert.deepEqual(manifest.chunker, small, "the parameters are recorded in each manifest");
  });

  it("should know a blob it put a moment ago as complete, and not write its manifest again", async () => {
    const dataDir = tempDir();
    let now = Date.now();
    const store = await open(dataDir, { clock: () => now });
    const { bytes, id } = await store.put({ source: [sampleData(300_000, 12)] });
    assert.equal(store.putComplete(id), true);
    const path = join(dataDir, "blobs", "manifests", id);
    const inode = statSync(path).ino;
    const again = store.startAddManifest({ bytes, source: "blobs/a.blob" });
    await again.stored;
    assert.equal(again.id, id);
    assert.equal(statSync(path).ino, inode, "not written again");
    // A minute later (far inside gc's grace) it is looked at like any other.
    now += 61_000;
    assert.equal(store.putComplete(id), false);
    await store.addManifest({ bytes, source: "blobs/a.blob" });
    assert.notEqual(statSync(path).ino, inode, "written again");
    // Another store (another process) never knew it.
    assert.equal((await open(dataDir)).putComplete(id), false);
  });

  it("should gc unreferenced chunks and keep live, young and referenced ones", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const keep = await store.put({ source: [sampleData(500_000, 10)] });
    const drop = await store.put({ source: [sampleData(500_000, 11)] });
    ageChunks(dataDir);
    for (const id of [keep.id, drop.id]) oldTime(join(dataDir, "blobs", "manifests", id));

    // Everything unreferenced is young from the ledger's point of view? No: all old now.
    const report = await store.gc({ liveManifests: [keep.manifest], graceMs: 3600_000 });
    assert.equal(report.removedChunks, drop.manifest.chunks.length);
    assert.equal(report.removedManifests, 1);
    assert.equal(report.keptChunks, keep.manifest.chunks.length);
    assert.deepEqual(await store.missingChunks({ ids: keep.manifest.chunks.map((c) => c.id) }), []);
    assert.ok((await readAll(store, keep.id)).length === 500_000);
    await assert.rejects(readAll(store, drop.id), { code: "blob-not-found" });

    // A chunk written a moment ago (a put not yet committed) survives the grace period.
    const fresh = randomBytes(3000);
    await store.writeVerifiedChunk({ id: sha(fresh), bytes: fresh });
    const young = await store.gc({ liveManifests: [keep.manifest] });
    assert.equal(young.keptByGrace, 1);
    const none = await store.gc({ liveManifests: [keep.manifest], graceMs: 0 });
    assert.equal(none.removedChunks, 1);
  });

  it("should keep every chunk a fresh put reuses live through its fresh local manifest", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const data = sampleData(400_000, 12);
    const first = await store.put({ source: [data] });
    ageChunks(dataDir);
    oldTime(join(dataDir, "blobs", "manifests", first.id));
    // Re-putting the same bytes writes no chunk, but rewrites the manifest:
    // fresh, it keeps all its (old) chunks live until the ledger commits it.
    const again = await store.put({ source: [data] });
    assert.equal(again.newChunks, 0);
    const report = await store.gc({ liveManifests: [] });
    assert.equal(report.removedChunks, 0);
    assert.equal(report.removedManifests, 0);
  });

  it("should never remove a chunk an in-flight put needs: gc waits for the put", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const data = sampleData(300_000, 13);
    const old = await store.put({ source: [data] });
    // The old blob's manifest is gone and its chunks are old: garbage, unless
    // a put is about to reuse them.
    rmSync(join(dataDir, "blobs", "manifests", old.id));
    ageChunks(dataDir);

    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    async function* slowSource() {
      yield data.subarray(0, 150_000);
      await gate;
      yield data.subarray(150_000);
    }
    const putting = store.put({ source: slowSource() });
    await new Promise((r) => setTimeout(r, 50));
    // With the put stuck, a gc that will not wait refuses and removes nothing.
    await assert.rejects(store.gc({ liveManifests: [], graceMs: 0, waitMs: 100 }), {
      code: "store-busy",
    });
    assert.equal(chunkLocations(dataDir).size, old.manifest.chunks.length);
    // The live set is read when gc runs (as the ledger scan will be), and no
    // grace period helps: only the lock keeps the reused chunks alive.
    const order: string[] = [];
    async function* ledgerNow() {
      for await (const entry of store.manifests()) if (entry.manifest) yield entry.manifest;
    }
    const collecting = store
      .gc({ liveManifests: ledgerNow(), graceMs: 0 })
      .then(() => order.push("gc"));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(chunkLocations(dataDir).size, old.manifest.chunks.length, "gc is waiting");
    release();
    const result = await putting;
    order.push("put");
    await collecting;
    assert.deepEqual(order, ["put", "gc"]);
    assert.ok((await readAll(store, result.id)).equals(data));
  });

  it("should make a put wait while gc holds the store", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const lock = join(dataDir, "blobs", "locks", "gc.lock");
    writeFileSync(lock, `${process.pid}\n`);
    let done = false;
    const putting = store.put({ source: [Buffer.from("waits")] }).then((r) => {
      done = true;
      return r;
    });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(done, false);
    rmSync(lock);
    await putting;
    assert.equal(done, true);
    // A lock left by a dead gc is stale and does not block.
    writeFileSync(lock, "999999999\n");
    await store.put({ source: [Buffer.from("stale lock")] });
  });

  it("should fail a put cleanly on ENOSPC, leaving no partial chunk, temp file or manifest", async () => {
    const dataDir = tempDir();
    const healthy = await open(dataDir);
    const before = await healthy.put({ source: [sampleData(300_000, 14)] });
    const manifestsBefore = readdirSync(join(dataDir, "blobs", "manifests"));

    // A disk that fills up: writes succeed until 1 MiB more has been written,
    // then the write that crosses the limit stores what fits and fails.
    let budget = 1024 * 1024;
    const full: StoreFs = {
      ...fsp,
      open: (async (...args: Parameters<typeof fsp.open>) => {
        const handle = await fsp.open(...args);
        if (!String(args[0]).endsWith(".tmp")) return handle;
        const write = handle.write.bind(handle) as (
          ...a: unknown[]
        ) => Promise<{ bytesWritten: number }>;
        return Object.assign(handle, {
          write: async (buffer: Uint8Array, offset = 0, length = buffer.length - offset) => {
            if (length > budget) {
              if (budget > 0) await write(buffer, offset, budget);
              budget = 0;
              throw Object.assign(new Error("ENOSPC: no space left on device, write"), {
                code: "ENOSPC",
              });
            }
            budget -= length;
            return write(buffer, offset, length);
          },
        });
      }) as StoreFs["open"],
    };
    const store = await open(dataDir, { fs: full });
    await assert.rejects(
      store.put({ source: pieces(sampleData(8 * 1024 * 1024, 15), 1 << 20) }),
      (e: Error & { code?: string; data?: { reason?: string; chunk?: string } }) => {
        assert.equal(e.code, "blob-write-failed");
        assert.equal(e.data?.reason, "ENOSPC");
        assert.match(e.message, /cannot write chunk [0-9a-f]{64} .*ENOSPC/);
        return true;
      },
    );
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "tmp")), [], "temp files are removed");
    assert.deepEqual(
      readdirSync(join(dataDir, "blobs", "manifests")),
      manifestsBefore,
      "no manifest",
    );
    assertChunksIntact(dataDir);
    assert.ok(
      (await readAll(healthy, before.id)).equals(sampleData(300_000, 14)),
      "older blobs intact",
    );
    assert.equal((await healthy.check({ readData: true })).ok, true);
  });

  it("should remove temp files left by a dead writer when the store is opened", async () => {
    const dataDir = tempDir();
    await open(dataDir);
    const tmp = join(dataDir, "blobs", "tmp");
    writeFileSync(join(tmp, "999999999.0123456789abcdef.tmp"), "partial");
    writeFileSync(join(tmp, `${process.pid}.fedcba9876543210.tmp`), "in flight");
    await open(dataDir);
    assert.deepEqual(readdirSync(tmp), [`${process.pid}.fedcba9876543210.tmp`]);
  });

  it("should stop a put when its signal aborts, leaving the store consistent", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    const controller = new AbortController();
    async function* endless() {
      for (let k = 0; ; k++) {
        if (k === 3) controller.abort(new Error("stop"));
        yield sampleData(1 << 20, 100 + k);
      }
    }
    await assert.rejects(store.put({ source: endless(), signal: controller.signal }), /stop/);
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "manifests")), []);
    await store.close();
    assert.deepEqual(
      readdirSync(join(dataDir, "blobs", "locks")),
      [],
      "the put's registration is gone",
    );
    assertChunksIntact(dataDir);
  });

  it("should fail a put whose source fails, after its writes in flight have settled", async () => {
    const dataDir = tempDir();
    const store = await open(dataDir);
    async function* broken() {
      for (let k = 0; k < 4; k++) yield sampleData(1 << 20, 200 + k);
      throw new Error("read error: the disk went away");
    }
    await assert.rejects(store.put({ source: broken() }), /the disk went away/);
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "tmp")), [], "no write still in flight");
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "manifests")), []);
    assertChunksIntact(dataDir);
  });

  it("should list blobs and count logical against stored bytes", async () => {
    const store = await open();
    const data = sampleData(700_000, 16);
    const a = await store.put({ source: [data] });
    await store.put({ source: [data] });
    const listed: { id: string; manifest?: Manifest }[] = [];
    for await (const entry of store.manifests()) listed.push(entry);
    assert.deepEqual(
      listed.map((e) => e.id),
      [a.id],
    );
    const stats = await store.stats();
    assert.equal(stats.blobs, 1);
    assert.equal(stats.logicalBytes, 700_000);
    assert.equal(stats.storedBytes, 700_000);
    assert.equal(stats.unreferencedChunks, 0);
  });
});
