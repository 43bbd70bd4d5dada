import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Diagnostic } from "../../../plugins/api.ts";
import { slugify } from "../../../plugins/rfc/format.ts";
import { lintRfc } from "../../../plugins/rfc/lint.ts";

const good = `---
rfc: 12
title: Door access for members
status: draft
authors:
  - Ada Lovelace <ada@example.org>
created: 2026-11-25
requires: [5]
discussion: https://example.org/rfc-12
---

# Door access

The body.
`;

function lint(content: string | Uint8Array, file = "rfcs/0012-door-access.md", maxBytes?: number) {
  return lintRfc({ file, content, ...(maxBytes === undefined ? {} : { maxBytes }) });
}

/** "line:column ruleId" of each diagnostic, to compare compactly. */
function where(diagnostics: Diagnostic[]): string[] {
  return diagnostics.map((d) => `${d.line}:${d.column} ${d.ruleId}`);
}

/** The good document with the front matter line starting `field:` replaced (or removed). */
function withField(field: string, line: string | undefined): string {
  const lines = good.split("\n");
  const index = lines.findIndex((l) => l.startsWith(`${field}:`));
  assert.notEqual(index, -1, `no ${field} line`);
  if (line === undefined) lines.splice(index, 1);
  else lines[index] = line;
  return lines.join("\n");
}

describe("RFC lint", () => {
  it("should accept a well-formed RFC and return its typed fields", () => {
    const result = lint(good);
    assert.deepEqual(result.diagnostics, []);
    assert.deepEqual(result.fields, {
      rfc: 12,
      title: "Door access for members",
      status: "draft",
      authors: ["Ada Lovelace <ada@example.org>"],
      created: "2026-11-25",
      requires: [5],
      discussion: "https://example.org/rfc-12",
    });
    assert.equal(result.text!.slice(result.bodyOffset), "\n# Door access\n\nThe body.\n");
  });

  it("should report a file without front matter", () => {
    assert.deepEqual(where(lint("# Just Markdown\n").diagnostics), ["1:1 front-matter-missing"]);
  });

  it("should report a front matter that is never closed", () => {
    assert.deepEqual(where(lint("---\nrfc: 1\n\n# Body\n").diagnostics), [
      "1:1 front-matter-unclosed",
    ]);
  });

  it("should report malformed YAML where the parser stopped", () => {
    const result = lint(withField("requires", "requires: [5"));
    assert.deepEqual(where(result.diagnostics), ["9:1 yaml-syntax"]);
  });

  it("should report a field given twice", () => {
    const result = lint(withField("requires", "requires: [5]\ntitle: Again"));
    assert.deepEqual(where(result.diagnostics), ["9:1 duplicate-field"]);
  });

  it("should report a front matter that is not a mapping", () => {
    assert.deepEqual(where(lint("---\n- a\n- b\n---\n").diagnostics), [
      "2:1 front-matter-not-mapping",
    ]);
  });

  it("should report each missing required field", () => {
    const result = lint("---\nrfc: 12\n---\n");
    assert.deepEqual(
      result.diagnostics.map((d) => `${d.ruleId} ${d.field}`),
      [
        "field-missing title",
        "field-missing status",
        "field-missing authors",
        "field-missing created",
      ],
    );
  });

  it("should report an unknown field with a suggestion, at the field's line", () => {
    const result = lint(withField("discussion", "discusion: https://example.org"));
    assert.deepEqual(where(result.diagnostics), ["9:1 unknown-field"]);
    assert.match(result.diagnostics[0]!.reason, /did you mean 'discussion'/);
  });

  it("should report wrong types at the value's line and column", () => {
    const text = withField("rfc", "rfc: twelve").replace(
      "title: Door access for members",
      "title: 42",
    );
    const result = lint(text);
    assert.deepEqual(where(result.diagnostics), ["2:6 field-type", "3:8 field-type"]);
    assert.equal(result.diagnostics[0]!.field, "rfc");
    assert.match(result.diagnostics[0]!.reason, /positive integer, found 'twelve'/);
  });

  it("should report the list item that is not an RFC number", () => {
    const result = lint(withField("requires", "requires: [5, five, 0]"));
    assert.deepEqual(where(result.diagnostics), ["8:15 field-type", "8:21 field-type"]);
  });

  it("should refuse a single number where a list of RFCs is required", () => {
    assert.deepEqual(where(lint(withField("requires", "requires: 5")).diagnostics), [
      "8:11 field-type",
    ]);
  });

  it("should report an empty author list", () => {
    const text = good.replace("authors:\n  - Ada Lovelace <ada@example.org>", "authors: []");
    assert.deepEqual(where(lint(text).diagnostics), ["5:10 field-empty"]);
  });

  it("should report an unknown status and suggest the right spelling", () => {
    const result = lint(withField("status", "status: Last Call"));
    assert.deepEqual(where(result.diagnostics), ["4:9 unknown-status"]);
    assert.match(result.diagnostics[0]!.reason, /did you mean 'last-call'/);
  });

  it("should report dates that are not calendar dates", () => {
    assert.deepEqual(where(lint(withField("created", "created: 2026-02-30")).diagnostics), [
      "7:10 date-format",
    ]);
    assert.deepEqual(where(lint(withField("created", "created: 25.11.2026")).diagnostics), [
      "7:10 date-format",
    ]);
  });

  it("should report an update dated before creation", () => {
    const text = withField("created", "created: 2026-11-25\nupdated: 2026-01-01");
    assert.deepEqual(where(lint(text).diagnostics), ["8:1 date-order"]);
  });

  it("should report a discussion that is not an http(s) URL", () => {
    assert.deepEqual(
      where(lint(withField("discussion", "discussion: ftp://example.org")).diagnostics),
      ["9:13 url-invalid"],
    );
  });

  it("should report an RFC that requires itself", () => {
    assert.deepEqual(where(lint(withField("requires", "requires: [5, 12]")).diagnostics), [
      "8:15 self-reference",
    ]);
  });

  it("should require superseded-by for a superseded RFC, and only for it", () => {
    assert.deepEqual(where(lint(withField("status", "status: superseded")).diagnostics), [
      "4:1 superseded-without-successor",
    ]);
    assert.deepEqual(
      where(lint(withField("requires", "requires: [5]\nsuperseded-by: 5")).diagnostics),
      ["9:1 superseded-by-status"],
    );
  });

  it("should warn about a last call without a deadline, without failing", () => {
    const result = lint(withField("status", "status: last-call"));
    assert.deepEqual(where(result.diagnostics), ["4:1 last-call-deadline-missing"]);
    assert.equal(result.diagnostics[0]!.severity, "warning");
  });

  it("should refuse attachments stored outside the RFC's asset folder", () => {
    const text = withField(
      "requires",
      "requires: [5]\nattachments:\n  fig.png: rfcs/assets/0012/fig.png\n  x.png: rfcs/assets/0013/x.png",
    );
    assert.deepEqual(where(lint(text).diagnostics), ["9:1 attachment-path"]);
  });

  it("should check the file name and its number", () => {
    assert.deepEqual(where(lint(good, "rfcs/12-door.md").diagnostics), ["1:1 file-name"]);
    assert.deepEqual(where(lint(good, "rfcs/0012-Door.md").diagnostics), ["1:1 file-name"]);
    assert.deepEqual(where(lint(good, "rfcs/0013-door.md").diagnostics), ["1:1 file-name-number"]);
  });

  it("should report every problem of a file at once", () => {
    const text =
      "---\nrfc: 0\ntitle: ''\nstatus: done\nauthors: nobody\ncreated: soon\nextra: 1\n---\n";
    assert.deepEqual(
      result(text).map((d) => d.ruleId),
      ["field-type", "field-empty", "unknown-status", "field-type", "date-format", "unknown-field"],
    );
    function result(t: string) {
      return lint(t).diagnostics;
    }
  });

  it("should refuse a 50 MB file quickly, without parsing it", () => {
    const huge = new Uint8Array(50 * 1024 * 1024).fill(0x61);
    const start = performance.now();
    const result = lint(huge);
    assert.ok(performance.now() - start < 200, "took too long: it must not be parsed");
    assert.deepEqual(where(result.diagnostics), ["1:1 file-too-large"]);
    assert.match(result.diagnostics[0]!.reason, /52428800 bytes, over the 1048576-byte limit/);
    assert.deepEqual(where(lint(good, undefined, 100).diagnostics), ["1:1 file-too-large"]);
  });

  it("should report bytes that are not UTF-8", () => {
    assert.deepEqual(where(lint(new Uint8Array([0x2d, 0x2d, 0x2d, 0x0a, 0xff])).diagnostics), [
      "1:1 encoding",
    ]);
  });

  it("should accept CRLF line endings and report lines correctly", () => {
    assert.deepEqual(lint(good.replaceAll("\n", "\r\n")).diagnostics, []);
    const bad = withField("status", "status: nope").replaceAll("\n", "\r\n");
    assert.deepEqual(where(lint(bad).diagnostics), ["4:9 unknown-status"]);
  });

  it("should make file-name slugs from titles", () => {
    assert.equal(slugify("RFC format and lifecycle"), "rfc-format-and-lifecycle");
    assert.equal(slugify("Hardfork Meta: Crème Brûlée!"), "hardfork-meta-creme-brulee");
    assert.equal(slugify("???"), "untitled");
    assert.ok(slugify("word ".repeat(40)).length <= 60);
  });
});
