/**
 * `npm run bench -- rfc-import [dir]`: plans the import of the EIP corpus (or
 * `dir`) and prints the time next to a baseline measured in the same run:
 * reading every source and parsing it once with remark, the least any planner
 * that finds links in Markdown must do.
 */
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseMarkdown } from "../plugins/rfc/front-matter.ts";
import { planImport } from "../plugins/rfc/import/plan.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = process.argv[2] ?? join(root, "..", "shared", "corpus", "eips");

async function baseline() {
  const files = (await readdir(dir)).filter((f) => /^eip-\d+\.md$/.test(f));
  for (const f of files) parseMarkdown(await readFile(join(dir, f), "utf8"));
  return files.length;
}

async function time<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, performance.now() - start];
}

await baseline(); // warm up module loading and the JIT
const [count, base] = await time(baseline);
const [plan, planned] = await time(() => planImport({ dir }));
const skipped = plan.reports.filter((r) => r.kind === "skipped").length;
process.stdout.write(
  [
    `sources      ${plan.sources} (${plan.documents.length} planned, ${skipped} skipped)`,
    `planImport   ${planned.toFixed(0)} ms`,
    `baseline     ${base.toFixed(0)} ms (read + remark-parse ${count} files)`,
    `ratio        ${(planned / base).toFixed(2)}`,
    "",
  ].join("\n"),
);

// Into a ledger: one block per document (references first), then a full
// verification of the imported ledger with the RFC validator, as `gdo verify`.
{
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { Ledger } = await import("../ledger/ledger.ts");
  const { generateKey } = await import("../ledger/sshkey.ts");
  const { Verifier } = await import("../ledger/verify.ts");
  const { SignaturePool } = await import("../ledger/signature-pool.ts");
  const { pluginValidator } = await import("../plugins/validator.ts");
  const { commitGroups } = await import("../plugins/rfc/import/order.ts");
  const work = mkdtempSync(join(tmpdir(), "gdo-bench-import-"));
  const { validate, host } = await pluginValidator();
  try {
    const key = generateKey("alice");
    const { ledger } = await Ledger.create({
      gitdir: join(work, "l.git"),
      key,
      founder: "alice",
      name: "EIPs",
      validate,
      durable: false,
    });
    const encoder = new TextEncoder();
    const { openBlobStore } = await import("../ledger/blobs/blob-store.ts");
    const { createReadStream } = await import("node:fs");
    const store = await openBlobStore({ dataDir: work });
    const pointers = new Map<string, Uint8Array>();
    let blocks = 0;
    const [, importMs] = await time(async () => {
      for (const group of commitGroups(plan.documents)) {
        const edits = new Map<string, Uint8Array>();
        for (const doc of group) {
          edits.set(doc.path, encoder.encode(doc.content));
          for (const a of doc.attachments) {
            let pointer = pointers.get(a.file);
            if (!pointer) {
              pointer = (await store.put({ source: createReadStream(a.file) })).bytes;
              pointers.set(a.file, pointer);
            }
            edits.set(`${a.ledgerPath}.blob`, pointer);
          }
        }
        await ledger.commit({
          key,
          message: `Import ${group.map((d) => d.rfc).join(", ")}`,
          edits: [...edits].map(([path, content]) => ({ path, content })),
        });
        blocks++;
      }
    });
    await store.close();
    const head = await ledger.requireHead();
    const pool = new SignaturePool();
    const [, verifyMs] = await time(() =>
      new Verifier({ objects: ledger.repo, validate, pool }).verify(head),
    );
    await pool.close();
    const [, bareMs] = await time(() => new Verifier({ objects: ledger.repo }).verify(head));
    process.stdout.write(
      [
        `import       ${plan.documents.length} documents in ${blocks} blocks: ${(importMs / 1000).toFixed(1)} s, ${Math.round(plan.documents.length / (importMs / 1000))} documents/s (attachments into the blob store included)`,
        `verify       ${blocks + 1} blocks with the RFC validator: ${(verifyMs / 1000).toFixed(2)} s, ${Math.round((blocks + 1) / (verifyMs / 1000))} blocks/s`,
        `             (signatures and policy only: ${(bareMs / 1000).toFixed(2)} s, ${Math.round((blocks + 1) / (bareMs / 1000))} blocks/s)`,
        "",
      ].join("\n"),
    );
  } finally {
    await host.close();
    rmSync(work, { recursive: true, force: true });
  }
}
