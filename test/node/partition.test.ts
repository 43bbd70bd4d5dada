import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeCluster, sameMain, type TestNode, waitFor } from "./cluster.ts";

describe("a partitioned node", { timeout: 300_000 }, () => {
  it("should keep every block written on both sides of a kill -9 and converge after restart", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "bob", roles: ["device"] },
      { name: "door", roles: ["device"] },
    ]);
    t.after(cleanup);
    const all = [...nodes.values()];
    const [alice, bob, door] = all as [TestNode, TestNode, TestNode];
    for (const n of all) n.start();
    await Promise.all(all.map((n) => n.ready()));
    await waitFor("the door to join", () => sameMain(all));

    // The door loses power mid-flight; it keeps logging badge swipes while
    // cut off (its own CLI writes into its data folder), and so does the rest.
    await door.kill9();
    const doorBlocks: string[] = [];
    for (let i = 1; i <= 5; i++)
      doorBlocks.push(door.writeOffline("logs/door/swipes.log", `swipe ${i}\n`, `swipe ${i}`));
    doorBlocks.push(door.writeOffline("logs/door/2026-11-25.log", "badge 9 out\n", "badge 9"));
    const otherBlocks: string[] = [];
    for (let i = 1; i <= 3; i++) {
      otherBlocks.push(await alice.write({ [`logs/alice/a${i}.log`]: `a${i}\n` }, `alice ${i}`));
      otherBlocks.push(await bob.write({ "logs/bob/b.log": `b${i}\n` }, `bob ${i}`));
    }
    await waitFor("alice and bob to agree while the door is down", () => sameMain([alice, bob]));

    door.start();
    await door.ready();
    const head = await waitFor(
      "all three to converge after the door comes back",
      async () => {
        const main = await sameMain(all);
        if (!main) return undefined;
        const history = await alice.history();
        return [...doorBlocks, ...otherBlocks].every((b) => history.has(b)) ? main : undefined;
      },
      { timeoutMs: 150_000 },
    );
    for (const n of all) {
      const history = await n.history();
      for (const b of [...doorBlocks, ...otherBlocks])
        assert.ok(history.has(b), `${n.name} keeps block ${b}`);
      const merges = [...history.values()].filter((c) => c.parents.length === 2).length;
      const plain = history.size - merges;
      // genesis + 2 member additions + 6 door blocks + 6 alice/bob blocks
      assert.equal(plain, 3 + doorBlocks.length + otherBlocks.length, `${n.name}'s block count`);
      assert.equal(await n.main(), head);
      assert.equal(await n.readFile("logs/door/swipes.log"), "swipe 5\n");
      assert.equal(await n.readFile("logs/door/2026-11-25.log"), "badge 9 out\n");
      assert.equal(await n.readFile("logs/alice/a3.log"), "a3\n");
      assert.equal(await n.readFile("logs/bob/b.log"), "b3\n");
    }
  });
});
