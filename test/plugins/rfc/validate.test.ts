import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Change, ValidationResult } from "../../../plugins/api.ts";
import { memoryTree } from "../../../plugins/memory-tree.ts";
import { RFC_STATUSES, type RfcStatus } from "../../../plugins/rfc/format.ts";
import rfcPlugin from "../../../plugins/rfc/index.ts";
import { TRANSITIONS } from "../../../plugins/rfc/lifecycle.ts";
import { validateRfcChanges } from "../../../plugins/rfc/validate.ts";

type Files = Record<string, string>;

/** An RFC document; `extra` lines go at the end of the front matter. */
function rfc(n: number, status: RfcStatus, extra = ""): string {
  return `---\nrfc: ${n}\ntitle: RFC ${n}\nstatus: ${status}\nauthors: [Ada]\ncreated: 2026-01-0${(n % 9) + 1}\n${extra}---\n\nBody of ${n}.\n`;
}

const path = (n: number) => `rfcs/${String(n).padStart(4, "0")}-rfc-${n}.md`;

/** The changes between two file sets, as the ledger would compute them. */
function diff(before: Files, after: Files): Change[] {
  const changes: Change[] = [];
  for (const p of Object.keys(after))
    if (!(p in before)) changes.push({ path: p, kind: "add" });
    else if (before[p] !== after[p]) changes.push({ path: p, kind: "modify" });
  for (const p of Object.keys(before)) if (!(p in after)) changes.push({ path: p, kind: "delete" });
  return changes;
}

function validate(before: Files, after: Files): Promise<ValidationResult> {
  return validateRfcChanges({
    before: memoryTree(before),
    after: memoryTree(after),
    changes: diff(before, after),
  });
}

function errors(result: ValidationResult): string[] {
  return result.diagnostics
    .filter((d) => d.severity === "error")
    .map((d) => `${d.file}:${d.line} ${d.ruleId}`);
}

/** Extra front matter a status needs to be valid on its own (RFC 2 is the successor). */
function needs(status: RfcStatus): string {
  if (status === "superseded") return "superseded-by: 2\n";
  if (status === "last-call") return "last-call-deadline: 2026-12-01\n";
  return "";
}

describe("RFC change validator", () => {
  it("should accept a new RFC added as a draft, with no requirement", async () => {
    const result = await validate({}, { [path(1)]: rfc(1, "draft") });
    assert.deepEqual(result, { diagnostics: [], requirements: [] });
  });

  it("should refuse a new RFC that does not start as a draft", async () => {
    const result = await validate({}, { [path(1)]: rfc(1, "accepted") });
    assert.deepEqual(errors(result), [`${path(1)}:4 new-rfc-not-draft`]);
    assert.deepEqual(result.requirements, []);
  });

  it("should let an import (with original) start later, stating an import requirement", async () => {
    const doc = rfc(1, "final", "original:\n  format: eip\n  source: eip-1.md\n");
    const result = await validate({}, { [path(1)]: doc });
    assert.deepEqual(errors(result), []);
    assert.deepEqual(result.requirements, [
      { kind: "import", path: path(1), rfc: 1, status: "final" },
    ]);
  });

  const successor = {
    [path(2)]: rfc(2, "accepted", "obsoletes: [1]\noriginal: {}\n"),
  };
  for (const from of RFC_STATUSES) {
    for (const to of TRANSITIONS[from]) {
      it(`should allow ${from} → ${to} and require a status change`, async () => {
        const before = { [path(1)]: rfc(1, from, needs(from)), ...successor };
        const after = { [path(1)]: rfc(1, to, needs(to)), ...successor };
        const result = await validate(before, after);
        assert.deepEqual(errors(result), []);
        assert.deepEqual(result.requirements, [
          { kind: "status-change", path: path(1), rfc: 1, from, to },
        ]);
      });
    }
  }

  it("should refuse every transition not in the table", async () => {
    let checked = 0;
    for (const from of RFC_STATUSES) {
      for (const to of RFC_STATUSES) {
        if (from === to || TRANSITIONS[from].includes(to)) continue;
        const before = { [path(1)]: rfc(1, from, needs(from)), ...successor };
        const after = { [path(1)]: rfc(1, to, needs(to)), ...successor };
        const result = await validate(before, after);
        assert.deepEqual(errors(result), [`${path(1)}:4 illegal-transition`], `${from} → ${to}`);
        assert.deepEqual(result.requirements, [], `${from} → ${to}`);
        checked++;
      }
    }
    assert.equal(checked, 9 * 8 - 12);
  });

  it("should explain an illegal transition with the legal ones", async () => {
    const result = await validate({ [path(1)]: rfc(1, "draft") }, { [path(1)]: rfc(1, "final") });
    assert.match(result.diagnostics[0]!.reason, /from 'draft' it may go to proposed, withdrawn/);
  });

  it("should accept an edit that keeps the status, with no requirement", async () => {
    const before = { [path(1)]: rfc(1, "accepted") };
    const after = { [path(1)]: `${rfc(1, "accepted")}More text.\n` };
    assert.deepEqual(await validate(before, after), { diagnostics: [], requirements: [] });
  });

  it("should refuse a number reused by a second file", async () => {
    const before = { [path(1)]: rfc(1, "draft") };
    const after = { ...before, "rfcs/0001-another.md": rfc(1, "draft") };
    assert.deepEqual(errors(await validate(before, after)), [
      "rfcs/0001-another.md:2 rfc-number-reused",
    ]);
  });

  it("should refuse references to RFCs that do not exist, at the item's line", async () => {
    const before = { [path(1)]: rfc(1, "draft") };
    const doc = rfc(2, "draft", "requires: [1, 7]\nobsoletes: [8]\nupdates: [1, 9]\n");
    const result = await validate(before, { ...before, [path(2)]: doc });
    assert.deepEqual(errors(result), [
      `${path(2)}:7 requires-missing`,
      `${path(2)}:8 obsoletes-missing`,
      `${path(2)}:9 updates-missing`,
    ]);
    assert.match(result.diagnostics[0]!.reason, /names RFC 7, which does not exist/);
  });

  it("should refuse a successor that does not exist", async () => {
    const before = { [path(1)]: rfc(1, "final") };
    const after = { [path(1)]: rfc(1, "superseded", "superseded-by: 3\n") };
    assert.deepEqual(errors(await validate(before, after)), [`${path(1)}:7 superseded-by-missing`]);
  });

  it("should refuse superseded without superseded-by", async () => {
    const before = { [path(1)]: rfc(1, "final") };
    const after = { [path(1)]: rfc(1, "superseded") };
    assert.deepEqual(errors(await validate(before, after)), [
      `${path(1)}:4 superseded-without-successor`,
    ]);
  });

  it("should refuse obsoleted when no RFC obsoletes it", async () => {
    const before = { [path(1)]: rfc(1, "final"), [path(2)]: rfc(2, "draft") };
    const after = { ...before, [path(1)]: rfc(1, "obsoleted") };
    assert.deepEqual(errors(await validate(before, after)), [
      `${path(1)}:4 obsoleted-without-successor`,
    ]);
  });

  it("should refuse deleting an RFC but accept renaming one", async () => {
    const before = { [path(1)]: rfc(1, "draft") };
    assert.deepEqual(errors(await validate(before, {})), [`${path(1)}:1 rfc-deleted`]);
    const renamed = await validate(before, { "rfcs/0001-better-name.md": rfc(1, "proposed") });
    assert.deepEqual(errors(renamed), []);
    assert.deepEqual(renamed.requirements, [
      {
        kind: "status-change",
        path: "rfcs/0001-better-name.md",
        rfc: 1,
        from: "draft",
        to: "proposed",
      },
    ]);
  });

  it("should refuse changing an RFC's number in place", async () => {
    const before = { [path(1)]: rfc(1, "draft") };
    const after = { [path(1)]: rfc(2, "draft") };
    assert.deepEqual(errors(await validate(before, after)), [
      `${path(1)}:1 file-name-number`,
      `${path(1)}:2 rfc-number-changed`,
    ]);
  });

  it("should report lint problems of changed documents with their lines", async () => {
    const doc = rfc(1, "draft").replace("status: draft", "status: Draft\nfoo: bar");
    assert.deepEqual(errors(await validate({}, { [path(1)]: doc })), [
      `${path(1)}:4 unknown-status`,
      `${path(1)}:5 unknown-field`,
    ]);
  });

  it("should refuse a huge RFC without parsing it", async () => {
    const huge = rfc(1, "draft") + "x".repeat(2 * 1024 * 1024);
    assert.deepEqual(errors(await validate({}, { [path(1)]: huge })), [
      `${path(1)}:1 file-too-large`,
    ]);
  });

  it("should check attachments: listed files must exist, folders must belong to an RFC", async () => {
    const doc = rfc(1, "draft", "attachments:\n  fig.png: rfcs/assets/0001/fig.png\n");
    assert.deepEqual(errors(await validate({}, { [path(1)]: doc })), [
      `${path(1)}:7 attachment-missing`,
    ]);
    const ok = { [path(1)]: doc, "rfcs/assets/0001/fig.png": "PNG" };
    assert.deepEqual(errors(await validate({}, ok)), []);
    assert.deepEqual(errors(await validate(ok, { [path(1)]: doc })), [
      `${path(1)}:1 attachment-missing`,
    ]);
    assert.deepEqual(errors(await validate({}, { "rfcs/assets/0009/x.png": "PNG" })), [
      "rfcs/assets/0009/x.png:1 attachment-orphan",
    ]);
  });

  it("should refuse files that are neither RFCs nor attachments", async () => {
    assert.deepEqual(errors(await validate({}, { "rfcs/notes/todo.txt": "x" })), [
      "rfcs/notes/todo.txt:1 unexpected-file",
    ]);
    assert.deepEqual(errors(await validate({}, { "rfcs/README.md": "# RFCs\n" })), [
      "rfcs/README.md:1 file-name",
      "rfcs/README.md:1 front-matter-missing",
    ]);
  });

  it("should be exposed as the 'rfc' plugin owning rfcs/**", async () => {
    const plugin = rfcPlugin();
    assert.equal(plugin.name, "rfc");
    assert.deepEqual(plugin.owns, ["rfcs/**"]);
    assert.ok(Object.isFrozen(plugin));
    const result = await plugin.validate!({
      before: memoryTree(),
      after: memoryTree({ [path(1)]: rfc(1, "proposed") }),
      changes: [{ path: path(1), kind: "add" }],
    });
    assert.deepEqual(errors(result), [`${path(1)}:4 new-rfc-not-draft`]);
  });
});
