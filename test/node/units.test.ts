import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UnexpectedEOFError } from "@libp2p/utils";
import { planMerge } from "../../ledger/merge.ts";
import { missingHistory, objectsOf } from "../../ledger/object-walk.ts";
import { Quarantine } from "../../ledger/quarantine.ts";
import { Repository } from "../../ledger/repository.ts";
import { Verifier } from "../../ledger/verify.ts";
import { parseConfig } from "../../node/config.ts";
import { peerFailure } from "../../node/errors.ts";
import { nodeCommandLine } from "../../node/process-options.ts";
import { type Candidate, planMain } from "../../node/sync-plan.ts";
import { makeLedger, scratch, text } from "../helpers/ledger.ts";

const base = {
  canMerge: true,
  connected: new Set(["bob"]),
  firstSeen: new Map<string, number>(),
  conflicted: new Set<string>(),
  now: 1_000_000,
  graceMs: 10_000,
};
const a = "a".repeat(40);
const b = "b".repeat(40);
const c = "c".repeat(40);
const cand = (oid: string, relation: Candidate["relation"], generation = 5): Candidate => ({
  peer: "bob",
  oid,
  relation,
  generation,
});

describe("the main planner", () => {
  it("should fast-forward to the deepest descendant, ties by smallest id", () => {
    const plan = planMain({
      ...base,
      main: b,
      candidates: [cand(c, "ahead", 7), cand(a, "ahead", 7), cand(a, "diverged", 9)],
    });
    assert.deepEqual(plan, { kind: "fast-forward", to: a, peer: "bob" });
  });

  it("should merge at once only on the side whose main has the smaller id", () => {
    assert.equal(planMain({ ...base, main: a, candidates: [cand(b, "diverged")] }).kind, "merge");
    assert.equal(planMain({ ...base, main: b, candidates: [cand(a, "diverged")] }).kind, "wait");
  });

  it("should stop waiting after the grace period or when the other peer is gone", () => {
    const late = planMain({
      ...base,
      main: b,
      candidates: [cand(a, "diverged")],
      firstSeen: new Map([[a, base.now - 20_000]]),
    });
    assert.equal(late.kind, "merge");
    const gone = planMain({
      ...base,
      main: b,
      candidates: [cand(a, "diverged")],
      connected: new Set(),
    });
    assert.equal(gone.kind, "merge");
  });

  it("should never retry a conflicting merge or merge without the right to", () => {
    const conflicted = planMain({
      ...base,
      main: a,
      candidates: [cand(b, "diverged")],
      conflicted: new Set([b]),
    });
    assert.equal(conflicted.kind, "stay");
    const notAllowed = planMain({
      ...base,
      canMerge: false,
      main: a,
      candidates: [cand(b, "diverged")],
    });
    assert.equal(notAllowed.kind, "stay");
  });
});

describe("node config", () => {
  it("should give defaults and accept every documented field", () => {
    const config = parseConfig({
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: [
        "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWFUD5XpG8vfP2sWbAoXCZoyJFgzGHirzoquMCHmTk1C2i",
      ],
      mdns: false,
      httpPort: 0,
      replicate: ["blobs/door/**"],
      autoMerge: false,
      syncIntervalMs: 5000,
      limits: { maxInboundStreams: 4 },
    });
    assert.equal(config.mdns, false);
    assert.equal(config.limits.maxInboundStreams, 4);
    assert.equal(config.limits.maxConnections, 64);
    assert.equal(parseConfig({}).httpPort, 7707);
  });

  it("should name the offending field in every error", () => {
    const cases: [unknown, RegExp][] = [
      [{ mdns: "yes" }, /field 'mdns'/],
      [{ bootstrap: ["/ip4/1.2.3.4/tcp/1"] }, /field 'bootstrap\[0\]'.*\/p2p\//],
      [
        { bootstrap: ["/ip4/1.2.3.4/tcp/1/p2p/xyz"] },
        /field 'bootstrap\[0\]': 'xyz' is not a peer id/,
      ],
      [
        { bootstrap: ["/ip4/1.2.3.4/tcp/1/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"] },
        /field 'bootstrap\[0\]': 'Qm\w+' is not an ed25519 peer id/,
      ],
      [{ listen: ["not a multiaddr"] }, /field 'listen\[0\]'/],
      [{ httpPort: 70000 }, /field 'httpPort'/],
      [{ limits: { maxInboundStreams: 0 } }, /field 'limits.maxInboundStreams'/],
      [{ limits: { bogus: 1 } }, /field 'limits.bogus'/],
      [{ colour: "blue" }, /field 'colour': unknown field/],
      [{ genesis: "xyz" }, /field 'genesis'/],
    ];
    for (const [value, pattern] of cases) {
      assert.throws(
        () => parseConfig(value),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, "config-invalid");
          assert.match(e.message, pattern);
          return true;
        },
      );
    }
  });
});

describe("merge plans", () => {
  it("should take the other side's changes and report paths changed differently on both", async () => {
    const { ledger, alice } = await makeLedger({ files: { "logs/alice/a.log": "a\n" } });
    const baseHead = await ledger.requireHead();
    const ours = await ledger.commit({
      key: alice,
      edits: [{ path: "logs/alice/ours.log", content: text("o\n") }],
      message: "ours",
    });
    await ledger.repo.updateRef({ ref: "refs/heads/side", oid: baseHead, expected: undefined });
    const theirs = await ledger.commit({
      key: alice,
      ref: "side",
      edits: [{ path: "logs/alice/theirs.log", content: text("t\n") }],
      message: "theirs",
    });
    const tree = async (oid: string) => (await ledger.verifiedBlock(oid)).tree;
    const clean = await planMerge({
      reader: ledger.reader,
      bases: [await tree(baseHead)],
      ours: await tree(ours),
      theirs: await tree(theirs),
    });
    assert.ok(clean.clean);
    assert.deepEqual(clean.paths, ["logs/alice/theirs.log"]);
    const merged = await ledger.commit({
      key: alice,
      edits: clean.edits,
      mergeWith: [theirs],
      message: "merge",
    });
    assert.equal((await ledger.verifiedBlock(merged)).parents.length, 2);

    const clash = await ledger.commit({
      key: alice,
      ref: "side",
      edits: [{ path: "logs/alice/ours.log", content: text("different\n") }],
      message: "clash",
    });
    const conflict = await planMerge({
      reader: ledger.reader,
      bases: [await tree(baseHead)],
      ours: await tree(ours),
      theirs: await tree(clash),
    });
    assert.equal(conflict.clean, false);
    assert.deepEqual(!conflict.clean && conflict.conflicts.map((c) => c.path), [
      "logs/alice/ours.log",
    ]);
  });

  it("should merge cleanly after criss-cross merges, where a path's older version is in another merge base", async () => {
    // Two nodes apart each merge the other's head, then each appends to its
    // own log: the next merge has two merge bases, and whichever is taken as
    // the base, one of the logs changed on both sides relative to it.
    const { ledger, alice } = await makeLedger({ files: { "logs/alice/a.log": "a\n" } });
    const start = await ledger.requireHead();
    const commit = (ref: string, path: string, content: string) =>
      ledger.commit({ key: alice, ref, edits: [{ path, content: text(content) }], message: path });
    const merge = async (ref: string, ours: string, theirs: string) => {
      const plan = await planMerge({
        reader: ledger.reader,
        bases: ledger.verifier.mergeBaseTrees(ours, theirs),
        ours: (await ledger.verifiedBlock(ours)).tree,
        theirs: (await ledger.verifiedBlock(theirs)).tree,
      });
      assert.ok(plan.clean, JSON.stringify(plan));
      // Committing verifies the merge block (RFC 3's merge rule) as any peer would.
      return ledger.commit({
        key: alice,
        ref,
        edits: plan.edits,
        mergeWith: [theirs],
        message: "merge",
      });
    };
    await ledger.repo.updateRef({ ref: "refs/heads/door", oid: start, expected: undefined });
    const a1 = await commit("main", "logs/alice/a.log", "a\nb\n");
    const d1 = await commit("door", "logs/alice/door-swipes.log", "1\n");
    const mainMerged = await merge("main", a1, d1);
    await merge("door", d1, a1);
    const a2 = await commit("main", "logs/alice/a.log", "a\nb\nc\n");
    const d2 = await commit("door", "logs/alice/door-swipes.log", "1\n2\n");
    assert.deepEqual(new Set(ledger.verifier.mergeBases(a2, d2)), new Set([a1, d1]));
    assert.ok(mainMerged);

    const merged = await merge("main", a2, d2);
    const mergedTree = (await ledger.verifiedBlock(merged)).tree;
    const fileAt = async (path: string) =>
      Buffer.from((await ledger.reader.readFile(mergedTree, path))!).toString();
    assert.equal(
      await fileAt("logs/alice/door-swipes.log"),
      "1\n2\n",
      "the door's later log wins over the version both sides already merged",
    );
    assert.equal(await fileAt("logs/alice/a.log"), "a\nb\nc\n");

    // Different changes to one path on both sides still conflict.
    const mainEdit = await commit("main", "logs/alice/a.log", "main\n");
    const doorEdit = await commit("door", "logs/alice/a.log", "door\n");
    const clash = await planMerge({
      reader: ledger.reader,
      bases: ledger.verifier.mergeBaseTrees(mainEdit, doorEdit),
      ours: (await ledger.verifiedBlock(mainEdit)).tree,
      theirs: (await ledger.verifiedBlock(doorEdit)).tree,
    });
    assert.equal(clash.clean, false);
  });
});

describe("object walk and quarantine", () => {
  it("should send only what a peer lacks, verify it in quarantine and write it only after", async () => {
    const { ledger, alice } = await makeLedger();
    const genesis = await ledger.requireHead();
    for (let i = 0; i < 5; i++)
      await ledger.commit({
        key: alice,
        edits: [{ path: `logs/alice/${i}.log`, content: text(`${i}\n`) }],
        message: `b${i}`,
      });
    const head = await ledger.requireHead();
    const history = await missingHistory({ objects: ledger.repo, want: [head], have: [genesis] });
    assert.equal(history.commits.length, 5);
    assert.equal(history.commits.at(-1), head);
    const batch = await missingHistory({
      objects: ledger.repo,
      want: [head],
      have: [genesis],
      maxCommits: 2,
    });
    assert.ok(batch.truncated);
    assert.equal(batch.commits.length, 2);

    // A second repository holding only the genesis receives the rest.
    const target = await Repository.init({ gitdir: `${scratch()}/t.git`, durable: false });
    const all = await missingHistory({ objects: ledger.repo, want: [genesis], have: [] });
    const q0 = new Quarantine({ base: target });
    for await (const o of objectsOf({ objects: ledger.repo, commits: all.commits }))
      q0.add(o.type as "blob", o.content);
    await q0.flush(target);
    const q = new Quarantine({ base: target });
    let sent = 0;
    for await (const o of objectsOf({ objects: ledger.repo, commits: history.commits })) {
      q.add(o.type as "blob", o.content);
      sent++;
    }
    assert.ok(sent < 5 * 6, `only changed objects were sent (${sent})`);
    assert.equal(await target.hasObject(head), false, "nothing written before verification");
    await new Verifier({ objects: q }).verify(head);
    await q.flush(target);
    assert.equal(await target.hasObject(head), true);
    await new Verifier({ objects: target }).verify(head);
  });
});

describe("the node's runtime", () => {
  it("should run `npm run node` with the flags and environment the tests and the benches use", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8"));
    assert.equal(pkg.scripts.node, nodeCommandLine(["cli/main.ts", "node"]));
  });
});

describe("what the log says of a failed exchange with a peer", () => {
  it("should say it in words, whatever libp2p rejected with", () => {
    assert.equal(
      peerFailure(new UnexpectedEOFError("Unexpected EOF - stream closed while reading 0/1 bytes")),
      "the peer closed the stream before answering",
    );
    // libp2p rejects a read with the stream's close event when the peer hangs up.
    const closed = Object.assign(new Event("close"), { local: false, error: undefined });
    assert.equal(peerFailure(closed), "the peer closed the stream");
    const aborted = Object.assign(new Event("close"), { local: true, error: new Error("reset") });
    assert.equal(peerFailure(aborted), "reset");
    assert.equal(peerFailure(new Error("frame too large")), "frame too large");
    assert.equal(peerFailure("gone"), "gone");
  });
});
