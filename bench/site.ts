/**
 * `npm run bench -- site [--sizes 250,500,1000]`: the archive site built from
 * the EIP corpus imported into a real ledger, against a bare Astro site over
 * the same Markdown files (glob loader, one page per file, nothing else) built
 * in the same run. Prints pages/s for both, the time ratio (target ≤ 1.3×) and
 * peak RSS of each build (each build runs in its own process, so its peak is
 * its own). Sizes above the corpus's importable documents (584 of 949; the
 * others are "Moved") are reached with renumbered copies of real documents.
 *
 * Not a timed test: run by hand; figures go in the site's RFC (RFC 8).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Ledger } from "../ledger/ledger.ts";
import { generateKey } from "../ledger/sshkey.ts";
import type { FileEdit } from "../ledger/tree-builder.ts";
import { paddedNumber } from "../plugins/rfc/format.ts";
import { planImport } from "../plugins/rfc/import/plan.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CORPUS = process.env.GDO_EIP_CORPUS ?? "/work/shared/corpus/eips";
const NODE = process.execPath;

interface Doc {
  number: number;
  path: string;
  content: string;
  attachments: Array<{ path: string; file: string }>;
}

async function corpusDocs(size: number): Promise<Doc[]> {
  const plan = await planImport({ dir: CORPUS, format: "eip" });
  const real: Doc[] = plan.documents.map((d) => ({
    number: d.rfc,
    path: d.path,
    content: d.content,
    attachments: d.attachments.map((a) => ({ path: a.ledgerPath, file: a.file })),
  }));
  const docs = real.slice(0, size);
  for (let copy = 1; docs.length < size; copy++) {
    for (const d of real) {
      if (docs.length >= size) break;
      const number = copy * 100_000 + d.number;
      const oldPad = paddedNumber(d.number);
      const newPad = paddedNumber(number);
      docs.push({
        number,
        path: d.path.replace(`rfcs/${oldPad}-`, `rfcs/${newPad}-`),
        content: d.content
          .replace(/^rfc: \d+$/m, `rfc: ${number}`)
          .replaceAll(`rfcs/assets/${oldPad}/`, `rfcs/assets/${newPad}/`),
        attachments: d.attachments.map((a) => ({
          path: a.path.replace(`rfcs/assets/${oldPad}/`, `rfcs/assets/${newPad}/`),
          file: a.file,
        })),
      });
    }
  }
  return docs;
}

async function makeLedger(dir: string, docs: Doc[]): Promise<string> {
  const gitdir = join(dir, "ledger.git");
  const key = generateKey("bench");
  const { ledger } = await Ledger.create({
    gitdir,
    key,
    founder: "bench",
    name: "EIP archive",
    durable: false,
  });
  for (let i = 0; i < docs.length; i += 100) {
    const edits: FileEdit[] = [];
    const seen = new Set<string>();
    for (const d of docs.slice(i, i + 100)) {
      edits.push({ path: d.path, content: new TextEncoder().encode(d.content) });
      for (const a of d.attachments) {
        if (seen.has(a.path)) continue;
        seen.add(a.path);
        edits.push({ path: a.path, content: readFileSync(a.file) });
      }
    }
    await ledger.commit({ key, edits, message: `Import EIPs ${i + 1}–${i + edits.length}` });
  }
  return gitdir;
}

/** A bare Astro project: the same Markdown files, a glob loader and one page per file. */
function makeBare(dir: string, docs: Doc[]) {
  const content = join(dir, "src/content/docs");
  mkdirSync(content, { recursive: true });
  mkdirSync(join(dir, "src/pages/docs"), { recursive: true });
  // Links to the corpus's assets are cut: Astro's image pipeline fails the whole build on a
  // missing file or a malformed SVG, and the corpus has both (the gdo site reports them).
  // The baseline therefore does less work than the gdo build (no attachments at all).
  for (const d of docs) {
    const text = d.content.replace(/(\]\(|src=")(\.\.\/assets\/[^)"\s]+)/g, "$1#asset");
    writeFileSync(join(content, d.path.slice("rfcs/".length)), text);
  }
  writeFileSync(
    join(dir, "src/content.config.ts"),
    `import { defineCollection } from "astro:content";
import { glob } from "astro/loaders";
export const collections = { docs: defineCollection({ loader: glob({ pattern: "*.md", base: "./src/content/docs" }) }) };
`,
  );
  writeFileSync(
    join(dir, "src/pages/docs/[id].astro"),
    `---
import { getCollection, render } from "astro:content";
export async function getStaticPaths() {
  return (await getCollection("docs")).map((entry) => ({ params: { id: entry.id }, props: { entry } }));
}
const { entry } = Astro.props;
const { Content } = await render(entry);
---
<html lang="en"><head><title>{entry.data.title}</title></head><body><Content /></body></html>
`,
  );
  writeFileSync(join(dir, "astro.config.mjs"), "export default {};\n");
}

interface Run {
  seconds: number;
  pages: number;
  maxRssMb: number;
  timings?: Record<string, number>;
}

function child(args: string[]): Run {
  const result = spawnSync(NODE, [fileURLToPath(import.meta.url), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ASTRO_TELEMETRY_DISABLED: "1" },
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = result.stdout.trim().split("\n").pop() ?? "";
  const lines = result.stderr.split("\n");
  const report = lines.findIndex((l) => l.startsWith("gdo build reported"));
  if (report >= 0) console.log(lines.slice(report, report + 4).join("\n"));
  const size = lines.find((l) => l.startsWith("gdo site: "));
  if (size) console.log(size);
  if (result.status !== 0 || !line.startsWith("{")) {
    throw new Error(
      `bench child failed (${result.status}):\n${result.stderr
        .split("\n")
        .filter((l) => !l.startsWith("[Shiki]"))
        .join("\n")
        .slice(0, 3000)}`,
    );
  }
  return JSON.parse(line) as Run;
}

async function childMain(mode: string, values: Record<string, string | undefined>) {
  const started = performance.now();
  let pages = 0;
  let timings: Record<string, number> | undefined;
  if (mode === "gdo") {
    const { buildSite } = await import("../site/build.ts");
    const result = await buildSite({
      gitdir: values.gitdir!,
      outDir: values.out!,
      logLevel: "error",
    });
    pages = result.pages;
    timings = result.timings;
    let bytes = 0;
    for (const entry of readdirSync(result.outDir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) bytes += statSync(join(entry.parentPath, entry.name)).size;
    }
    process.stderr.write(
      `gdo site: ${result.files} files precached by the service worker, ${(bytes / 1e6).toFixed(1)} MB\n`,
    );
    const byRule = new Map<string, number>();
    for (const d of result.diagnostics)
      byRule.set(`${d.severity} ${d.ruleId}`, (byRule.get(`${d.severity} ${d.ruleId}`) ?? 0) + 1);
    const { formatDiagnostic } = await import("../site/build.ts");
    process.stderr.write(
      `gdo build reported ${result.diagnostics.length} content problems (none fatal): ${[...byRule]
        .map(([rule, n]) => `${n} ${rule}`)
        .join(", ")}\n  e.g. ${result.diagnostics
        .filter((d) => d.source === "site")
        .slice(0, 3)
        .map(formatDiagnostic)
        .join("\n  e.g. ")}\n`,
    );
  } else {
    const { build } = await import("astro");
    await build({ root: values.root!, outDir: values.out!, logLevel: "error" });
    pages = Number(values.pages);
  }
  const seconds = (performance.now() - started) / 1000;
  const maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  process.stdout.write(`${JSON.stringify({ seconds, pages, maxRssMb, timings })}\n`);
}

async function main() {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      gitdir: { type: "string" },
      out: { type: "string" },
      root: { type: "string" },
      pages: { type: "string" },
      sizes: { type: "string" },
    },
  });
  if (values.child) return childMain(values.child, values);
  const sizes = (values.sizes ?? "250,500,1000").split(",").map(Number);
  const work = resolve(ROOT, "tmp", `bench-site-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    const all = await corpusDocs(Math.max(...sizes));
    console.log(
      `EIP corpus: ${all.length} documents (${CORPUS}); machine: ${process.arch}, node ${process.version}`,
    );
    console.log(
      "size  | gdo site: s, pages/s, peak RSS | bare Astro: s, pages/s, peak RSS | time ratio",
    );
    for (const size of sizes) {
      const docs = all.slice(0, size);
      const dir = join(work, String(size));
      const t = performance.now();
      const gitdir = await makeLedger(dir, docs);
      const importSeconds = (performance.now() - t) / 1000;
      makeBare(join(dir, "bare"), docs);
      const bare = child([
        "--child",
        "bare",
        "--root",
        join(dir, "bare"),
        "--out",
        join(dir, "bare-dist"),
        "--pages",
        String(size),
      ]);
      const gdo = child(["--child", "gdo", "--gitdir", gitdir, "--out", join(dir, "gdo-dist")]);
      const ratio = gdo.seconds / bare.seconds;
      console.log(
        `${String(size).padStart(5)} | ${gdo.seconds.toFixed(1)} s, ${(gdo.pages / gdo.seconds).toFixed(0)} pages/s, ${gdo.maxRssMb} MB | ${bare.seconds.toFixed(1)} s, ${(bare.pages / bare.seconds).toFixed(0)} pages/s, ${bare.maxRssMb} MB | ${ratio.toFixed(2)}× (import into ledger ${importSeconds.toFixed(1)} s)`,
      );
      const phases = gdo.timings ?? {};
      console.log(
        `      | gdo phases: ${Object.entries(phases)
          .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
          .join(", ")}`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
