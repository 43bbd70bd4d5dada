import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { objectId } from "../../ledger/object-codec.ts";
import type { TreeEntry } from "../../ledger/repository.ts";
import { encodeTree, parseTree } from "../../ledger/tree.ts";
import { git, scratch } from "../helpers/ledger.ts";
import { needs } from "../helpers/system.ts";

const OID = "ab".repeat(20);

/** A tree object's bytes with its entries in exactly the order given. */
function treeBytes(entries: [mode: string, name: string][]): Uint8Array {
  return Buffer.concat(
    entries.map(([mode, name]) =>
      Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(OID, "hex")]),
    ),
  );
}

const file = (name: string): [string, string] => ["100644", name];
const folder = (name: string): [string, string] => ["40000", name];

describe("tree parsing", () => {
  it("should accept a file and folders whose names share a prefix, in git order", () => {
    const entries = parseTree(
      "t",
      treeBytes([file("a"), file("a-b"), folder("a.c"), folder("ab")]),
    );
    assert.deepEqual(
      entries.map((e) => [e.mode, e.name, e.oid]),
      [
        ["100644", "a", OID],
        ["100644", "a-b", OID],
        ["40000", "a.c", OID],
        ["40000", "ab", OID],
      ],
    );
  });

  it("should refuse a file and a folder of the same name, however many entries lie between", () => {
    const between = (n: number) =>
      Array.from({ length: n }, (_, i) => file(`a!${String(i).padStart(2, "0")}`));
    for (const n of [0, 2, 8, 9, 40]) {
      assert.throws(
        () => parseTree("t", treeBytes([file("a"), ...between(n), folder("a")])),
        (error: Error & { code?: string }) =>
          error.code === "malformed-tree" && /duplicate name 'a'/.test(error.message),
        `${n} entries between`,
      );
    }
    // Long runs of names that share the prefix, with no duplicate, are fine.
    const ok = parseTree("t", treeBytes([...between(40), folder("a")]));
    assert.equal(ok.length, 41);
  });

  it("should refuse entries out of git order", () => {
    assert.throws(
      () => parseTree("t", treeBytes([folder("a"), file("a-b")])),
      /out of order or duplicated at 'a-b'/,
    );
  });
});

describe("tree writing", () => {
  // Names whose order differs between plain byte order and git's, where a
  // folder sorts as if its name ended in '/': "a" (folder) after "a-b" and
  // "a.c" (0x2d, 0x2e < 0x2f) but before "a0" (0x30).
  const entries: TreeEntry[] = [
    { mode: "100644", name: "a0", oid: "11".repeat(20) },
    { mode: "40000", name: "a", oid: "22".repeat(20) },
    { mode: "100644", name: "a.c", oid: "33".repeat(20) },
    { mode: "100755", name: "a-b", oid: "44".repeat(20) },
    { mode: "100644", name: "B", oid: "55".repeat(20) },
    { mode: "40000", name: "é", oid: "66".repeat(20) },
  ];

  it("should write entries in git's order, so that the strict parser takes them back", () => {
    const parsed = parseTree("t", encodeTree(entries));
    assert.deepEqual(
      parsed.map((e) => e.name),
      ["B", "a-b", "a.c", "a", "a0", "é"],
    );
    assert.deepEqual(
      parsed.toSorted((x, y) => (x.name < y.name ? -1 : 1)),
      entries.toSorted((x, y) => (x.name < y.name ? -1 : 1)),
    );
  });

  it("should write the same tree, byte for byte, as stock git mktree", {
    skip: needs("git"),
  }, () => {
    const gitdir = join(scratch("gdo-mktree-"), "t.git");
    assert.equal(git(gitdir, ["init", "--bare", "-q", gitdir]).status, 0);
    const input = entries
      .map((e) => {
        const [mode, type] = e.mode === "40000" ? ["040000", "tree"] : [e.mode, "blob"];
        return `${mode} ${type} ${e.oid}\t${e.name}\n`;
      })
      .join("");
    const made = spawnSync("git", [`--git-dir=${gitdir}`, "mktree", "--missing"], {
      input,
      encoding: "utf8",
    });
    assert.equal(made.status, 0, made.stderr);
    assert.equal(objectId("tree", encodeTree(entries)), made.stdout.trim());
  });
});
