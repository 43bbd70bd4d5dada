import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeCluster, waitFor } from "./cluster.ts";

describe("a LAN without bootstrap peers", { timeout: 300_000 }, () => {
  it("should find the other members by mDNS and sync with them", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "bob", roles: ["device"] },
    ]);
    t.after(cleanup);
    const alice = nodes.get("alice")!;
    const bob = nodes.get("bob")!;
    // Bob joins once through his bootstrap peer, as a new device would.
    for (const n of [alice, bob]) n.start();
    await Promise.all([alice.ready(), bob.ready()]);
    const joined = await alice.main();
    await waitFor("bob to join", async () => (await bob.main()) === joined);
    await Promise.all([alice.stop(), bob.stop()]);

    // Then the makerspace's LAN: no bootstrap peers, no internet, mDNS only.
    for (const n of [alice, bob]) n.configure({ bootstrap: [], mdns: true });
    for (const n of [alice, bob]) n.start();
    await Promise.all([alice.ready(), bob.ready()]);
    const block = await bob.write({ "logs/bob/lan.log": "badge 9 in\n" }, "bob on the LAN");
    await waitFor(
      "alice to get bob's block over the LAN",
      async () => (await alice.main()) === block,
    );
    const found = [alice, bob].filter((n) => /discovery found (alice|bob); dialing/.test(n.output));
    assert.ok(found.length > 0, `a node logged an mDNS discovery:\n${alice.output}\n${bob.output}`);
    assert.ok(
      [alice, bob].every((n) => /discovery mdns on, 0 bootstrap peer\(s\)/.test(n.output)),
      "both ran with mDNS on and no bootstrap peers",
    );
  });
});
