import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { approvalTrailer, signApproval } from "../../ledger/approval.ts";
import { Ledger, MAIN } from "../../ledger/ledger.ts";
import {
  listProposals,
  mergeProposal,
  proposalStatus,
  propose,
  review,
} from "../../ledger/proposal.ts";
import type { SshPrivateKey } from "../../ledger/sshkey.ts";
import { Verifier } from "../../ledger/verify.ts";
import { pluginValidator } from "../../plugins/validator.ts";
import { addMember, makeLedger, memberYaml, rfcText, text } from "../helpers/ledger.ts";

const { validate, host } = await pluginValidator();
after(() => host.close());

/** A ledger with the RFC plugin's validator and three editors: alice (founder), bob, carol. */
async function org() {
  const base = await makeLedger();
  const ledger = await Ledger.open({ gitdir: base.gitdir, durable: false, validate });
  const bob = await addMember(ledger, base.alice, "bob", ["editor"]);
  const carol = await addMember(ledger, base.alice, "carol", ["editor"]);
  const dave = await addMember(ledger, base.alice, "dave", []);
  return { ...base, ledger, bob, carol, dave };
}

/** The repository's loose objects (nothing packs them within a test this small). */
function looseObjects(ledger: Ledger): string[] {
  const objects = join(ledger.repo.gitdir, "objects");
  return readdirSync(objects)
    .filter((d) => /^[0-9a-f]{2}$/.test(d))
    .flatMap((d) => readdirSync(join(objects, d)).map((f) => d + f))
    .sort();
}

/** Dave drafts RFC 2 on main, then proposes its status change (which needs two editors). */
async function proposeDoors(ledger: Ledger, dave: SshPrivateKey) {
  await ledger.commit({
    key: dave,
    edits: [{ path: "rfcs/0002-doors.md", content: text(rfcText(2, "Doors")) }],
    message: "Draft RFC 2",
  });
  return propose(ledger, {
    key: dave,
    edits: [{ path: "rfcs/0002-doors.md", content: text(rfcText(2, "Doors", "proposed")) }],
    message: "Propose RFC 2",
  });
}

async function fresh(ledger: Ledger) {
  return new Verifier({ objects: ledger.repo, validate });
}

describe("proposals and proof of merge", () => {
  it("should land a draft directly, but require a proposal and a majority of editors for a status change", async () => {
    const { ledger, bob, dave } = await org();
    await ledger.commit({
      key: dave,
      edits: [{ path: "rfcs/0002-doors.md", content: text(rfcText(2, "Doors")) }],
      message: "Draft RFC 2",
    });
    await assert.rejects(
      ledger.commit({
        key: bob,
        edits: [{ path: "rfcs/0002-doors.md", content: text(rfcText(2, "Doors", "proposed")) }],
        message: "Propose RFC 2",
      }),
      (error: Error & { code?: string }) =>
        error.code === "policy-violation" && /status-change.*needs 2 approval/.test(error.message),
    );
  });

  it("should merge a proposal once enough editors approved its exact head, and record the approvals in the merge", async () => {
    const { ledger, bob, carol, dave, alice } = await org();
    const { proposal, head } = await proposeDoors(ledger, dave);
    let status = await proposalStatus(ledger, proposal);
    assert.deepEqual(
      status.needs.map((n) => [n.kind, n.role, n.needed, n.have]),
      [["status-change", "editor", 2, 0]],
    );
    await review(ledger, { key: bob, proposal, verdict: "approve", message: "good" });
    await assert.rejects(
      mergeProposal(ledger, { key: alice, proposal }),
      /needs 2 approval\(s\) from role 'editor', has 1/,
    );
    assert.equal(await ledger.head(), (await ledger.verifiedBlock(await ledger.requireHead())).oid);
    await review(ledger, { key: carol, proposal, verdict: "approve", message: "yes" });
    status = await proposalStatus(ledger, proposal);
    assert.deepEqual(status.needs, []);
    const merge = await mergeProposal(ledger, { key: alice, proposal });
    const block = await (await fresh(ledger)).verify(merge);
    assert.deepEqual(block.merged, { proposal, head, approvers: ["bob", "carol"] });
    assert.match(block.commit.message, /Gdo-Approval: approve /);
    assert.match(block.commit.message, /Gdo-Validated: rfc passed/);
    assert.equal((await listProposals(ledger))[0]?.merged, true);
    const text2 = new TextDecoder().decode(await ledger.readFile("rfcs/0002-doors.md"));
    assert.match(text2, /status: proposed/);
  });

  it("should store nothing when it judges a merge, or when the merge is refused", async () => {
    const { ledger, bob, dave, alice } = await org();
    const { proposal } = await proposeDoors(ledger, dave);
    // Main moves on, so the merge's tree is one the repository does not hold.
    await ledger.commit({
      key: bob,
      edits: [{ path: "rfcs/0003-locks.md", content: text(rfcText(3, "Locks")) }],
      message: "Draft RFC 3",
    });
    const stored = looseObjects(ledger);
    const status = await proposalStatus(ledger, proposal);
    assert.equal(status.needs.length, 1);
    await assert.rejects(mergeProposal(ledger, { key: alice, proposal }), /needs 2 approval/);
    assert.deepEqual(looseObjects(ledger), stored);
  });

  it("should not count an approval of an older head for a newer one", async () => {
    const { ledger, bob, carol, dave, alice } = await org();
    const { proposal } = await proposeDoors(ledger, dave);
    await review(ledger, { key: bob, proposal, verdict: "approve", message: "ok" });
    await review(ledger, { key: carol, proposal, verdict: "approve", message: "ok" });
    await propose(ledger, {
      key: dave,
      proposal,
      edits: [
        {
          path: "rfcs/0002-doors.md",
          content: text(rfcText(2, "Doors", "proposed", "category: Access\n")),
        },
      ],
      message: "Revise",
    });
    const status = await proposalStatus(ledger, proposal);
    assert.equal(status.reviews.filter((r) => r.current).length, 0);
    assert.equal(status.needs[0]?.have, 0);
    await assert.rejects(mergeProposal(ledger, { key: alice, proposal }), {
      code: "policy-violation",
    });
  });

  it("should reject a merge that carries an approval replayed from another proposal or claims approvals it lacks", async () => {
    const { ledger, bob, carol, dave, alice, id } = await org();
    await ledger.commit({
      key: dave,
      edits: [
        { path: "rfcs/0002-a.md", content: text(rfcText(2, "A")) },
        { path: "rfcs/0003-b.md", content: text(rfcText(3, "B")) },
      ],
      message: "Drafts",
    });
    const a = await propose(ledger, {
      key: dave,
      edits: [{ path: "rfcs/0002-a.md", content: text(rfcText(2, "A", "proposed")) }],
      message: "Propose A",
    });
    const b = await propose(ledger, {
      key: dave,
      edits: [{ path: "rfcs/0003-b.md", content: text(rfcText(3, "B", "proposed")) }],
      message: "Propose B",
    });
    const approvalsForA = [bob, carol].map((k) =>
      signApproval(k, { ledgerId: id, proposal: a.proposal, head: a.head }, "approve"),
    );
    const main = await ledger.requireHead();
    const mainBlock = await ledger.verifiedBlock(main);
    const { planMerge } = await import("../../ledger/merge.ts");
    const { applyEdits } = await import("../../ledger/tree-builder.ts");
    const bBlock = await ledger.verifiedBlock(b.head);
    const plan = await planMerge({
      reader: ledger.reader,
      bases: [mainBlock.tree],
      ours: mainBlock.tree,
      theirs: bBlock.tree,
    });
    assert.ok(plan.clean);
    const tree = await applyEdits(ledger.repo, ledger.reader, mainBlock.tree, plan.edits);
    const { formatMessage, serializePayload, serializeSignedCommit } = await import(
      "../../ledger/commit.ts"
    );
    const { signSshsig } = await import("../../ledger/sshsig.ts");
    const write = async (approvalLines: [string, string][]) => {
      const who = { name: "alice", email: "a@x", timestamp: 1_790_000_000, timezoneOffset: 0 };
      const fields = {
        tree,
        parents: [main, b.head],
        author: who,
        committer: who,
        message: formatMessage("Merge B", undefined, [
          ["Gdo-Ledger", id],
          ["Gdo-Merge", `${b.proposal} ${b.head}`],
          ...approvalLines,
        ]),
      };
      const signature = signSshsig({
        message: serializePayload(fields),
        key: alice,
        namespace: "git",
      });
      return ledger.repo.writeObject("commit", serializeSignedCommit(fields, signature));
    };
    const replayed = await write(approvalsForA.map((x) => ["Gdo-Approval", approvalTrailer(x)]));
    await assert.rejects((await fresh(ledger)).verify(replayed), { code: "bad-approval" });
    const none = await write([]);
    await assert.rejects(
      (await fresh(ledger)).verify(none),
      (e: Error & { code?: string }) => e.code === "policy-violation" && /has 0/.test(e.message),
    );
    // A proposal block may not be fast-forwarded onto main.
    await assert.rejects(
      ledger.repo.updateRef({ ref: MAIN, oid: b.head, expected: main }).then(async () => {
        const block = await (await fresh(ledger)).verify(b.head);
        const { assertLandable } = await import("../../ledger/verify.ts");
        assertLandable(MAIN, block);
      }),
      { code: "unmerged-proposal" },
    );
  });

  it("should not count an approval by a member revoked at the merge base", async () => {
    const { ledger, bob, carol, dave, alice } = await org();
    await ledger.commit({
      key: dave,
      edits: [{ path: "rfcs/0002-a.md", content: text(rfcText(2, "A")) }],
      message: "Draft",
    });
    const p = await propose(ledger, {
      key: dave,
      edits: [{ path: "rfcs/0002-a.md", content: text(rfcText(2, "A", "proposed")) }],
      message: "Propose",
    });
    await review(ledger, { key: bob, proposal: p.proposal, verdict: "approve", message: "ok" });
    await review(ledger, { key: carol, proposal: p.proposal, verdict: "approve", message: "ok" });
    // Carol is revoked on main before the merge, and the proposal is rebased by merging main into it.
    await ledger.commit({
      key: alice,
      edits: [
        {
          path: "charter/members/carol.yaml",
          content: text(memberYaml("carol", carol, ["editor"], "revoked: 2026-11-26\n")),
        },
      ],
      message: "Revoke carol",
    });
    await assert.rejects(mergeProposal(ledger, { key: alice, proposal: p.proposal }), {
      code: "revoked-approver",
    });
  });

  it("should refuse a proposal block touching a path its author may not write", async () => {
    const { ledger, dave } = await org();
    await assert.rejects(
      propose(ledger, {
        key: dave,
        edits: [{ path: "charter/roles.yaml", content: text("roles:\n  admin: x\n") }],
        message: "grab",
      }),
      (e: Error & { code?: string }) =>
        e.code === "policy-violation" && /may not change 'charter\/roles.yaml'/.test(e.message),
    );
  });

  it("should refuse invalid RFC content with the file and rule named, leaving the ledger unchanged", async () => {
    const { ledger, dave } = await org();
    const before = await ledger.head();
    await assert.rejects(
      ledger.commit({
        key: dave,
        edits: [{ path: "rfcs/0002-x.md", content: text("---\nrfc: two\n---\n") }],
        message: "bad",
      }),
      (e: Error & { code?: string }) =>
        e.code === "validation-failed" && /rfcs\/0002-x.md:\d+/.test(e.message),
    );
    await assert.rejects(
      ledger.commit({
        key: dave,
        edits: [{ path: "rfcs/0002-x.md", content: text("no front matter\n") }],
        message: "bad",
      }),
      /front-matter-missing/,
    );
    await assert.rejects(
      ledger.commit({
        key: dave,
        edits: [{ path: "rfcs/0002-x.md", content: new Uint8Array(50 * 1024 * 1024).fill(0x61) }],
        message: "huge",
      }),
      { code: "validation-failed" },
    );
    assert.equal(await ledger.head(), before);
  });

  it("should merge two diverged branches when they do not conflict and report the file when they do", async () => {
    const { ledger, alice, bob } = await org();
    const { planMerge } = await import("../../ledger/merge.ts");
    const base = await ledger.requireHead();
    await ledger.repo.updateRef({ ref: "refs/heads/wg", oid: base, expected: undefined });
    await ledger.commit({
      key: alice,
      edits: [{ path: "rfcs/0002-a.md", content: text(rfcText(2, "A")) }],
      message: "A on main",
    });
    await ledger.commit({
      key: bob,
      ref: "wg",
      edits: [{ path: "rfcs/0003-b.md", content: text(rfcText(3, "B")) }],
      message: "B on wg",
    });
    const main = await ledger.verifiedBlock(await ledger.requireHead());
    const wg = await ledger.verifiedBlock(await ledger.requireHead("wg"));
    const baseTree = (await ledger.verifiedBlock(base)).tree;
    const plan = await planMerge({
      reader: ledger.reader,
      bases: [baseTree],
      ours: main.tree,
      theirs: wg.tree,
    });
    assert.ok(plan.clean);
    await ledger.commit({
      key: alice,
      mergeWith: [wg.oid],
      edits: plan.edits,
      message: "Merge wg",
    });
    // Both sides give RFC 4 different contents: a conflict, reported by path.
    await ledger.commit({
      key: alice,
      edits: [{ path: "rfcs/0004-c.md", content: text(rfcText(4, "C")) }],
      message: "C main",
    });
    await ledger.commit({
      key: bob,
      ref: "wg",
      edits: [{ path: "rfcs/0004-c.md", content: text(rfcText(4, "C prime")) }],
      message: "C wg",
    });
    const m2 = await ledger.verifiedBlock(await ledger.requireHead());
    const w2 = await ledger.verifiedBlock(await ledger.requireHead("wg"));
    const conflict = await planMerge({
      reader: ledger.reader,
      bases: [baseTree],
      ours: m2.tree,
      theirs: w2.tree,
    });
    assert.equal(conflict.clean, false);
    if (!conflict.clean)
      assert.deepEqual(
        conflict.conflicts.map((c) => c.path),
        ["rfcs/0004-c.md"],
      );
  });
});
