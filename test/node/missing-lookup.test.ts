import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MissingLookup, type WantedChunk } from "../../node/missing-lookup.ts";

const wanted = (n: number): WantedChunk[] =>
  Array.from({ length: n }, (_, k) => ({ id: `c${k}`, length: 100 + k }));
const bytesOf = (chunks: WantedChunk[]) => chunks.reduce((sum, c) => sum + c.length, 0);

describe("missing lookup", () => {
  it("should hand over the first slice's missing chunks before the rest are looked up, in order, and count what is left to ask for", async () => {
    const all = wanted(10);
    // Every third chunk is already stored.
    const stored = new Set(all.filter((_, k) => k % 3 === 0).map((c) => c.id));
    const asked: string[][] = [];
    const slices: (() => void)[] = [];
    const found: string[] = [];
    const lookup = new MissingLookup({
      wanted: all,
      firstSlice: 4,
      slice: 3,
      // Each slice answers only when the test lets it.
      missing: (ids) => {
        asked.push(ids);
        return new Promise((resolve) =>
          slices.push(() => resolve(ids.filter((id) => !stored.has(id)))),
        );
      },
      found: (c) => found.push(c.id),
    });
    // Not looked up yet: everything counts as to be asked for.
    assert.equal(lookup.unrequestedBytes, bytesOf(all));
    const first = lookup.next();
    await Promise.resolve();
    assert.deepEqual(asked, [["c0", "c1", "c2", "c3"]]);
    slices.shift()!();
    await first;
    assert.deepEqual(found, ["c1", "c2"]);
    assert.equal(lookup.finished, false);
    // The stored ones of the first slice are no longer counted.
    assert.equal(lookup.unrequestedBytes, bytesOf(all) - 100 - 103);

    for (const expected of [
      ["c4", "c5", "c6"],
      ["c7", "c8", "c9"],
    ]) {
      const next = lookup.next();
      await Promise.resolve();
      assert.deepEqual(asked.at(-1), expected);
      slices.shift()!();
      await next;
    }
    await lookup.done;
    assert.equal(lookup.finished, true);
    assert.deepEqual(found, ["c1", "c2", "c4", "c5", "c7", "c8"]);
    assert.equal(lookup.foundCount, 6);
    assert.equal(lookup.unrequestedBytes, bytesOf(all.filter((c) => !stored.has(c.id))));
    // Once finished, next() does not wait.
    await lookup.next();
  });

  it("should look up the next slice only once the chunks found and not taken fall below the low-water mark, or someone waits", async () => {
    const all = wanted(9);
    const asked: string[][] = [];
    const lookup = new MissingLookup({
      wanted: all,
      firstSlice: 3,
      slice: 2,
      // Chunk lengths are 100-108: two chunks in hand keep the lookup waiting.
      lowWaterBytes: 150,
      missing: async (ids) => {
        asked.push(ids);
        return ids;
      },
      found: () => {},
    });
    await lookup.next();
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    await settle();
    assert.deepEqual(asked, [["c0", "c1", "c2"]]);
    assert.equal(lookup.unlookedChunks, 6);
    // One chunk taken: two (201 bytes) still in hand, above the mark.
    lookup.taken(100);
    await settle();
    assert.equal(asked.length, 1);
    // Below it: the next slice is looked up, and only that one.
    lookup.taken(101);
    await settle();
    assert.deepEqual(asked.at(-1), ["c3", "c4"]);
    assert.equal(asked.length, 2);
    // A chunk given back counts as in hand again: still nothing more.
    lookup.returned(101);
    await settle();
    assert.equal(asked.length, 2);
    // A waiter asks for the next slice whatever is in hand.
    await lookup.next();
    assert.deepEqual(asked.at(-1), ["c5", "c6"]);
    assert.equal(lookup.finished, false);
    // The fetch is done asking: the rest is looked up without demand.
    await lookup.lookUpRest();
    assert.deepEqual(asked.at(-1), ["c7", "c8"]);
    assert.equal(lookup.finished, true);
    assert.equal(lookup.unlookedChunks, 0);
    assert.equal(lookup.foundCount, 9);
  });

  it("should finish at once for nothing wanted", async () => {
    let calls = 0;
    const lookup = new MissingLookup({
      wanted: [],
      missing: async () => {
        calls++;
        return [];
      },
      found: () => assert.fail("nothing to find"),
    });
    await lookup.next();
    await lookup.done;
    assert.equal(lookup.finished, true);
    assert.equal(calls, 0);
    assert.equal(lookup.unrequestedBytes, 0);
  });

  it("should wake whoever waits when a slice fails, and reject done with the store's error", async () => {
    const lookup = new MissingLookup({
      wanted: wanted(5),
      firstSlice: 2,
      slice: 2,
      missing: async (ids) => {
        if (ids.includes("c2")) throw new Error("EIO reading the chunk folder");
        return ids;
      },
      found: () => {},
    });
    await lookup.next();
    assert.equal(lookup.foundCount, 2);
    // The failing slice wakes the waiter rather than leaving it hanging.
    await lookup.next();
    assert.equal(lookup.finished, true);
    await assert.rejects(lookup.done, /EIO reading the chunk folder/);
  });
});
