import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeCluster, sameMain, type TestNode, waitFor } from "./cluster.ts";

describe("three nodes on loopback", { timeout: 300_000 }, () => {
  it("should join, then converge on the same main after blocks are written on each node", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "door-1", roles: ["device"] },
      { name: "door-2", roles: ["device"] },
    ]);
    const all = [...nodes.values()];
    t.after(cleanup);
    const [alice, door1, door2] = all as [TestNode, TestNode, TestNode];
    for (const n of all) n.start();
    await Promise.all(all.map((n) => n.ready()));
    // The two doors start without a ledger and join it from alice.
    const start = await waitFor("all three nodes to hold the same main", () => sameMain(all));
    assert.equal(start, await alice.main());

    const written = await Promise.all([
      alice.write({ "logs/alice/notes.log": "door policy agreed\n" }, "alice notes"),
      door1.write({ "logs/door-1/2026-11-25.log": "badge 17 in\n" }, "door-1 log"),
      door2.write({ "logs/door-2/2026-11-25.log": "badge 4 in\n" }, "door-2 log"),
    ]);
    const head = await waitFor(
      "the three writes to converge",
      async () => {
        const main = await sameMain(all);
        if (!main) return undefined;
        const history = await alice.history();
        return written.every((b) => history.has(b)) ? main : undefined;
      },
      { timeoutMs: 120_000 },
    );
    for (const n of all) {
      assert.equal(await n.main(), head, `${n.name} on the common head`);
      assert.equal(await n.readFile("logs/door-1/2026-11-25.log"), "badge 17 in\n");
      assert.equal(await n.readFile("logs/door-2/2026-11-25.log"), "badge 4 in\n");
      assert.equal(await n.readFile("logs/alice/notes.log"), "door policy agreed\n");
    }
    const status = await door2.status();
    assert.equal(status.ledger?.main, head);
    assert.ok(status.peers.filter((p) => p.connected).length >= 1, "door-2 has peers");
  });
});
