/**
 * The RFC archive's change validator: decides whether a change to `rfcs/**`
 * is acceptable, and what approvals it needs beyond the path policy.
 *
 * Layout it enforces:
 *
 * ```
 * rfcs/NNNN-slug.md            RFC documents (lint.ts checks each one)
 * rfcs/assets/NNNN/<any path>  files RFC NNNN links to (listed in its `attachments`)
 * ```
 *
 * Cross-file rules (rule ids): rfc-number-reused, rfc-number-changed,
 * requires-missing, obsoletes-missing, updates-missing, superseded-by-missing,
 * obsoleted-without-successor, illegal-transition, new-rfc-not-draft,
 * rfc-deleted, attachment-missing, attachment-orphan, unexpected-file; plus every
 * lint.ts rule for each added or modified document.
 *
 * Requirements it states (the ledger's policy maps kinds to approvals):
 * - `{ kind: "status-change", path, rfc, from, to }` for every status change
 *   (`from` is null when the previous version had no readable status);
 * - `{ kind: "import", path, rfc, status }` for a new RFC added in a status
 *   other than `draft`, which is allowed only for imports: documents carrying
 *   an `original` provenance field.
 *
 * Deterministic: it reads only the two trees it is given. It trusts file names
 * of unchanged documents for their numbers (every earlier change was validated,
 * and lint ties the file name to `rfc`), so it reads only changed documents,
 * except when a rule needs every document's fields (obsoleted, deleted attachments).
 */
import type {
  Change,
  Diagnostic,
  Requirement,
  TreeView,
  ValidationInput,
  ValidationResult,
} from "../api.ts";
import {
  FILE_NAME,
  paddedNumber,
  REFERENCE_FIELDS,
  type RfcFrontMatter,
  type RfcStatus,
} from "./format.ts";
import { isLegalTransition, TRANSITIONS } from "./lifecycle.ts";
import { type LintedRfc, lintRfc, type Position } from "./lint.ts";

export interface RfcValidatorOptions {
  /** Size limit of one RFC document in bytes; default 1 MiB. */
  maxBytes?: number;
}

export interface StatusChangeRequirement extends Requirement {
  kind: "status-change";
  rfc: number;
  from: RfcStatus | null;
  to: RfcStatus;
}

export interface ImportRequirement extends Requirement {
  kind: "import";
  rfc: number;
  status: RfcStatus;
}

const DOCUMENT = /^rfcs\/[^/]+\.md$/;
const ATTACHMENT = /^rfcs\/assets\/(\d{4,})\/[^/].*$/;

/** Is `path` an RFC document's path (directly in rfcs/, ending in .md)? */
export function isDocumentPath(path: string): boolean {
  return DOCUMENT.test(path);
}

/** The RFC number a document path's file name states, if it is well formed. */
function numberOfPath(path: string): number | undefined {
  const match = FILE_NAME.exec(path.slice(path.lastIndexOf("/") + 1));
  return match ? Number(match[1]) : undefined;
}

export async function validateRfcChanges(
  input: ValidationInput,
  options: RfcValidatorOptions = {},
): Promise<ValidationResult> {
  const { before, after } = input;
  const diagnostics: Diagnostic[] = [];
  const requirements: Requirement[] = [];
  const report = (
    file: string,
    ruleId: string,
    reason: string,
    at: Position = { line: 1, column: 1 },
    field?: string,
  ) =>
    diagnostics.push({
      file,
      line: at.line,
      column: at.column,
      ruleId,
      reason,
      severity: "error",
      ...(field === undefined ? {} : { field }),
    });
  const lint = async (tree: TreeView, path: string): Promise<LintedRfc | undefined> => {
    const bytes = await tree.read(path);
    return bytes === undefined
      ? undefined
      : lintRfc({ file: path, content: bytes, maxBytes: options.maxBytes });
  };

  // Numbers of the documents after the change, from their file names.
  const afterFiles = await after.list("rfcs");
  const byNumber = new Map<number, string[]>();
  for (const path of afterFiles) {
    const n = isDocumentPath(path) ? numberOfPath(path) : undefined;
    if (n !== undefined) byNumber.set(n, [...(byNumber.get(n) ?? []), path]);
  }
  const afterSet = new Set(afterFiles);
  let everyDocument: Promise<Map<string, Partial<RfcFrontMatter>>> | undefined;
  const allFields = () => {
    everyDocument ??= (async () => {
      const map = new Map<string, Partial<RfcFrontMatter>>();
      for (const path of afterFiles.filter(isDocumentPath).sort())
        map.set(path, (await lint(after, path))?.fields ?? {});
      return map;
    })();
    return everyDocument;
  };

  const changes = [...input.changes].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  );
  const documents = changes.filter((c) => isDocumentPath(c.path));
  const others = changes.filter((c) => !isDocumentPath(c.path));

  // Renames: a deleted document whose number reappears in an added one.
  const deleted = new Map<number, Change>();
  for (const change of documents) {
    if (change.kind !== "delete") continue;
    const n = numberOfPath(change.path);
    if (n !== undefined) deleted.set(n, change);
  }
  const renamedFrom = new Map<string, string>();

  for (const change of documents) {
    if (change.kind === "delete") continue;
    const now = await lint(after, change.path);
    if (!now) {
      report(change.path, "unexpected-file", `'${change.path}' is listed as changed but is absent`);
      continue;
    }
    diagnostics.push(...now.diagnostics);
    const cur = now.fields;
    const where = (name: string) => now.positions.get(name) ?? { line: 1, column: 1 };
    let previousPath: string | undefined;
    if (change.kind === "modify") previousPath = change.path;
    else if (cur.rfc !== undefined && deleted.has(cur.rfc)) {
      previousPath = deleted.get(cur.rfc)!.path;
      renamedFrom.set(previousPath, change.path);
    }

    // Lifecycle.
    if (previousPath !== undefined) {
      const prev = (await lint(before, previousPath))?.fields ?? {};
      if (prev.rfc !== undefined && cur.rfc !== undefined && prev.rfc !== cur.rfc)
        report(
          change.path,
          "rfc-number-changed",
          `the RFC number changed from ${prev.rfc} to ${cur.rfc}; a new number is a new RFC`,
          where("rfc"),
          "rfc",
        );
      if (cur.status !== undefined && cur.rfc !== undefined && prev.status !== cur.status) {
        if (prev.status === undefined)
          requirements.push(statusChange(change.path, cur.rfc, null, cur.status));
        else if (isLegalTransition(prev.status, cur.status))
          requirements.push(statusChange(change.path, cur.rfc, prev.status, cur.status));
        else {
          const legal = TRANSITIONS[prev.status];
          report(
            change.path,
            "illegal-transition",
            `status cannot go from '${prev.status}' to '${cur.status}'; from '${prev.status}' it may go to ${legal.length ? legal.join(", ") : "nothing (terminal)"}`,
            where("status"),
            "status",
          );
        }
      }
    } else if (cur.status !== undefined && cur.rfc !== undefined && cur.status !== "draft") {
      if (cur.original !== undefined || input.genesis)
        requirements.push({
          kind: "import",
          path: change.path,
          rfc: cur.rfc,
          status: cur.status,
        } satisfies ImportRequirement);
      else
        report(
          change.path,
          "new-rfc-not-draft",
          `a new RFC must start as 'draft', not '${cur.status}' (only imports, with an 'original' field, may start later in the lifecycle)`,
          where("status"),
          "status",
        );
    }

    // Numbers and references.
    if (cur.rfc !== undefined) {
      const sharing = (byNumber.get(cur.rfc) ?? []).filter((p) => p !== change.path);
      if (sharing.length > 0)
        report(
          change.path,
          "rfc-number-reused",
          `RFC number ${cur.rfc} is also used by ${sharing.join(", ")}`,
          where("rfc"),
          "rfc",
        );
    }
    diagnostics.push(...referenceDiagnostics(change.path, now, (n) => byNumber.has(n)));
    if (cur.status === "obsoleted" && cur.rfc !== undefined) {
      const rfc = cur.rfc;
      const successors = [...(await allFields()).values()].filter((f) =>
        f.obsoletes?.includes(rfc),
      );
      if (successors.length === 0)
        report(
          change.path,
          "obsoleted-without-successor",
          `RFC ${rfc} is obsoleted but no RFC lists it in 'obsoletes'`,
          where("status"),
          "status",
        );
    }
    for (const [link, target] of Object.entries(cur.attachments ?? {})) {
      // An attachment is the file itself or its blob-store pointer (`<name>.blob`).
      if (!afterSet.has(target) && !afterSet.has(`${target}.blob`))
        report(
          change.path,
          "attachment-missing",
          `attachment '${link}' points at '${target}', which is not in the ledger`,
          where("attachments"),
          "attachments",
        );
    }
  }

  for (const change of documents) {
    if (change.kind !== "delete" || renamedFrom.has(change.path)) continue;
    const n = numberOfPath(change.path);
    report(
      change.path,
      "rfc-deleted",
      `RFC documents are never deleted${n === undefined ? "" : `; RFC ${n} can be withdrawn, obsoleted or superseded instead`}`,
    );
  }

  for (const change of others) {
    const match = ATTACHMENT.exec(change.path);
    if (!match) {
      if (change.kind !== "delete")
        report(
          change.path,
          "unexpected-file",
          `'${change.path}' is neither an RFC (rfcs/NNNN-slug.md) nor an attachment (rfcs/assets/NNNN/…)`,
        );
      continue;
    }
    const n = Number(match[1]);
    if (change.kind !== "delete") {
      if (match[1] !== paddedNumber(n) || !byNumber.has(n))
        report(
          change.path,
          "attachment-orphan",
          `attachment folder rfcs/assets/${match[1]}/ belongs to no RFC (expected rfcs/${paddedNumber(n)}-….md)`,
        );
      continue;
    }
    for (const [path, fields] of await allFields()) {
      for (const [link, target] of Object.entries(fields.attachments ?? {}))
        if (target === change.path || `${target}.blob` === change.path)
          report(
            path,
            "attachment-missing",
            `deleting '${target}' breaks attachment '${link}' of ${path}`,
            { line: 1, column: 1 },
            "attachments",
          );
    }
  }

  diagnostics.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0),
  );
  return { diagnostics, requirements };
}

/**
 * `requires-missing`, `obsoletes-missing`, `updates-missing`,
 * `superseded-by-missing`: references in `linted` to RFCs for which `exists`
 * is false, at the line of the offending list item.
 */
export function referenceDiagnostics(
  file: string,
  linted: LintedRfc,
  exists: (rfc: number) => boolean,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const field of REFERENCE_FIELDS) {
    const value = linted.fields[field];
    const numbers = value === undefined ? [] : Array.isArray(value) ? value : [value];
    numbers.forEach((n, i) => {
      if (exists(n)) return;
      const at = linted.positions.get(Array.isArray(value) ? `${field}.${i}` : field) ??
        linted.positions.get(field) ?? { line: 1, column: 1 };
      out.push({
        file,
        line: at.line,
        column: at.column,
        ruleId: `${field}-missing`,
        field,
        reason: `'${field}' names RFC ${n}, which does not exist`,
        severity: "error",
      });
    });
  }
  return out;
}

function statusChange(
  path: string,
  rfc: number,
  from: RfcStatus | null,
  to: RfcStatus,
): StatusChangeRequirement {
  return { kind: "status-change", path, rfc, from, to };
}
