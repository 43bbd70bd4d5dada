import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout } from "node:timers/promises";
import { Quarantine } from "../../ledger/quarantine.ts";
import { type GitObject, Repository } from "../../ledger/repository.ts";
import { TreeReader } from "../../ledger/tree-reader.ts";
import { scratch, text } from "../helpers/ledger.ts";

describe("tree reader", () => {
  it("should read stored trees through its base's cache and keep staged ones apart", async () => {
    const repo = await Repository.init({ gitdir: `${scratch()}/t.git`, durable: false });
    const blob = await repo.writeBlob(text("x\n"));
    const stored = await repo.writeTree([{ mode: "100644", name: "a.log", oid: blob }]);
    const base = new TreeReader(repo);
    const staged = new Quarantine({ base: repo });
    const fresh = await staged.writeTree([
      { mode: "100644", name: "b.log", oid: blob },
      { mode: "40000", name: "logs", oid: stored },
    ]);
    const reader = base.staging(staged);
    assert.deepEqual(
      (await reader.listFiles(fresh)).map((f) => f.path),
      ["b.log", "logs/a.log"],
    );
    // The stored folder went through the base (and stays in its cache); the
    // staged tree did not: were its block refused, the base holds nothing of it.
    assert.equal(base.cachedTrees, 1);
    assert.equal(reader.cachedTrees, 1);
    await assert.rejects(base.readTree(fresh), { code: "missing-object" });
  });

  it("should keep at most its entry budget of parsed trees, the most recently read", async () => {
    const repo = await Repository.init({ gitdir: `${scratch()}/t.git`, durable: false });
    const blob = await repo.writeBlob(text("x\n"));
    // Five folders of 10 files each, as a ledger's log folders.
    const trees: string[] = [];
    for (let t = 0; t < 5; t++) {
      const entries = Array.from({ length: 10 }, (_, k) => ({
        mode: "100644" as const,
        name: `${t}-${k}.log`,
        oid: blob,
      }));
      trees.push(await repo.writeTree(entries));
    }
    const reads: string[] = [];
    const counting = {
      readObject: (oid: string): Promise<GitObject> => {
        reads.push(oid);
        return repo.readObject(oid);
      },
      hasObject: (oid: string) => repo.hasObject(oid),
    };
    const reader = new TreeReader(counting, { maxEntries: 25 });
    for (const oid of trees.slice(0, 2)) await reader.readTree(oid);
    await reader.readTree(trees[0]!); // trees[0] is now the most recently used
    for (const oid of trees.slice(2)) await reader.readTree(oid);
    reads.length = 0;
    assert.equal((await reader.readTree(trees[4]!)).length, 10);
    assert.equal((await reader.readTree(trees[3]!)).length, 10);
    assert.deepEqual(reads, [], "the two most recent trees (20 entries) are held");
    await reader.readTree(trees[0]!);
    await reader.readTree(trees[1]!);
    assert.deepEqual(
      reads,
      [trees[0], trees[1]],
      "older ones were let go to stay within 25 entries",
    );
  });

  it("should empty its cache once unused for its idle time, and read trees again after", async () => {
    const repo = await Repository.init({ gitdir: `${scratch()}/t.git`, durable: false });
    const blob = await repo.writeBlob(text("x\n"));
    const tree = await repo.writeTree([{ mode: "100644", name: "a.log", oid: blob }]);
    const reader = new TreeReader(repo, { idleMs: 20 });
    await reader.readTree(tree);
    assert.equal(reader.cachedTrees, 1);
    await setTimeout(200);
    assert.equal(reader.cachedTrees, 0, "an idle reader holds no parsed trees");
    assert.deepEqual(await reader.readTree(tree), [{ mode: "100644", name: "a.log", oid: blob }]);
    assert.equal(reader.cachedTrees, 1);
  });
});
