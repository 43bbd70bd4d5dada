import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { memoryTree } from "../../../plugins/memory-tree.ts";
import { findFrontMatter } from "../../../plugins/rfc/front-matter.ts";
import { splitAuthors } from "../../../plugins/rfc/import/eip.ts";
import { type ImportPlan, planImport } from "../../../plugins/rfc/import/plan.ts";
import { lintRfc } from "../../../plugins/rfc/lint.ts";
import { validateRfcChanges } from "../../../plugins/rfc/validate.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const corpus = join(root, "..", "shared", "corpus", "eips");

function frontMatterOf(content: string): Record<string, unknown> {
  const search = findFrontMatter(content);
  assert.ok(search.found);
  return parse(search.yaml);
}

describe("EIP import plan on the full corpus", () => {
  let plan: ImportPlan;
  const doc = (rfc: number) => plan.documents.find((d) => d.rfc === rfc)!;
  const reportsOf = (source: string) => plan.reports.filter((r) => r.source === source);

  before(async () => {
    const start = performance.now();
    plan = await planImport({ dir: corpus, format: "auto" });
    const ms = Math.round(performance.now() - start);
    process.stderr.write(`# EIP corpus planned in ${ms} ms\n`);
  });

  it("should account for every document: in = out + skipped", () => {
    const skipped = plan.reports.filter((r) => r.kind === "skipped");
    assert.equal(plan.format, "eip");
    assert.equal(plan.sources, 949);
    assert.equal(plan.documents.length + skipped.length, 949);
    assert.equal(new Set(skipped.map((r) => r.source)).size, skipped.length);
    const imported = new Set(plan.documents.map((d) => d.source));
    assert.ok(skipped.every((r) => !imported.has(r.source)));
  });

  it("should report the 365 Moved stubs with their new location, and import the rest", () => {
    const skipped = plan.reports.filter((r) => r.kind === "skipped");
    assert.equal(skipped.length, 365);
    assert.ok(skipped.every((r) => r.reason.startsWith("moved to ")));
    assert.deepEqual(reportsOf("eip-20.md"), [
      {
        source: "eip-20.md",
        kind: "skipped",
        line: 4,
        reason: "moved to ERC: https://github.com/ethereum/ercs/blob/master/ERCS/erc-20.md",
      },
    ]);
    assert.equal(plan.documents.length, 584);
  });

  it("should map statuses as RFC 5's table says", () => {
    const counts: Record<string, number> = {};
    for (const d of plan.documents) counts[d.status] = (counts[d.status] ?? 0) + 1;
    const original: Record<string, number> = {};
    for (const d of plan.documents) {
      const status = (frontMatterOf(d.content).original as { fields: { status: string } }).fields
        .status;
      original[status] = (original[status] ?? 0) + 1;
    }
    assert.equal(counts.draft, original.Draft);
    assert.equal(counts.proposed, original.Review);
    assert.equal(counts["last-call"], original["Last Call"]);
    assert.equal(counts.final, original.Final);
    assert.equal(counts.accepted, original.Living);
    assert.equal(counts.withdrawn, original.Stagnant! + original.Withdrawn!);
    assert.equal(doc(2330).status, "withdrawn");
  });

  it("should map EIP-1559's fields", () => {
    const d = doc(1559);
    assert.equal(d.path, "rfcs/1559-fee-market-change-for-eth-1-0-chain.md");
    const fm = frontMatterOf(d.content);
    assert.deepEqual(
      { ...fm, original: undefined },
      {
        rfc: 1559,
        title: "Fee market change for ETH 1.0 chain",
        status: "final",
        authors: [
          "Vitalik Buterin (@vbuterin)",
          "Eric Conner (@econoar)",
          "Rick Dudley (@AFDudley)",
          "Matthew Slipper (@mslipper)",
          "Ian Norden (@i-norden)",
          "Abdelhamid Bakhta (@abdelhamidbakhta)",
        ],
        created: "2019-04-13",
        category: "Core",
        discussion:
          "https://ethereum-magicians.org/t/eip-1559-fee-market-change-for-eth-1-0-chain/2783",
        requires: [2718, 2930],
        // Every EIP links the repository's CC0 waiver; it is a local file like any other.
        attachments: { "../LICENSE.md": "rfcs/assets/1559/LICENSE.md" },
        original: undefined,
      },
    );
    assert.deepEqual(fm.original, {
      format: "eip",
      source: "eip-1559.md",
      fields: {
        eip: 1559,
        title: "Fee market change for ETH 1.0 chain",
        author:
          "Vitalik Buterin (@vbuterin), Eric Conner (@econoar), Rick Dudley (@AFDudley), Matthew Slipper (@mslipper), Ian Norden (@i-norden), Abdelhamid Bakhta (@abdelhamidbakhta)",
        "discussions-to":
          "https://ethereum-magicians.org/t/eip-1559-fee-market-change-for-eth-1-0-chain/2783",
        status: "Final",
        type: "Standards Track",
        category: "Core",
        created: "2019-04-13",
        requires: "2718, 2930",
      },
    });
  });

  it("should keep the description and map Living to accepted (EIP-1)", () => {
    const fm = frontMatterOf(doc(747).content);
    assert.equal(
      fm.description,
      "Adds a new RPC method that allows websites to prompt users to watch an asset",
    );
    const one = frontMatterOf(doc(1).content);
    assert.equal(one.status, "accepted");
    assert.equal(one.category, "Meta");
    assert.deepEqual(one.authors, [
      "Martin Becze <mb@ethereum.org>",
      "Hudson Jameson <hudson@ethereum.org>",
      "et al.",
    ]);
  });

  it("should drop references to documents not imported, report them and keep them in original", () => {
    const fm = frontMatterOf(doc(747).content);
    assert.deepEqual(fm.requires, [1193]);
    assert.deepEqual(
      reportsOf("eip-747.md").map((r) => [r.kind, r.line, r.reason]),
      [
        [
          "reference-dropped",
          11,
          "'requires' names 20, which is not imported; kept only in original",
        ],
        [
          "reference-dropped",
          11,
          "'requires' names 1046, which is not imported; kept only in original",
        ],
      ],
    );
    assert.equal(
      (fm.original as { fields: { requires: string } }).fields.requires,
      "20, 1046, 1193",
    );
  });

  it("should keep every body byte for byte", () => {
    for (const d of plan.documents) {
      const source = readFileSync(join(corpus, d.source));
      const search = findFrontMatter(source.toString("utf8"));
      assert.ok(search.found);
      const body = source.subarray(
        Buffer.byteLength(source.toString("utf8").slice(0, search.bodyOffset)),
      );
      const content = Buffer.from(d.content, "utf8");
      assert.ok(
        content.subarray(content.length - body.length).equals(body),
        `${d.source}: body changed`,
      );
      assert.ok(
        content
          .subarray(0, content.length - body.length)
          .toString()
          .endsWith("\n---\n"),
      );
    }
  });

  it("should produce documents that pass lint, under their gdo file names", () => {
    for (const d of plan.documents) {
      const result = lintRfc({ file: d.path, content: d.content, maxBytes: 4 * 1024 * 1024 });
      assert.deepEqual(
        result.diagnostics.filter((x) => x.severity === "error"),
        [],
        d.source,
      );
      assert.match(d.path, /^rfcs\/\d{4,}-[a-z0-9-]+\.md$/);
    }
  });

  it("should list attachments with their lines and local files", () => {
    const one = doc(1);
    assert.deepEqual(one.attachments[0], {
      link: "../assets/eip-1/EIP-process-update.jpg",
      line: 74,
      file: join(corpus, "assets", "eip-1", "EIP-process-update.jpg"),
      ledgerPath: "rfcs/assets/0001/EIP-process-update.jpg",
    });
    const fm = frontMatterOf(one.content);
    assert.equal(
      (fm.attachments as Record<string, string>)["../assets/eip-1/EIP-process-update.jpg"],
      "rfcs/assets/0001/EIP-process-update.jpg",
    );
    const all = plan.documents.flatMap((d) => d.attachments);
    assert.ok(all.length > 100);
    assert.ok(all.every((a) => existsSync(a.file)));
    assert.ok(one.references.some((r) => r.link === "./eip-5.md" && r.rfc === 5));
  });

  it("should report links to files that do not exist, with document and line", () => {
    assert.deepEqual(reportsOf("eip-2330.md"), [
      {
        source: "eip-2330.md",
        kind: "attachment-missing",
        line: 47,
        reason:
          "link '../assets/eip-2330/Extsload.sol' points at assets/eip-2330/Extsload.sol, which does not exist",
      },
    ]);
    assert.ok(doc(2330), "a document with a missing attachment is still imported");
  });

  it("should pass the change validator as one import of the whole archive", async () => {
    const files: Record<string, string | Uint8Array> = {};
    for (const d of plan.documents) {
      files[d.path] = d.content;
      for (const a of d.attachments) files[a.ledgerPath] = new Uint8Array([1]);
    }
    const result = await validateRfcChanges({
      before: memoryTree(),
      after: memoryTree(files),
      changes: Object.keys(files).map((path) => ({ path, kind: "add" })),
    });
    assert.deepEqual(result.diagnostics, []);
    const nonDraft = plan.documents.filter((d) => d.status !== "draft").length;
    assert.equal(result.requirements.length, nonDraft);
    assert.ok(result.requirements.every((r) => r.kind === "import"));
  });

  it("should split author lists on top-level commas only", () => {
    assert.deepEqual(splitAuthors('A <a@x.org>, "B, Jr." (@b), C (@c, @d)'), [
      "A <a@x.org>",
      '"B, Jr." (@b)',
      "C (@c, @d)",
    ]);
  });
});
