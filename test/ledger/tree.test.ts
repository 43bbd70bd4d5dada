import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseTree } from "../../ledger/tree.ts";

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
