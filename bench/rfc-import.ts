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
