import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { deflateSync } from "node:zlib";
import { parseCommit } from "../../ledger/commit.ts";
import type { Ledger } from "../../ledger/ledger.ts";
import { SignaturePool } from "../../ledger/signature-pool.ts";
import { generateKey } from "../../ledger/sshkey.ts";
import { readSignedCommit, Verifier } from "../../ledger/verify.ts";
import { addMember, forgeBlock, makeLedger, memberYaml, text } from "../helpers/ledger.ts";

async function rejects(ledger: Ledger, oid: string, code: string, pattern?: RegExp) {
  const verifier = new Verifier({ objects: ledger.repo });
  await assert.rejects(verifier.verify(oid), (error: Error & { code?: string }) => {
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

async function treeOf(ledger: Ledger, oid: string) {
  return (await ledger.verifiedBlock(oid)).tree;
}

describe("block verification", () => {
  it("should accept blocks written by members and count their generations", async () => {
    const { ledger, alice } = await makeLedger();
    const bob = await addMember(ledger, alice, "bob", ["editor"]);
    const head = await ledger.commit({
      key: bob,
      edits: [{ path: "rfcs/0002-b.md", content: text("# B\n") }],
      message: "RFC 2",
    });
    const block = await new Verifier({ objects: ledger.repo }).verify(head);
    assert.equal(block.signer, "bob");
    assert.equal(block.generation, 3);
    assert.deepEqual(
      block.changes.map((c) => c.path),
      ["rfcs/0002-b.md"],
    );
  });

  it("should reject a block signed by a key that is not a member", async () => {
    const { ledger, id } = await makeLedger();
    const head = await ledger.requireHead();
    const mallory = generateKey("mallory");
    const oid = await forgeBlock(ledger.repo, {
      key: mallory,
      name: "mallory",
      tree: await treeOf(ledger, head),
      parents: [head],
      ledgerId: id,
    });
    await rejects(ledger, oid, "unknown-signer", /not a member/);
  });

  it("should refuse to write a block for a non-member and leave the head unchanged", async () => {
    const { ledger } = await makeLedger();
    const before = await ledger.head();
    await assert.rejects(
      ledger.commit({
        key: generateKey("eve"),
        edits: [{ path: "rfcs/x.md", content: text("x") }],
        message: "x",
      }),
      { code: "not-a-member" },
    );
    assert.equal(await ledger.head(), before);
  });

  it("should reject a block signed by a key revoked in its parent", async () => {
    const { ledger, alice, id } = await makeLedger();
    const bob = await addMember(ledger, alice, "bob", []);
    await ledger.commit({
      key: alice,
      edits: [
        {
          path: "charter/members/bob.yaml",
          content: text(memberYaml("bob", bob, [], "revoked: 2026-11-26\n")),
        },
      ],
      message: "Revoke bob",
    });
    const head = await ledger.requireHead();
    await assert.rejects(
      ledger.commit({ key: bob, edits: [{ path: "rfcs/x.md", content: text("x") }], message: "x" }),
      { code: "not-a-member" },
    );
    const oid = await forgeBlock(ledger.repo, {
      key: bob,
      name: "bob",
      tree: await treeOf(ledger, head),
      parents: [head],
      ledgerId: id,
    });
    await rejects(ledger, oid, "revoked-signer", /revoked on 2026-11-26/);
  });

  it("should reject a block whose signature does not match its bytes", async () => {
    const { ledger, gitdir } = await makeLedger();
    const head = await ledger.requireHead();
    const raw = Buffer.from((await ledger.repo.readObject(head)).content).toString("utf8");
    const forged = raw.replace("Genesis of", "Genesis off");
    const oid = await ledger.repo.writeObject("commit", text(forged));
    assert.notEqual(oid, head);
    await rejects(ledger, oid, "bad-signature", /does not match/);
    void gitdir;
  });

  it("should reject a tampered object on disk", async () => {
    const { ledger, gitdir, alice } = await makeLedger();
    const head = await ledger.commit({
      key: alice,
      edits: [{ path: "rfcs/2.md", content: text("two") }],
      message: "two",
    });
    const path = join(gitdir, "objects", head.slice(0, 2), head.slice(2));
    const content = Buffer.from((await ledger.repo.readObject(head)).content)
      .toString("utf8")
      .replace("two", "TWO");
    writeFileSync(
      path,
      deflateSync(
        Buffer.concat([
          Buffer.from(`commit ${Buffer.byteLength(content)}\0`),
          Buffer.from(content),
        ]),
      ),
    );
    await rejects(ledger, head, "corrupt-object", /hashes to/);
    writeFileSync(path, readFileSync(path).subarray(0, 10));
    await rejects(ledger, head, "corrupt-object", /inflate/);
  });

  it("should reject a block replayed from another ledger", async () => {
    const a = await makeLedger();
    const b = await makeLedger();
    const head = await a.ledger.requireHead();
    const replay = await forgeBlock(a.ledger.repo, {
      key: a.alice,
      name: "alice",
      tree: await treeOf(a.ledger, head),
      parents: [head],
      ledgerId: b.id,
    });
    await rejects(a.ledger, replay, "cross-ledger");
  });

  it("should reject a second genesis grafted into the history", async () => {
    const a = await makeLedger();
    const b = await makeLedger();
    const bGenesis = await b.ledger.requireHead();
    // Copy b's genesis objects into a, then merge it in: two roots.
    for (const file of await b.ledger.reader.listFiles(await treeOf(b.ledger, bGenesis))) {
      await a.ledger.repo.writeBlob((await b.ledger.repo.readObject(file.oid)).content);
    }
    const copyTree = async (oid: string): Promise<void> => {
      const object = await b.ledger.repo.readObject(oid);
      for (const entry of await b.ledger.reader.readTree(oid))
        if (entry.mode === "40000") await copyTree(entry.oid);
      await a.ledger.repo.writeObject("tree", object.content);
    };
    await copyTree(await treeOf(b.ledger, bGenesis));
    await a.ledger.repo.writeObject("commit", (await b.ledger.repo.readObject(bGenesis)).content);
    const aHead = await a.ledger.requireHead();
    const merge = await forgeBlock(a.ledger.repo, {
      key: a.alice,
      name: "alice",
      tree: await treeOf(a.ledger, aHead),
      parents: [aHead, bGenesis],
      ledgerId: a.id,
    });
    await rejects(a.ledger, merge, "foreign-root");
  });

  it("should reject a change the policy does not allow its signer", async () => {
    const { ledger, alice } = await makeLedger();
    const bob = await addMember(ledger, alice, "bob", ["editor"]);
    const before = await ledger.head();
    await assert.rejects(
      ledger.commit({
        key: bob,
        edits: [{ path: "charter/roles.yaml", content: text("roles:\n  admin: all\n") }],
        message: "grab",
      }),
      (error: Error & { code?: string }) =>
        error.code === "policy-violation" &&
        /may not change 'charter\/roles.yaml'/.test(error.message),
    );
    await assert.rejects(
      ledger.commit({ key: bob, edits: [{ path: "secrets/x", content: text("x") }], message: "x" }),
      /no policy rule/,
    );
    assert.equal(await ledger.head(), before);
  });

  it("should let a device write only its own log", async () => {
    const { ledger, alice } = await makeLedger();
    const door = await addMember(ledger, alice, "door-1", ["device"]);
    await addMember(ledger, alice, "door-2", ["device"]);
    await ledger.commit({
      key: door,
      edits: [{ path: "logs/door-1/2026-11-25.log", content: text("badge 42 allowed\n") }],
      message: "swipes",
    });
    await assert.rejects(
      ledger.commit({
        key: door,
        edits: [{ path: "logs/door-2/x.log", content: text("forged\n") }],
        message: "x",
      }),
      { code: "policy-violation" },
    );
  });

  it("should reject paths that could escape a folder", async () => {
    const { ledger, alice, id } = await makeLedger();
    await assert.rejects(
      ledger.commit({
        key: alice,
        edits: [{ path: "rfcs/../charter/x", content: text("x") }],
        message: "x",
      }),
      { code: "unsafe-path" },
    );
    await assert.rejects(
      ledger.commit({
        key: alice,
        edits: [{ path: "/etc/passwd", content: text("x") }],
        message: "x",
      }),
      { code: "unsafe-path" },
    );
    const head = await ledger.requireHead();
    const blob = await ledger.repo.writeBlob(text("x"));
    for (const name of ["..", ".git", ".GIT"]) {
      const evil = await ledger.repo.writeObject(
        "tree",
        Buffer.concat([Buffer.from(`100644 ${name}\0`), Buffer.from(blob, "hex")]),
      );
      const root = [...(await ledger.reader.readTree(await treeOf(ledger, head)))];
      const entries = [
        ...root.filter((e) => e.name !== "rfcs"),
        { mode: "40000" as const, name: "rfcs", oid: evil },
      ];
      const tree = await ledger.repo.writeTree(entries);
      const oid = await forgeBlock(ledger.repo, {
        key: alice,
        name: "alice",
        tree,
        parents: [head],
        ledgerId: id,
      });
      await rejects(ledger, oid, "malformed-tree", /not allowed/);
    }
  });

  it("should name the file and field of a malformed charter", async () => {
    const { ledger, alice } = await makeLedger();
    await assert.rejects(
      ledger.commit({
        key: alice,
        edits: [{ path: "charter/policy.yaml", content: text("rules: [\n") }],
        message: "x",
      }),
      (error: Error & { code?: string }) =>
        error.code === "charter-invalid" &&
        /charter\/policy.yaml: malformed YAML \(line \d+/.test(error.message),
    );
    const bob = generateKey("bob");
    await assert.rejects(
      ledger.commit({
        key: alice,
        edits: [
          {
            path: "charter/members/bob.yaml",
            content: text(memberYaml("bob", bob, [], "shoe-size: 44\n")),
          },
        ],
        message: "x",
      }),
      /charter\/members\/bob.yaml: field 'shoe-size': unknown field/,
    );
    await assert.rejects(
      ledger.commit({
        key: alice,
        edits: [
          {
            path: "charter/members/bob.yaml",
            content: text(
              "name: bob\nkey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\nadded: 2026-11-25\n",
            ),
          },
        ],
        message: "x",
      }),
      /charter\/members\/bob.yaml: field 'key'/,
    );
    await assert.rejects(
      ledger.commit({
        key: alice,
        edits: [{ path: "charter/members/alice.yaml", content: null }],
        message: "x",
      }),
      /never deleted|at least one active admin/,
    );
  });

  it("should reject an unsigned block, extra headers and a truncated signature", async () => {
    const { ledger, id } = await makeLedger();
    const head = await ledger.requireHead();
    const tree = await treeOf(ledger, head);
    const bare = `tree ${tree}\nparent ${head}\nauthor alice <a@x> 1 +0000\ncommitter alice <a@x> 1 +0000\n\nx\n\nGdo-Ledger: ${id}\n`;
    await rejects(ledger, await ledger.repo.writeObject("commit", text(bare)), "unsigned-block");
    const withHeader = bare.replace(
      "committer alice <a@x> 1 +0000\n",
      "committer alice <a@x> 1 +0000\nencoding latin1\n",
    );
    await rejects(
      ledger,
      await ledger.repo.writeObject("commit", text(withHeader)),
      "malformed-commit",
      /unexpected header 'encoding'/,
    );
    const good = Buffer.from((await ledger.repo.readObject(head)).content).toString("utf8");
    const truncated = good
      .replace(/\n -----END SSH SIGNATURE-----/, "")
      .replace(/ [A-Za-z0-9+/=]+\n(?= -----END|\n)/, "\n");
    const oid = await ledger.repo.writeObject("commit", text(truncated));
    await rejects(ledger, oid, "signature-format");
  });

  it("should accept a clean merge of two branches and reject a conflicting one", async () => {
    const { ledger, alice, id } = await makeLedger();
    const door = await addMember(ledger, alice, "door-1", ["device"]);
    const base = await ledger.requireHead();
    await ledger.repo.updateRef({ ref: "refs/heads/door", oid: base, expected: undefined });
    const ours = await ledger.commit({
      key: alice,
      edits: [{ path: "rfcs/0002-x.md", content: text("# X\n") }],
      message: "main side",
    });
    const theirs = await ledger.commit({
      key: door,
      ref: "door",
      edits: [{ path: "logs/door-1/a.log", content: text("swipe\n") }],
      message: "offline swipes",
    });
    const merged = await ledger.commit({
      key: alice,
      mergeWith: [theirs],
      edits: [{ path: "logs/door-1/a.log", content: text("swipe\n") }],
      message: "Merge door log",
    });
    const block = await new Verifier({ objects: ledger.repo }).verify(merged);
    assert.deepEqual(block.parents, [ours, theirs]);
    // Both sides edit the same file differently: the merge must be refused.
    const c1 = await ledger.commit({
      key: alice,
      edits: [{ path: "rfcs/0003.md", content: text("one") }],
      message: "a",
    });
    const c2 = await forgeBlock(ledger.repo, {
      key: alice,
      name: "alice",
      tree: await (async () => {
        const { applyEdits } = await import("../../ledger/tree-builder.ts");
        return applyEdits(ledger.repo, ledger.reader, await treeOf(ledger, merged), [
          { path: "rfcs/0003.md", content: text("two") },
        ]);
      })(),
      parents: [merged],
      ledgerId: id,
    });
    await new Verifier({ objects: ledger.repo }).verify(c2);
    const bad = await forgeBlock(ledger.repo, {
      key: alice,
      name: "alice",
      tree: await treeOf(ledger, c1),
      parents: [c1, c2],
      ledgerId: id,
    });
    await rejects(ledger, bad, "merge-conflict", /rfcs\/0003.md/);
    // A merge that sneaks in a change of its own is not clean.
    const { applyEdits } = await import("../../ledger/tree-builder.ts");
    const sneaky = await applyEdits(ledger.repo, ledger.reader, await treeOf(ledger, merged), [
      { path: "charter/members/eve.yaml", content: text("x") },
    ]);
    const sneak = await forgeBlock(ledger.repo, {
      key: alice,
      name: "alice",
      tree: sneaky,
      parents: [ours, theirs],
      ledgerId: id,
    });
    await rejects(ledger, sneak, "merge-not-clean");
  });

  it("should reject a committer name that is not the signer's member name", async () => {
    const { ledger, alice, id } = await makeLedger();
    const head = await ledger.requireHead();
    const oid = await forgeBlock(ledger.repo, {
      key: alice,
      name: "bob",
      tree: await treeOf(ledger, head),
      parents: [head],
      ledgerId: id,
    });
    await rejects(ledger, oid, "identity-mismatch");
    const parsed = parseCommit(oid, (await ledger.repo.readObject(oid)).content);
    assert.equal(parsed.committer.name, "bob");
  });
});

describe("verifying a long history on the signature pool", () => {
  it("should check signatures a window ahead, keep only commit fields, and refuse a forged block in the middle", async () => {
    const { ledger, alice, id } = await makeLedger();
    for (let i = 0; i < 150; i++) {
      await ledger.commit({
        key: alice,
        edits: [{ path: "rfcs/0002-b.md", content: text(`# B ${i}\n`) }],
        message: `edit ${i}`,
      });
    }
    const head = await ledger.requireHead();
    const pool = new SignaturePool({ size: 1 });
    try {
      // Batches of 8: 32 blocks ahead, 64 parsed commits kept; the rest
      // are let go after the ancestry walk and read again in turn.
      const block = await new Verifier({ objects: ledger.repo, pool, signatureBatch: 8 }).verify(
        head,
      );
      assert.equal(block.generation, 151);
      assert.equal("payload" in block.commit, false);
      assert.equal("signature" in block.commit, false);
      const signed = await readSignedCommit(ledger.repo, head);
      assert.match(signed.signature ?? "", /^-----BEGIN SSH SIGNATURE-----/);
      assert.equal(signed.message, block.commit.message);

      // A copy of the head with another message keeps the head's signature,
      // which no longer matches; validly signed blocks follow it.
      const good = Buffer.from((await ledger.repo.readObject(head)).content).toString("utf8");
      const forged = await ledger.repo.writeObject(
        "commit",
        text(good.replace("edit 149", "edit 149, forged")),
      );
      let tip = forged;
      for (let i = 0; i < 40; i++) {
        tip = await forgeBlock(ledger.repo, {
          key: alice,
          name: "alice",
          tree: block.tree,
          parents: [tip],
          ledgerId: id,
          message: `after ${i}`,
        });
      }
      const verifier = new Verifier({ objects: ledger.repo, pool, signatureBatch: 8 });
      await assert.rejects(verifier.verify(tip), (error: Error & { code?: string }) => {
        assert.equal(error.code, "bad-signature", error.message);
        assert.match(error.message, new RegExp(forged));
        return true;
      });
      assert.ok(verifier.known(block.parents[0]!), "the blocks before the forged one verified");
      assert.equal(verifier.known(forged), undefined);
    } finally {
      await pool.close();
    }
  });
});
