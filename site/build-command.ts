/**
 * `npm run build`: the archive site of the ledger at `GDO_LEDGER` (or
 * `<GDO_DATA or .gdo>/ledger.git`) to `dist/`.
 *
 *   npm run build -- [--ledger DIR] [--ref BRANCH] [--out DIR] [--base /path/] [--data DIR] [--strict]
 *
 * With no ledger there yet (a fresh checkout), it builds a preview of the
 * project's own `rfcs/` from a throwaway ledger signed by a throwaway key and
 * says so: `npm run node` makes the real one. Content problems are printed as
 * `file:line:column: severity rule [field]: reason`; exit 1 on a failed build
 * (or content errors with --strict), 0 otherwise.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { GdoError } from "../ledger/errors.ts";
import { Ledger } from "../ledger/ledger.ts";
import { generateKey } from "../ledger/sshkey.ts";
import type { FileEdit } from "../ledger/tree-builder.ts";
import { buildSite, formatDiagnostic } from "./build.ts";

async function folderEdits(dir: string, prefix: string): Promise<FileEdit[]> {
  const edits: FileEdit[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith(".")) continue;
    const path = join(entry.parentPath, entry.name);
    const rel = relative(dir, path).split("\\").join("/");
    if (rel.split("/").some((part) => part.startsWith("."))) continue;
    edits.push({ path: `${prefix}/${rel}`, content: await readFile(path) });
  }
  return edits.sort((a, b) => (a.path < b.path ? -1 : 1));
}

async function previewLedger(
  rfcsDir: string,
): Promise<{ gitdir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "gdo-site-preview-"));
  const gitdir = join(dir, "ledger.git");
  await Ledger.create({
    gitdir,
    key: generateKey("preview"),
    founder: "preview",
    name: "gdo (preview)",
    files: existsSync(rfcsDir) ? await folderEdits(rfcsDir, "rfcs") : [],
    durable: false,
  });
  return { gitdir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * `path` as a reader finds it: relative to `cwd` when inside it, else whole
 * (a node runs the build from the project, its data folder is elsewhere).
 */
export function shown(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  if (rel === "") return ".";
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ledger: { type: "string" },
      ref: { type: "string" },
      out: { type: "string" },
      base: { type: "string" },
      data: { type: "string" },
      strict: { type: "boolean" },
    },
  });
  const cwd = process.cwd();
  const dataDir = resolve(cwd, values.data ?? env.GDO_DATA ?? ".gdo");
  const explicit = values.ledger ?? env.GDO_LEDGER;
  let gitdir = explicit ? resolve(cwd, explicit) : join(dataDir, "ledger.git");
  let cleanup: (() => Promise<void>) | undefined;
  if (!explicit && !existsSync(gitdir)) {
    const preview = await previewLedger(resolve(cwd, "rfcs"));
    gitdir = preview.gitdir;
    cleanup = preview.cleanup;
    console.warn(
      `gdo site: no ledger at ${shown(cwd, join(dataDir, "ledger.git"))}; building a PREVIEW of rfcs/ signed by a throwaway key (run 'npm run node' to create the real ledger)`,
    );
  }
  try {
    const result = await buildSite({
      gitdir,
      outDir: resolve(cwd, values.out ?? "dist"),
      ...(values.ref ? { ref: values.ref } : {}),
      ...((values.base ?? env.GDO_SITE_BASE) ? { base: values.base ?? env.GDO_SITE_BASE } : {}),
      ...(existsSync(dataDir) ? { dataDir } : {}),
      strict: values.strict ?? false,
    });
    for (const d of result.diagnostics) console.warn(formatDiagnostic(d));
    console.log(
      `gdo site: ${result.rfcs} RFCs, ${result.pages} pages, ${result.files} files precached, ${result.diagnostics.length} diagnostics, in ${(result.durationMs / 1000).toFixed(1)} s → ${shown(cwd, result.outDir)}/`,
    );
    return 0;
  } catch (error) {
    if (error instanceof GdoError) {
      console.error(`gdo site: ${error.message} [${error.code}]`);
      return 1;
    }
    throw error;
  } finally {
    await cleanup?.();
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2), process.env);
