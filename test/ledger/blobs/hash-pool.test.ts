import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { HashPool } from "../../../ledger/blobs/hash-pool.ts";

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** `size` bytes of a pattern, on a SharedArrayBuffer as the pool requires. */
function shared(size: number, seed: number): Uint8Array {
  const view = new Uint8Array(new SharedArrayBuffer(size));
  for (let i = 0; i < size; i++) view[i] = (i * 31 + seed) & 0xff;
  return view;
}

describe("hash pool", () => {
  it("should stop its threads once unused, and start them again when asked", async () => {
    const pool = new HashPool({ idleMs: 150 });
    try {
      assert.equal(pool.running, false, "nothing starts before the first request");
      const data = shared(3000, 1);
      const lengths = [1000, 2000];
      const expected = [sha(data.subarray(0, 1000)), sha(data.subarray(1000))];
      assert.deepEqual((await pool.chunkIds(data, lengths)).ids, expected);
      assert.equal(pool.running, true);
      await sleep(500);
      assert.equal(pool.running, false, "stopped after the idle time");
      assert.deepEqual((await pool.chunkIds(data, lengths)).ids, expected, "and works again");
    } finally {
      await pool.close();
    }
  });

  it("should keep a blob hash's thread while the hash is open, however long it pauses", async () => {
    const pool = new HashPool({ idleMs: 100 });
    try {
      const first = shared(4096, 2);
      const second = shared(4096, 3);
      const hasher = pool.blobHasher();
      await hasher.update(first);
      await sleep(400);
      assert.equal(pool.running, true, "an open hash holds its state in the thread");
      await hasher.update(second);
      const both = createHash("sha256").update(first).update(second).digest("hex");
      assert.equal(await hasher.digest(), both);
      await sleep(400);
      assert.equal(pool.running, false, "stopped once the hash was done");
    } finally {
      await pool.close();
    }
  });
});
