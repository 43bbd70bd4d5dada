import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Ledger, MAIN } from "../../ledger/ledger.ts";
import { mergeTaking } from "../../ledger/resolution.ts";
import type { SshPrivateKey } from "../../ledger/sshkey.ts";
import { Verifier } from "../../ledger/verify.ts";
import { addMember, makeLedger, text } from "../helpers/ledger.ts";

const WG = "refs/heads/wg";

/** A ledger with a branch `wg` off main, and `write(ref, key, path, body)` to diverge them. */
async function diverging() {
  const base = await makeLedger();
  const bob = await addMember(base.ledger, base.alice, "bob", ["device"]);
  const main = await base.ledger.requireHead();
  await base.ledger.repo.updateRef({ ref: WG, oid: main, expected: undefined });
  const write = (ref: string, key: SshPrivateKey, path: string, body: string) =>
    base.ledger.commit({ ref, key, edits: [{ path, content: text(body) }], message: body });
  /** Alice merges wg into main, taking `take`'s side. */
  const settle = async (take: "ours" | "theirs") =>
    mergeTaking(base.ledger, {
      key: base.alice,
      theirs: await base.ledger.requireHead(WG),
      take,
      name: "wg",
    });
  return { ...base, bob, write, settle };
}

async function fileOn(ledger: Ledger, path: string): Promise<string | undefined> {
  const bytes = await ledger.readFile(path);
  return bytes && new TextDecoder().decode(bytes);
}

describe("settling a merge conflict for one side", () => {
  it("should take their version, merge, and land the blocks together", async () => {
    const { ledger, alice, write, settle } = await diverging();
    await write(MAIN, alice, "logs/alice/door.log", "ours\n");
    const theirs = await write(WG, alice, "logs/alice/door.log", "theirs\n");
    await write(WG, alice, "logs/alice/other.log", "more\n");
    const wgHead = await ledger.requireHead(WG);
    const before = await ledger.requireHead();
    const settled = await settle("theirs");
    assert.deepEqual(settled.paths, ["logs/alice/door.log"]);
    assert.equal(settled.blocks.length, 2);
    assert.equal(await ledger.requireHead(), settled.head);
    assert.equal(await fileOn(ledger, "logs/alice/door.log"), "theirs\n");
    assert.equal(await fileOn(ledger, "logs/alice/other.log"), "more\n");
    // A verifier that trusts nothing accepts it; wg's blocks are part of main.
    const fresh = new Verifier({ objects: ledger.repo });
    const head = await fresh.verify(settled.head);
    assert.deepEqual(head.parents.slice(1), [wgHead]);
    const ancestors = fresh.ancestors(settled.head);
    for (const oid of [before, theirs, wgHead]) assert.ok(ancestors.has(oid));
  });

  it("should keep main's version when asked, with wg merged all the same", async () => {
    const { ledger, alice, write, settle } = await diverging();
    // Both start from a main that holds gone.log.
    const base = await write(MAIN, alice, "logs/alice/gone.log", "base\n");
    await ledger.repo.updateRef({ ref: WG, oid: base, expected: await ledger.requireHead(WG) });
    await write(MAIN, alice, "logs/alice/door.log", "ours\n");
    await write(MAIN, alice, "logs/alice/gone.log", "edited\n");
    await write(WG, alice, "logs/alice/door.log", "theirs\n");
    // Their side deleted the file ours edited: a conflict too.
    await ledger.commit({
      ref: "wg",
      key: alice,
      edits: [{ path: "logs/alice/gone.log", content: null }],
      message: "rm",
    });
    await write(WG, alice, "logs/alice/x.log", "x\n");
    const wgHead = await ledger.requireHead(WG);
    const settled = await settle("ours");
    assert.deepEqual(settled.paths.toSorted(), ["logs/alice/door.log", "logs/alice/gone.log"]);
    assert.equal(settled.blocks.length, 3);
    assert.equal(await fileOn(ledger, "logs/alice/door.log"), "ours\n");
    assert.equal(await fileOn(ledger, "logs/alice/gone.log"), "edited\n");
    assert.equal(await fileOn(ledger, "logs/alice/x.log"), "x\n");
    const fresh = new Verifier({ objects: ledger.repo });
    await fresh.verify(settled.head);
    assert.ok(fresh.ancestors(settled.head).has(wgHead));
  });

  it("should leave main as it was when a block of the settlement breaks policy", async () => {
    const { ledger, bob, write, settle } = await diverging();
    // Bob's door wrote its log differently on both sides; only bob may write it.
    await write(MAIN, bob, "logs/bob/door.log", "ours\n");
    await write(WG, bob, "logs/bob/door.log", "theirs\n");
    const before = await ledger.requireHead();
    await assert.rejects(settle("theirs"), { code: "policy-violation" });
    assert.equal(await ledger.requireHead(), before);
  });

  it("should refuse a file on one side that is a folder on the other, naming it", async () => {
    const { ledger, alice, write, settle } = await diverging();
    await write(MAIN, alice, "logs/alice/door", "a file\n");
    await write(WG, alice, "logs/alice/door/1.log", "a folder's file\n");
    const before = await ledger.requireHead();
    await assert.rejects(
      settle("theirs"),
      (error: Error & { code?: string }) =>
        error.code === "folder-clash" && /logs\/alice\/door/.test(error.message),
    );
    assert.equal(await ledger.requireHead(), before);
  });
});
