import { createReadStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { openBlobStore } from "../ledger/blobs/blob-store.ts";
import { UsageError } from "../ledger/errors.ts";
import type { FileEdit } from "../ledger/tree-builder.ts";
import { FILE_NAME } from "../plugins/rfc/format.ts";
import { type Command, stringOption } from "./command.ts";
import { loadKey, openLedger } from "./workspace.ts";

const usage = "rfc import DIR [--format eip|kramdown-rfc|auto] [--batch] [--report FILE.json]";

/**
 * Imports another archive: every document becomes an RFC (one block each, or
 * one block with --batch); attachments go to the blob store with a pointer
 * file in the ledger; every document not imported and every missing
 * attachment is reported with its reason. Nothing is dropped silently:
 * documents in = imported + reported.
 */
export const rfcImportCommand: Command = {
  name: "import",
  summary:
    "import an archive in another format (EIPs, kramdown-rfc) as signed blocks, reporting all it could not map",
  usage,
  options: { format: { type: "string" }, batch: { type: "boolean" }, report: { type: "string" } },
  async run(ctx, args) {
    const [dir, ...extra] = args.positionals;
    if (!dir || extra.length > 0) throw new UsageError(`expected one folder\nusage: gdo ${usage}`);
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    const head = await ledger.verifiedBlock(await ledger.requireHead());
    const existing = (await ledger.reader.listFiles(head.tree, "rfcs"))
      .map((f) => FILE_NAME.exec(f.path.slice("rfcs/".length))?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    // Loaded here, not at the top: the Markdown parser it pulls in would
    // otherwise load with every command, `gdo node` included (5 MB of RSS).
    const { planImport } = await import("../plugins/rfc/import/plan.ts");
    const { commitGroups } = await import("../plugins/rfc/import/order.ts");
    const started = performance.now();
    const plan = await planImport({
      dir: resolve(ctx.cwd, dir),
      format: stringOption(args, "format") ?? "auto",
      existing,
    });
    const store = await openBlobStore({ dataDir: ctx.dataDir });
    ctx.defer(() => store.close());
    const stored = new Map<string, Uint8Array>();
    const editsOf = async (doc: (typeof plan.documents)[number]): Promise<FileEdit[]> => {
      const edits: FileEdit[] = [
        { path: doc.path, content: new TextEncoder().encode(doc.content) },
      ];
      for (const attachment of doc.attachments) {
        let pointer = stored.get(attachment.file);
        if (!pointer) {
          pointer = (await store.put({ source: createReadStream(attachment.file) })).bytes;
          stored.set(attachment.file, pointer);
        }
        if (!edits.some((e) => e.path === `${attachment.ledgerPath}.blob`)) {
          edits.push({ path: `${attachment.ledgerPath}.blob`, content: pointer });
        }
      }
      return edits;
    };
    let blocks = 0;
    if (args.values.batch) {
      const edits: FileEdit[] = [];
      for (const doc of plan.documents) edits.push(...(await editsOf(doc)));
      if (edits.length > 0) {
        await ledger.commit({
          key,
          edits,
          message: `Import ${plan.documents.length} ${plan.format} documents from ${dir}`,
        });
        blocks = 1;
      }
    } else {
      // One block per document, references first; documents citing each other go together.
      for (const group of commitGroups(plan.documents)) {
        const edits: FileEdit[] = [];
        for (const doc of group) edits.push(...(await editsOf(doc)));
        await ledger.commit({
          key,
          edits,
          message: `Import RFC ${group.map((d) => d.rfc).join(", ")} from ${group.map((d) => d.source).join(", ")}`,
        });
        blocks++;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const skipped = plan.reports.filter((r) => r.kind === "skipped").length;
    for (const r of plan.reports)
      ctx.out(`${r.source}${r.line ? `:${r.line}` : ""}  ${r.kind}  ${r.reason}\n`);
    ctx.out(
      `${plan.sources} ${plan.format} document(s) in: ${plan.documents.length} imported in ${blocks} block(s), ${skipped} not imported (reported above); ` +
        `${stored.size} attachment(s) stored as blobs; ${plan.reports.length - skipped} other report(s); ${seconds.toFixed(1)} s\n`,
    );
    const reportPath = stringOption(args, "report");
    if (reportPath)
      await writeFile(
        resolve(ctx.cwd, reportPath),
        `${JSON.stringify({ sources: plan.sources, imported: plan.documents.map((d) => ({ source: d.source, path: d.path, rfc: d.rfc })), reports: plan.reports }, null, 2)}\n`,
      );
    return 0;
  },
};
