import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serializeMember } from "../../ledger/charter.ts";
import { Repository } from "../../ledger/repository.ts";
import { makeCluster, sameMain, waitFor } from "./cluster.ts";

describe("membership gates the network", { timeout: 300_000 }, () => {
  it("should refuse a non-member, and disconnect a member when its revocation arrives", async (t) => {
    const { nodes, cleanup } = await makeCluster(
      [
        { name: "alice", roles: ["admin"] },
        { name: "bob", roles: ["device"] },
      ],
      { outsiders: ["mallory"] },
    );
    t.after(cleanup);
    const alice = nodes.get("alice")!;
    const bob = nodes.get("bob")!;
    const mallory = nodes.get("mallory")!;
    for (const n of [alice, bob, mallory]) n.start();
    await Promise.all([alice, bob, mallory].map((n) => n.ready()));
    await waitFor("bob to join", () => sameMain([alice, bob]));
    await waitFor("alice to refuse mallory", async () => {
      const refused = (await alice.status()).gate.refused;
      return (refused["not a member"] ?? 0) > 0;
    });
    const m = await mallory.status();
    assert.equal(m.ledger, undefined, "mallory got no ledger");
    assert.equal(m.peers.filter((p) => p.connected).length, 0, "mallory has no connection");
    assert.equal(await mallory.main(), undefined);
    const a = await alice.status();
    assert.ok(!a.peers.some((p) => p.id === mallory.peerId && p.connected));

    // Revoking bob: alice's node hangs up on him and refuses him from then on.
    const bobFile = serializeMember({
      name: "bob",
      key: bob.key.publicKey.keyText,
      roles: ["device"],
      added: "2026-11-25",
      revoked: "2026-11-26",
      revokedReason: "lost device",
    });
    await alice.write({ "charter/members/bob.yaml": bobFile }, "Revoke bob");
    await waitFor("alice to drop bob", async () => {
      const s = await alice.status();
      const record = s.peers.find((p) => p.id === bob.peerId);
      return record && !record.connected && (s.gate.refused["revoked member"] ?? 0) > 0;
    });
    assert.match(alice.output, /bob is no longer admitted; disconnecting/);
    // Bob has not seen his revocation (alice no longer syncs with him): his
    // log says alice hangs up on him, in words, never a bare "undefined".
    const dropped = await waitFor(
      "bob to log a failed sync with alice",
      () => /^gdo node: sync {6}alice: (.+)$/m.exec(bob.output) ?? undefined,
    );
    assert.match(dropped[1]!, /^the peer closed the stream( before answering)?$/);
    assert.doesNotMatch(bob.output, /^gdo node: sync {6}\S+: (undefined|Unexpected EOF)/m);
  });

  it("should refuse a forged head from a member peer and keep syncing from an honest one", async (t) => {
    const { nodes, cleanup } = await makeCluster([
      { name: "alice", roles: ["admin"] },
      { name: "liar", roles: ["device"] },
      { name: "bob", roles: ["device"] },
    ]);
    t.after(cleanup);
    const alice = nodes.get("alice")!;
    const liar = nodes.get("liar")!;
    const bob = nodes.get("bob")!;
    liar.misbehave("blocks");
    alice.start();
    liar.start();
    await Promise.all([alice.ready(), liar.ready()]);
    await waitFor("the liar to join", () => sameMain([alice, liar]));
    bob.start();
    await bob.ready();
    const written = await alice.write({ "logs/alice/x.log": "x\n" }, "alice x");
    await waitFor("bob to get alice's block", async () => (await bob.main()) === written);
    const refusal = await waitFor("bob to refuse the liar's head", async () => {
      const s = await bob.status();
      const record = s.peers.find((p) => p.id === liar.peerId);
      return record && record.refusedHeads > 0 ? record : undefined;
    });
    assert.ok(refusal.score < 0, `the liar's score dropped (${refusal.score})`);
    // (While bob is still joining, the liar is named by its peer id.)
    assert.match(bob.output, /refused {3}\S+'s main head [0-9a-f]{12} \[bad-signature\]/);
    // Nothing of the forged block reached bob's repository or refs.
    const forged = /refused {3}\S+'s main head ([0-9a-f]{12})/.exec(bob.output)![1]!;
    const repo = await Repository.open({ gitdir: bob.gitdir });
    for (const [ref, oid] of await repo.listRefs("refs/"))
      assert.ok(!oid.startsWith(forged), `${ref} does not name the forged block`);
    assert.equal(await bob.main(), await alice.main());
  });
});
