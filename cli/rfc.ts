/**
 * `gdo rfc`: the RFC archive. `lint` checks documents on disk with the same
 * rules the ledger applies to every change (lint.ts), plus number reuse and
 * references against the `rfcs/` folder of the current directory.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { NotFoundError, UsageError } from "../ledger/errors.ts";
import type { Diagnostic } from "../plugins/api.ts";
import { RfcLintError } from "../plugins/rfc/errors.ts";
import { DEFAULT_MAX_BYTES, FILE_NAME } from "../plugins/rfc/format.ts";
import { type Command, stringOption } from "./command.ts";
import { rfcImportCommand } from "./rfc-import.ts";
import { rfcNewCommand } from "./rfc-new.ts";

const lint: Command = {
  name: "lint",
  summary: "check RFC documents: front matter, fields, file names, references",
  usage: "rfc lint [files…] [--max-bytes N]",
  options: { "max-bytes": { type: "string" } },
  async run(ctx, args) {
    const maxText = stringOption(args, "max-bytes");
    const maxBytes = maxText === undefined ? DEFAULT_MAX_BYTES : Number(maxText);
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0)
      throw new UsageError(`--max-bytes must be a positive integer, not '${maxText}'`);

    const archive = join(ctx.cwd, "rfcs");
    const archiveFiles = await readdir(archive).catch(() => undefined);
    const files =
      args.positionals.length > 0
        ? args.positionals.map((f) => resolve(ctx.cwd, f))
        : (archiveFiles ?? [])
            .filter((f) => f.endsWith(".md"))
            .sort()
            .map((f) => join(archive, f));
    if (files.length === 0)
      throw new NotFoundError(`no RFCs to lint: no files given and no rfcs/*.md in ${ctx.cwd}`);

    // Numbers in the archive, from file names (lint ties each name to its `rfc`).
    const numbers = new Map<number, string[]>();
    for (const name of archiveFiles ?? []) {
      const match = FILE_NAME.exec(name);
      if (match) {
        const n = Number(match[1]);
        numbers.set(n, [...(numbers.get(n) ?? []), join(archive, name)]);
      }
    }

    // Loaded here, not at the top: the Markdown parser it pulls in would
    // otherwise load with every command, `gdo node` included (5 MB of RSS).
    const { lintRfc, tooLarge } = await import("../plugins/rfc/lint.ts");
    const { referenceDiagnostics } = await import("../plugins/rfc/validate.ts");
    const diagnostics: Diagnostic[] = [];
    for (const path of files) {
      const shown = relative(ctx.cwd, path) || path;
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile()) throw new NotFoundError(`no such file: ${shown}`, { path });
      if (info.size > maxBytes) {
        diagnostics.push(tooLarge(shown, info.size, maxBytes));
        continue;
      }
      const linted = lintRfc({ file: shown, content: await readFile(path), maxBytes });
      diagnostics.push(...linted.diagnostics);
      if (!archiveFiles) continue;
      const rfc = linted.fields.rfc;
      const sharing = rfc === undefined ? [] : (numbers.get(rfc) ?? []).filter((p) => p !== path);
      if (sharing.length > 0) {
        const at = linted.positions.get("rfc") ?? { line: 1, column: 1 };
        diagnostics.push({
          file: shown,
          ...at,
          ruleId: "rfc-number-reused",
          field: "rfc",
          reason: `RFC number ${rfc} is also used by ${sharing.map((p) => relative(ctx.cwd, p)).join(", ")}`,
          severity: "error",
        });
      }
      diagnostics.push(...referenceDiagnostics(shown, linted, (n) => numbers.has(n)));
    }

    for (const d of diagnostics)
      ctx.out(`${d.file}:${d.line}:${d.column}  ${d.severity}  ${d.ruleId}  ${d.reason}\n`);
    const errors = diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0)
      throw new RfcLintError(errors.length, new Set(errors.map((d) => d.file)).size);
    const warnings = diagnostics.length - errors.length;
    ctx.err(
      `${files.length} RFC${files.length === 1 ? "" : "s"} checked: no errors${warnings ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}\n`,
    );
    return 0;
  },
};

export const rfcCommand: Command = {
  name: "rfc",
  summary: "the RFC archive: new drafts, lint, import from other archives",
  usage: "rfc <command> [options]",
  subcommands: [rfcNewCommand, lint, rfcImportCommand],
};
