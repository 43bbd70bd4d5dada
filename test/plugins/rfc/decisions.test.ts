import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ledger } from "../../../ledger/ledger.ts";
import { listDecisions, statusOf } from "../../../plugins/rfc/decisions.ts";
import { verifySshsig } from "../../../site/client/sshsig.ts";
import { makeSiteLedger } from "../../site/fixture.ts";

describe("RFC decisions", () => {
  it("should list every added RFC and status change on main with its signer and proof", async () => {
    const { gitdir } = await makeSiteLedger();
    const ledger = await Ledger.open({ gitdir });
    const decisions = await listDecisions({ ledger, ref: "main" });
    assert.equal(decisions.filter((d) => d.from === undefined).length, 12);
    const rfc1 = decisions.filter((d) => d.rfc === 1);
    assert.deepEqual(
      rfc1.map((d) => `${d.from ?? "-"}>${d.to} by ${d.signer}`),
      [
        "->draft by alice",
        "draft>proposed by alice",
        "proposed>last-call by bob",
        "last-call>accepted by bob",
      ],
    );
    for (const d of rfc1) {
      assert.equal(d.path, "rfcs/0001-archive-basics.md");
      assert.match(d.key, /^ssh-ed25519 /);
      const verdict = await verifySshsig({
        payload: new TextEncoder().encode(d.payload),
        armored: d.signature,
        keyLine: d.key,
      });
      assert.deepEqual(verdict, { ok: true }, `${d.block}`);
    }
    assert.deepEqual(
      rfc1.map((d) => d.approvals.map((a) => a.signer).join("+")),
      ["", "bob+carol", "alice+carol", "alice+carol"],
    );
    for (const a of rfc1.flatMap((d) => d.approvals)) {
      const verdict = await verifySshsig({
        payload: new TextEncoder().encode(a.payload),
        armored: a.signature,
        keyLine: a.key,
        namespace: "gdo-approval",
      });
      assert.deepEqual(verdict, { ok: true });
    }
    // Decisions on unmerged proposal branches are not on main.
    assert.ok(!decisions.some((d) => d.rfc === 7 && d.to === "proposed"));
    const branch = [...(await ledger.repo.listRefs("refs/heads/proposals/")).keys()].find((r) =>
      r.includes("rfc-7-"),
    )!;
    const onBranch = await listDecisions({ ledger, ref: branch });
    assert.ok(onBranch.some((d) => d.rfc === 7 && d.from === "draft" && d.to === "proposed"));
  });

  it("should read status and number leniently from a front matter", () => {
    assert.deepEqual(statusOf("---\nrfc: 4\nstatus: last-call\n---\nbody"), {
      rfc: 4,
      status: "last-call",
    });
    assert.deepEqual(statusOf("---\nstatus: nonsense\n---\n"), {});
    assert.deepEqual(statusOf("no front matter"), {});
  });
});
