import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEFAULT_CHUNKER } from "../../../ledger/blobs/chunker-params.ts";
import type { Manifest } from "../../../ledger/blobs/manifest.ts";
import type { StoreFs } from "../../../ledger/blobs/store-fs.ts";
import { openStore, sha, tempDir } from "../../helpers/blob-store.ts";

/** `n` chunks of different sizes, as a peer would send them. */
function chunks(n: number, seed = 0): { id: string; bytes: Uint8Array }[] {
  return Array.from({ length: n }, (_, k) => {
    const bytes = randomBytes(1000 + ((k * 7919 + seed) % 30_000));
    return { id: sha(bytes), bytes };
  });
}

/** `n` small chunks whose ids start with `prefix` (two hex digits: one fan-out folder). */
function chunksIn(prefix: string, n: number): { id: string; bytes: Uint8Array }[] {
  const out: { id: string; bytes: Uint8Array }[] = [];
  while (out.length < n) {
    const bytes = randomBytes(64);
    const id = sha(bytes);
    if (id.startsWith(prefix)) out.push({ id, bytes });
  }
  return out;
}

const packDir = (dataDir: string) => join(dataDir, "blobs", "packs");
const packs = (dataDir: string) => readdirSync(packDir(dataDir)).filter((n) => n.endsWith(".gcp"));
function chunkFileCount(dataDir: string): number {
  const root = join(dataDir, "blobs", "chunks");
  return readdirSync(root).reduce((n, fan) => n + readdirSync(join(root, fan)).length, 0);
}

describe("chunk packs", () => {
  it("should store a received batch as one pack that every reader, in this process or another, reads back", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    const batch = chunks(40);
    const results = await store.writeVerifiedChunks({ chunks: batch });
    assert.deepEqual(results, Array(40).fill(true));
    assert.equal(packs(dataDir).length, 1, "one pack for the batch");
    assert.equal(chunkFileCount(dataDir), 0, "no chunk files");
    for (const c of batch) assert.deepEqual(await store.readChunk({ id: c.id }), c.bytes);
    const into = new Uint8Array(batch[3]!.bytes.length);
    const placed = await store.readChunk({ id: batch[3]!.id, place: () => into });
    assert.equal(placed, into, "a packed chunk is read into the placed buffer, and verified there");
    assert.deepEqual(Buffer.from(into), batch[3]!.bytes);
    assert.deepEqual(await store.missingChunks({ ids: batch.map((c) => c.id) }), []);
    // Written again: the store has them all.
    assert.deepEqual(await store.writeVerifiedChunks({ chunks: batch }), Array(40).fill(false));
    assert.equal(packs(dataDir).length, 1);

    // A second store on the same folder (another process) sees the pack, and
    // a pack it writes later is found by the first one on a miss.
    const other = await openStore(dataDir);
    assert.deepEqual(await other.readChunk({ id: batch[7]!.id }), batch[7]!.bytes);
    const later = chunks(12, 1);
    await other.writeVerifiedChunks({ chunks: later });
    assert.deepEqual(await store.readChunk({ id: later[3]!.id }), later[3]!.bytes);
    assert.deepEqual(await store.missingChunks({ ids: later.map((c) => c.id) }), []);

    const report = await store.check({ readData: true });
    assert.equal(report.ok, true);
    assert.equal(report.chunks, 52);
    assert.deepEqual(report.strayFiles, []);
  });

  it("should not store again, as files, chunks a put finds already packed", async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const source = await openStore(tempDir());
    const put = await source.put({ source: [data] });
    const received = await Promise.all(
      put.manifest.chunks.map(async (c) => ({
        id: c.id,
        bytes: await source.readChunk({ id: c.id }),
      })),
    );
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    await store.writeVerifiedChunks({ chunks: received });
    assert.equal(packs(dataDir).length, 1);
    const again = await store.put({ source: [data] });
    assert.equal(again.id, put.id);
    assert.equal(again.newChunks, 0);
    assert.equal(chunkFileCount(dataDir), 0, "no chunk was written twice");
  });

  it("should write a few chunks as files, and refuse a batch's bad chunk while storing the rest", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    const few = chunks(3);
    await store.writeVerifiedChunks({ chunks: few });
    assert.equal(packs(dataDir).length, 0);
    assert.equal(chunkFileCount(dataDir), 3);

    const batch = chunks(10, 2);
    const forged = { id: batch[4]!.id, bytes: randomBytes(batch[4]!.bytes.length) };
    const results = await store.writeVerifiedChunks({
      chunks: [...batch.slice(0, 4), forged, ...batch.slice(5)],
    });
    assert.equal((results[4] as Error & { code: string }).code, "chunk-corrupt");
    assert.equal(results.filter((r) => r === true).length, 9);
    await assert.rejects(store.readChunk({ id: forged.id }), { code: "chunk-missing" });
  });

  it("should refuse a flipped byte in a packed chunk, naming the pack, and keep serving the others", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    const batch = chunks(20);
    await store.writeVerifiedChunks({ chunks: batch });
    const path = join(packDir(dataDir), packs(dataDir)[0]!);
    const bytes = readFileSync(path);
    bytes[8 + batch[0]!.bytes.length + 10]! ^= 0xff; // inside the second chunk
    rmSync(path);
    writeFileSync(path, bytes);

    const reopened = await openStore(dataDir);
    await assert.rejects(
      reopened.readChunk({ id: batch[1]!.id }),
      (e: Error & { code: string }) => {
        assert.equal(e.code, "chunk-corrupt");
        assert.ok(e.message.includes(path), e.message);
        return true;
      },
    );
    assert.deepEqual(await reopened.readChunk({ id: batch[2]!.id }), batch[2]!.bytes);
    const report = await reopened.check({ readData: true });
    assert.equal(report.ok, false);
    assert.deepEqual(
      report.corruptChunks.map((c) => c.chunk),
      [batch[1]!.id],
    );
  });

  it("should open a store whose pack index is damaged or truncated, count its chunks missing and name the pack in check", async () => {
    for (const damage of ["index", "truncate"] as const) {
      const dataDir = tempDir();
      const store = await openStore(dataDir);
      const batch = chunks(16);
      await store.writeVerifiedChunks({ chunks: batch });
      const path = join(packDir(dataDir), packs(dataDir)[0]!);
      const size = readFileSync(path).length;
      if (damage === "truncate") truncateSync(path, size - 100);
      else {
        const bytes = readFileSync(path);
        bytes[size - 44 - 40 * 3 + 35]! ^= 0x01; // a length in the index
        rmSync(path);
        writeFileSync(path, bytes);
      }
      const reopened = await openStore(dataDir);
      const ids = batch.map((c) => c.id);
      assert.deepEqual(await reopened.missingChunks({ ids }), ids, damage);
      await assert.rejects(reopened.readChunk({ id: ids[0]! }), { code: "chunk-missing" });
      const report = await reopened.check();
      assert.equal(report.ok, false);
      assert.equal(report.damagedPacks.length, 1);
      assert.equal(report.damagedPacks[0]!.path, path);
      assert.match(
        report.damagedPacks[0]!.reason,
        damage === "index" ? /index does not match its hash/ : /trailer is missing/,
      );
      // Fetched again, the same chunks make the same pack, which replaces the damaged file.
      await reopened.writeVerifiedChunks({ chunks: batch });
      assert.deepEqual(await reopened.readChunk({ id: ids[5]! }), batch[5]!.bytes);
      assert.equal(packs(dataDir).length, 1);
      assert.equal((await reopened.check({ readData: true })).ok, true);
    }
  });

  it("should read a damaged pack again once another process has replaced it", async () => {
    const dataDir = tempDir();
    const writer = await openStore(dataDir);
    const batch = chunks(12, 3);
    await writer.writeVerifiedChunks({ chunks: batch });
    const path = join(packDir(dataDir), packs(dataDir)[0]!);
    const good = readFileSync(path);
    const damaged = Buffer.from(good);
    damaged[damaged.length - 44 - 40 + 33]! ^= 0x01; // an offset in the index
    rmSync(path);
    writeFileSync(path, damaged);
    const reader = await openStore(dataDir);
    const ids = batch.map((c) => c.id);
    assert.deepEqual(await reader.missingChunks({ ids }), ids, "the damaged pack is not used");
    // Another process fetches the chunks again: the same pack, written anew and renamed over.
    const tmp = join(dataDir, "blobs", "tmp", "replacement");
    writeFileSync(tmp, good);
    renameSync(tmp, path);
    assert.deepEqual(await reader.missingChunks({ ids }), [], "the new file is read");
    assert.deepEqual(await reader.readChunk({ id: ids[4]! }), batch[4]!.bytes);
    assert.deepEqual((await reader.check()).damagedPacks, []);
  });

  it("should let gc remove unreferenced packed chunks: a pack is rewritten with its live chunks, an all-dead pack deleted", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    const first = chunks(12, 1);
    const second = chunks(10, 2);
    await store.writeVerifiedChunks({ chunks: first });
    await store.writeVerifiedChunks({ chunks: second });
    // The same chunk also as a file (as a put that raced the fetch would
    // leave it): stored twice, one chunk to gc.
    const twice = first[0]!;
    writeFileSync(
      join(dataDir, "blobs", "chunks", twice.id.slice(0, 2), twice.id.slice(2)),
      twice.bytes,
    );
    assert.equal(packs(dataDir).length, 2);
    assert.equal((await store.stats()).chunks, 22, "a chunk stored twice counts once");

    // A manifest keeps first[1..3]; nothing else is live.
    const kept = first.slice(1, 4);
    const live: Manifest = {
      size: kept.reduce((n, c) => n + c.bytes.length, 0),
      sha256: "0".repeat(64),
      chunker: DEFAULT_CHUNKER,
      chunks: kept.map((c) => ({ id: c.id, length: c.bytes.length })),
    };
    const report = await store.gc({ liveManifests: [live], graceMs: 0 });
    assert.equal(report.removedChunks, 22 - 3);
    assert.equal(report.keptChunks, 3);
    assert.equal(packs(dataDir).length, 1, "the all-dead pack is gone, the other rewritten");
    assert.equal(chunkFileCount(dataDir), 0);
    for (const c of first.slice(1, 4)) {
      assert.deepEqual(await store.readChunk({ id: c.id }), c.bytes);
    }
    for (const c of [first[0]!, first[5]!, second[0]!]) {
      await assert.rejects(store.readChunk({ id: c.id }), { code: "chunk-missing" });
    }
    const reopened = await openStore(dataDir);
    assert.equal((await reopened.stats()).chunks, 3);
  });

  it("should leave no pack and no temp file when the disk fills mid-write, and lose nothing stored", async () => {
    const dataDir = tempDir();
    const before = chunks(9, 3);
    await (await openStore(dataDir)).writeVerifiedChunks({ chunks: before });
    const full: StoreFs = {
      ...fsp,
      open: (async (...args: Parameters<typeof fsp.open>) => {
        const handle = await fsp.open(...args);
        if (!String(args[0]).endsWith(".tmp")) return handle;
        const write = handle.write.bind(handle) as (b: Uint8Array) => Promise<unknown>;
        const fail = async () => {
          await write(new Uint8Array(1000));
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), {
            code: "ENOSPC",
          });
        };
        return Object.assign(handle, { writev: fail, write: fail });
      }) as StoreFs["open"],
    };
    const store = await openStore(dataDir, { fs: full });
    await assert.rejects(
      store.writeVerifiedChunks({ chunks: chunks(30, 4) }),
      (e: Error & { code: string; data: { reason: string } }) => {
        assert.equal(e.code, "blob-write-failed");
        assert.equal(e.data.reason, "ENOSPC");
        assert.match(e.message, /cannot write a pack of 30 chunks .*ENOSPC/);
        return true;
      },
    );
    assert.equal(packs(dataDir).length, 1);
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "tmp")), []);
    for (const c of before) assert.deepEqual(await store.readChunk({ id: c.id }), c.bytes);
  });

  it("should check and pack received chunks on a hashing thread: bad bytes refused, duplicates and stored chunks not written twice", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    const stored = chunks(10, 3);
    await store.writeVerifiedChunks({ chunks: stored });
    assert.equal(packs(dataDir).length, 1);

    // As a receiving node holds them: one buffer per request's answer.
    const received = (list: { id: string; bytes: Uint8Array }[]) => {
      const size = list.reduce((n, c) => n + c.bytes.length, 0);
      const buffer = new Uint8Array(size);
      let at = 0;
      return list.map((c) => {
        buffer.set(c.bytes, at);
        at += c.bytes.length;
        return { id: c.id, bytes: buffer.subarray(at - c.bytes.length, at) };
      });
    };
    const fresh = chunks(12, 4);
    const forged = { id: fresh[5]!.id, bytes: randomBytes(fresh[5]!.bytes.length) };
    const { results } = await store.writeReceivedChunks({
      chunks: received([...fresh.slice(0, 5), forged, ...fresh.slice(5), fresh[0]!, stored[2]!]),
    });
    assert.equal(results.length, 15);
    assert.deepEqual(results.slice(0, 5), Array(5).fill(true));
    assert.ok(results[5] instanceof Error, "the forged copy is refused");
    assert.match((results[5] as Error).message, new RegExp(`refusing chunk ${forged.id}`));
    assert.equal(results[6], true, "the honest copy after it is written");
    assert.deepEqual(results.slice(7, 13), Array(6).fill(true));
    assert.equal(results[13], false, "a duplicate in the batch is written once");
    assert.equal(results[14], false, "a chunk already stored is not written again");
    assert.equal(packs(dataDir).length, 2, "the received chunks went into one new pack");
    const reopened = await openStore(dataDir);
    for (const c of fresh) assert.deepEqual(await reopened.readChunk({ id: c.id }), c.bytes);
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "tmp")), [], "no temp file left");

    // Batches that arrive while a pack is being written share the next pack.
    const batches = [chunks(9, 5), chunks(9, 6), chunks(9, 7)];
    const all = await Promise.all(
      batches.map((b) => store.writeReceivedChunks({ chunks: received(b) })),
    );
    assert.deepEqual(
      all.map((a) => a.results),
      [Array(9).fill(true), Array(9).fill(true), Array(9).fill(true)],
    );
    assert.equal(
      packs(dataDir).length,
      4,
      "three batches, two packs: the first, then the two that waited",
    );
    for (const c of batches.flat()) {
      assert.deepEqual(await store.readChunk({ id: c.id }), Buffer.from(c.bytes));
    }
  });

  it("should name the missing chunks in order among packed ones, chunk files in a folder asked for many or few, and empty folders", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    const packed = chunks(10, 3);
    await store.writeVerifiedChunks({ chunks: packed });
    // Batches under 8 chunks are stored as a file each.
    const many = chunksIn("ab", 24);
    const few = chunksIn("cd", 5);
    for (const batch of [
      many.slice(0, 6),
      many.slice(6, 12),
      many.slice(12, 18),
      few.slice(0, 3),
    ]) {
      await store.writeVerifiedChunks({ chunks: batch });
    }
    assert.equal(chunkFileCount(dataDir), 21);
    const nowhere = [...chunksIn("ef", 17), ...chunksIn("f0", 2)];
    const ids = [
      ...packed.map((c) => c.id),
      ...many.map((c) => c.id), // 18 stored, 6 not: the folder is listed
      ...few.map((c) => c.id), // 3 stored, 2 not: a small folder, listed too
      ...nowhere.map((c) => c.id), // empty folders, one asked for many, one for few
      many[20]!.id, // asked twice, named once
    ];
    // By chunk, not by prefix: a packed chunk's id may start with "ef" too.
    const absent = new Set([...many.slice(18), ...few.slice(3), ...nowhere].map((c) => c.id));
    const expected = ids.slice(0, -1).filter((id) => absent.has(id));
    assert.equal(expected.length, 27);
    assert.deepEqual(await store.missingChunks({ ids }), expected);
  });

  it("should remember a fan-out folder found empty only until its mtime moves, and not one modified just now", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    const folder = (prefix: string) => join(dataDir, "blobs", "chunks", prefix);
    const [settled] = chunksIn("a1", 1);
    const [racy] = chunksIn("b2", 1);
    // Found empty, modified an hour ago: remembered.
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(folder("a1"), anHourAgo, anHourAgo);
    // Found empty, modified a moment ago: the next change could keep its mtime.
    const aMomentAgo = new Date(Date.now() - 100);
    utimesSync(folder("b2"), aMomentAgo, aMomentAgo);
    const both = [settled!.id, racy!.id];
    assert.deepEqual(await store.missingChunks({ ids: both }), both);

    // A chunk file arrives in each (another process's put): the folder's mtime moves.
    await store.writeVerifiedChunks({ chunks: [settled!] });
    await store.writeVerifiedChunks({ chunks: [racy!] });
    assert.equal(chunkFileCount(dataDir), 2);
    assert.deepEqual(await store.missingChunks({ ids: both }), []);

    // Within the mtime's granularity a change may leave it as it was: the
    // racy folder was not remembered, so its chunk is still found.
    rmSync(join(folder("a1"), settled!.id.slice(2)));
    utimesSync(folder("b2"), aMomentAgo, aMomentAgo);
    assert.deepEqual(await store.missingChunks({ ids: both }), [settled!.id]);

    // Whereas a folder remembered as empty is not listed again: the same
    // change, with its mtime an hour old, goes unseen (what the racy rule is for).
    utimesSync(folder("a1"), anHourAgo, anHourAgo);
    assert.deepEqual(await store.missingChunks({ ids: both }), [settled!.id]);
    await store.writeVerifiedChunks({ chunks: [settled!] });
    utimesSync(folder("a1"), anHourAgo, anHourAgo);
    assert.deepEqual(await store.missingChunks({ ids: both }), [settled!.id]);
  });

  it("should read a packed chunk synchronously into the place it is given, and leave others to readChunk", async () => {
    const store = await openStore(tempDir());
    const packed = chunks(9, 11);
    await store.writeVerifiedChunks({ chunks: packed });
    const [single] = chunks(1, 12);
    await store.writeVerifiedChunks({ chunks: [single!] });
    const target = new Uint8Array(64 * 1024);
    let asked = 0;
    const place = (length: number) => {
      asked++;
      return target.subarray(100, 100 + length);
    };
    const got = store.readPackedChunk({ id: packed[4]!.id, place });
    assert.equal(got?.buffer, target.buffer, "read into the place given");
    assert.deepEqual(Buffer.from(got!), Buffer.from(packed[4]!.bytes));
    assert.equal(store.readPackedChunk({ id: single!.id, place }), undefined, "a chunk file");
    assert.equal(store.readPackedChunk({ id: sha(randomBytes(8)), place }), undefined, "unknown");
    assert.equal(asked, 1, "no place taken for a chunk it does not read");
    assert.deepEqual(await store.readChunk({ id: single!.id }), single!.bytes);
  });

  it("should move received buffers to the hashing thread and back, and store what they hold", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    // As a receiving node holds them: one plain buffer per request's answer.
    const fresh = chunks(12, 9);
    const forged = { id: fresh[3]!.id, bytes: randomBytes(fresh[3]!.bytes.length) };
    const list = [...fresh.slice(0, 3), forged, ...fresh.slice(3)];
    const buffer = new Uint8Array(list.reduce((n, c) => n + c.bytes.length, 0) + 100);
    let at = 100;
    const received = list.map((c) => {
      buffer.set(c.bytes, at);
      at += c.bytes.length;
      return { id: c.id, bytes: buffer.subarray(at - c.bytes.length, at) };
    });
    const copy = Buffer.from(buffer);
    const { results, returned } = await store.writeReceivedChunks({ chunks: received });
    assert.equal(buffer.length, 0, "the given buffer moved away (detached here)");
    assert.ok(results[3] instanceof Error, "the forged copy is refused");
    assert.match((results[3] as Error).message, new RegExp(`refusing chunk ${forged.id}`));
    assert.deepEqual(results.slice(0, 3), Array(3).fill(true));
    assert.deepEqual(results.slice(4), Array(9).fill(true));
    const back = returned.get(buffer.buffer);
    assert.ok(back && back !== buffer.buffer, "a buffer came back in its place");
    assert.deepEqual(Buffer.from(back), copy, "with the bytes it held");
    for (const c of fresh) assert.deepEqual(await store.readChunk({ id: c.id }), c.bytes);

    // Small Buffers share Node's pool, which cannot move: copied over instead, and kept here.
    const pooled = chunksIn("aa", 9).map((c) => ({ id: c.id, bytes: Buffer.from(c.bytes) }));
    assert.equal(pooled[0]!.bytes.buffer.byteLength > pooled[0]!.bytes.length, true, "pooled");
    const cloned = await store.writeReceivedChunks({ chunks: pooled });
    assert.deepEqual(cloned.results, Array(9).fill(true));
    assert.equal(pooled[0]!.bytes.length, 64, "the pool was not detached");
    for (const c of pooled) assert.deepEqual(await store.readChunk({ id: c.id }), c.bytes);

    // Too few chunks for a pack: written on this thread, nothing moves.
    const few = chunks(2, 10).map((c) => ({ id: c.id, bytes: Uint8Array.from(c.bytes) }));
    const kept = await store.writeReceivedChunks({ chunks: few });
    assert.deepEqual(kept.results, [true, true]);
    assert.equal(kept.returned.get(few[0]!.bytes.buffer), few[0]!.bytes.buffer);
    assert.equal(few[0]!.bytes.length > 0, true, "not detached");
  });

  it("should refuse a received batch whose pack cannot be written, leave no temp file, and store the batch once it can", async () => {
    const dataDir = tempDir();
    const store = await openStore(dataDir);
    const batch = chunks(9, 8);
    // As received: in a buffer of its own, which moves to the hashing thread.
    const received = () => batch.map((c) => ({ id: c.id, bytes: Uint8Array.from(c.bytes) }));
    // The pack folder is gone: the thread writes the temp pack, the rename fails.
    const aside = join(dataDir, "aside");
    renameSync(packDir(dataDir), aside);
    await assert.rejects(store.writeReceivedChunks({ chunks: received() }), (error: Error) => {
      assert.equal((error as { code?: string }).code, "blob-write-failed");
      assert.match(error.message, /cannot write a pack of 9 received chunks .*ENOENT/);
      return true;
    });
    assert.deepEqual(readdirSync(join(dataDir, "blobs", "tmp")), [], "the temp pack is removed");
    renameSync(aside, packDir(dataDir));
    assert.equal((await store.missingChunks({ ids: batch.map((c) => c.id) })).length, 9);
    assert.deepEqual(
      (await store.writeReceivedChunks({ chunks: received() })).results,
      Array(9).fill(true),
    );
    assert.deepEqual(await store.missingChunks({ ids: batch.map((c) => c.id) }), []);
  });
});
