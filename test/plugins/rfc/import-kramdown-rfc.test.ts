import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { FormatError, NotFoundError } from "../../../ledger/errors.ts";
import { findFrontMatter } from "../../../plugins/rfc/front-matter.ts";
import { planImport } from "../../../plugins/rfc/import/plan.ts";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures");
const dir = join(fixtures, "kramdown-rfc");

function frontMatterOf(content: string): Record<string, unknown> {
  const search = findFrontMatter(content);
  assert.ok(search.found);
  return parse(search.yaml);
}

describe("kramdown-rfc import plan", () => {
  it("should detect the format and account for every draft", async () => {
    const plan = await planImport({ dir });
    assert.equal(plan.format, "kramdown-rfc");
    assert.equal(plan.sources, 3);
    assert.deepEqual(
      plan.documents.map((d) => [d.source, d.path, d.rfc, d.status]),
      [
        ["draft-example-published-09.md", "rfcs/9000-published-example.md", 9000, "final"],
        [
          "draft-example-door-access-02.md",
          "rfcs/9001-door-access-delegation-for-shared-workshops.md",
          9001,
          "draft",
        ],
      ],
    );
    assert.deepEqual(
      plan.reports.filter((r) => r.kind === "skipped").map((r) => [r.source, r.reason]),
      [
        [
          "draft-example-undated-00.md",
          "no full 'date' (YYYY-MM-DD); kramdown-rfc fills it at build time, gdo needs it",
        ],
      ],
    );
  });

  it("should map title, authors, date, category and updates", async () => {
    const plan = await planImport({ dir, format: "kramdown-rfc" });
    const door = plan.documents.find((d) => d.rfc === 9001)!;
    const fm = frontMatterOf(door.content);
    assert.deepEqual(
      { ...fm, original: undefined },
      {
        rfc: 9001,
        title: "Door Access Delegation for Shared Workshops",
        status: "draft",
        authors: ["Jane Doe <jane@example.org>", "Ravi Kumar"],
        created: "2026-03-04",
        category: "Standards Track",
        updates: [9000],
        attachments: { "figures/flow.svg": "rfcs/assets/9001/figures/flow.svg" },
        original: undefined,
      },
    );
    const original = fm.original as { format: string; fields: Record<string, unknown> };
    assert.equal(original.format, "kramdown-rfc");
    assert.equal(original.fields.docname, "draft-example-door-access-02");
    assert.equal(original.fields.workgroup, "Example Working Group");
  });

  it("should keep the body from the '--- abstract' line on, byte for byte", async () => {
    const plan = await planImport({ dir });
    const door = plan.documents.find((d) => d.rfc === 9001)!;
    const { readFile } = await import("node:fs/promises");
    const source = await readFile(join(dir, door.source), "utf8");
    const body = source.slice(source.indexOf("--- abstract"));
    assert.ok(door.content.endsWith(`\n---\n${body}`));
    const published = plan.documents.find((d) => d.rfc === 9000)!;
    assert.ok(published.content.endsWith("\n---\n\nThis one has an RFC number.\n"));
  });

  it("should list the figure as an attachment and report the missing file with its line", async () => {
    const plan = await planImport({ dir });
    const door = plan.documents.find((d) => d.rfc === 9001)!;
    assert.deepEqual(door.attachments, [
      {
        link: "figures/flow.svg",
        line: 33,
        file: join(dir, "figures", "flow.svg"),
        ledgerPath: "rfcs/assets/9001/figures/flow.svg",
      },
    ]);
    assert.deepEqual(
      plan.reports.filter((r) => r.kind === "attachment-missing"),
      [
        {
          source: "draft-example-door-access-02.md",
          kind: "attachment-missing",
          line: 34,
          reason:
            "link 'figures/vectors.json' points at figures/vectors.json, which does not exist",
        },
      ],
    );
  });

  it("should skip sources whose number is already in the ledger", async () => {
    const plan = await planImport({ dir, existing: [9000] });
    assert.deepEqual(
      plan.documents.map((d) => d.rfc),
      [9001],
    );
    assert.ok(plan.reports.some((r) => r.reason === "RFC 9000 already exists in the ledger"));
    const door = frontMatterOf(plan.documents[0]!.content);
    assert.deepEqual(door.updates, [9000], "references to existing RFCs are kept");
  });

  it("should fail clearly for an unknown format or a missing directory", async () => {
    await assert.rejects(planImport({ dir, format: "rst" }), FormatError);
    await assert.rejects(planImport({ dir: join(fixtures, "no-such-dir") }), NotFoundError);
    const eip = await planImport({ dir, format: "eip" });
    assert.deepEqual([eip.sources, eip.documents.length], [0, 0]);
  });
});
