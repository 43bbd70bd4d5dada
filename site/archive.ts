/**
 * The archive as pages see it: every RFC rendered, its relations resolved to
 * titles, its "referenced by" list, the blocks and decisions that concern it,
 * and every content problem found on the way (with file, line and field).
 *
 * Everything here is linear in the size of the archive: one pass renders each
 * RFC and records the numbers it mentions; one pass inverts those into
 * "referenced by" lists. No page ever scans all RFCs for itself.
 */
import { posix } from "node:path";
import type { Diagnostic } from "../plugins/api.ts";
import type { Decision } from "../plugins/rfc/decisions.ts";
import { FILE_NAME, type RfcStatus } from "../plugins/rfc/format.ts";
import { type Heading, type LinkResolution, renderMarkdown } from "./markdown.ts";
import type { BlockSummary, Snapshot } from "./snapshot.ts";

export interface RfcLink {
  number: number;
  title?: string;
}

export interface RfcEntry {
  number: number;
  path: string;
  title: string;
  description?: string;
  status: RfcStatus | "unknown";
  category?: string;
  authors: string[];
  created?: string;
  updated?: string;
  lastCallDeadline?: string;
  discussion?: string;
  requires: RfcLink[];
  obsoletes: RfcLink[];
  updates: RfcLink[];
  supersededBy?: RfcLink;
  referencedBy: RfcLink[];
  html: string;
  headings: Heading[];
  blocks: BlockSummary[];
  decisions: Decision[];
  /** The most recent decision's time (seconds), for "latest" lists. */
  decidedAt?: number;
}

/** Where each served attachment is first used, for reports about the file itself. */
export interface AttachmentUse {
  /** Ledger path of the stored file (a `.blob` pointer or the file itself). */
  stored: string;
  /** Site path the file is served at (relative to the site's base). */
  served: string;
  file: string;
  line: number;
}

export interface Archive {
  rfcs: RfcEntry[];
  attachments: AttachmentUse[];
  diagnostics: Diagnostic[];
}

/** Mentions of other RFCs in running text: "RFC 12", "RFC-12". */
const MENTION = /\bRFC[- ]?(\d{1,6})\b/g;
/** In documents imported from the EIP archive (same numbers): "EIP-12", "ERC-20". */
const EIP_MENTION = /\b(?:EIP|ERC)[- ]?(\d{1,6})\b/g;
const FOREIGN_DOC = /^(?:eip|erc)-(\d+)\.md$/i;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

export function buildArchive(snapshot: Snapshot, { base }: { base: string }): Archive {
  const diagnostics: Diagnostic[] = [];
  const attachments = new Map<string, AttachmentUse>();
  const stored = new Set(snapshot.attachments.map((f) => f.path));
  const numbers = new Map<number, string>();
  const titles = new Map<number, string>();
  for (const source of snapshot.rfcs) {
    const other = numbers.get(source.number);
    if (other) {
      diagnostics.push({
        file: source.path,
        line: 1,
        column: 1,
        ruleId: "duplicate-number",
        field: "rfc",
        reason: `RFC ${source.number} is also ${other}; only the first is shown`,
        severity: "error",
        source: "site",
      });
      continue;
    }
    numbers.set(source.number, source.path);
    titles.set(source.number, source.fields.title ?? source.path);
  }
  const link = (n: number): RfcLink => ({
    number: n,
    ...(titles.has(n) ? { title: titles.get(n)! } : {}),
  });
  const decisionsOf = new Map<number, Decision[]>();
  for (const d of snapshot.decisions) {
    const list = decisionsOf.get(d.rfc) ?? [];
    list.push(d);
    decisionsOf.set(d.rfc, list);
  }

  const mentions = new Map<number, Set<number>>();
  const rfcs: RfcEntry[] = [];
  for (const source of snapshot.rfcs) {
    if (numbers.get(source.number) !== source.path) continue;
    for (const d of source.diagnostics) diagnostics.push({ ...d, source: d.source ?? "rfc" });
    const fields = source.fields;
    const refs = new Set<number>();
    const report = (line: number, ruleId: string, reason: string, severity: "error" | "warning") =>
      diagnostics.push({
        file: source.path,
        line,
        column: 1,
        ruleId,
        reason,
        severity,
        source: "site",
      });
    const resolveLink = ({ url, line }: { url: string; line: number }): LinkResolution => {
      if (url.startsWith("#") || url.startsWith("//") || SCHEME.test(url)) return { kind: "keep" };
      const [pathPart, hash = ""] = splitUrl(url);
      if (pathPart === "") return { kind: "keep" };
      const declared = fields.attachments?.[url] ?? fields.attachments?.[pathPart];
      const candidate =
        declared ?? posix.normalize(posix.join(posix.dirname(source.path), pathPart));
      if (declared || candidate.startsWith("rfcs/assets/")) {
        const file = stored.has(candidate)
          ? candidate
          : stored.has(`${candidate}.blob`)
            ? `${candidate}.blob`
            : undefined;
        if (!file) {
          report(
            line,
            "attachment-missing",
            `links to ${url}, which is not in the ledger`,
            "warning",
          );
          return { kind: "drop" };
        }
        const served = candidate;
        if (!attachments.has(file))
          attachments.set(file, { stored: file, served, file: source.path, line });
        return { kind: "rewrite", url: `${base}${encodePath(served)}${hash}` };
      }
      const name = posix.basename(pathPart);
      const target = Number(FILE_NAME.exec(name)?.[1] ?? FOREIGN_DOC.exec(name)?.[1] ?? Number.NaN);
      if (Number.isSafeInteger(target)) {
        refs.add(target);
        if (numbers.has(target)) return { kind: "rewrite", url: `${base}rfcs/${target}/${hash}` };
        report(
          line,
          "reference-missing",
          `links to RFC ${target}, which is not in the archive`,
          "warning",
        );
        return { kind: "drop" };
      }
      if (/\.[a-z0-9]{1,5}$/i.test(pathPart) && !pathPart.endsWith(".md")) {
        report(
          line,
          "attachment-missing",
          `links to ${url}, which is not in the ledger`,
          "warning",
        );
      } else {
        report(
          line,
          "link-unresolved",
          `relative link ${url} points outside the archive`,
          "warning",
        );
      }
      return { kind: "drop" };
    };
    const rendered = renderMarkdown({ text: source.text, resolveLink });
    for (const match of source.text.matchAll(MENTION)) refs.add(Number(match[1]));
    if (fields.original?.format === "eip") {
      for (const match of source.text.matchAll(EIP_MENTION)) refs.add(Number(match[1]));
    }
    for (const n of [
      ...(fields.requires ?? []),
      ...(fields.obsoletes ?? []),
      ...(fields.updates ?? []),
    ])
      refs.add(n);
    if (fields["superseded-by"]) refs.add(fields["superseded-by"]);
    refs.delete(source.number);
    for (const n of refs) {
      if (!numbers.has(n)) continue;
      const set = mentions.get(n) ?? new Set();
      set.add(source.number);
      mentions.set(n, set);
    }
    const decisions = decisionsOf.get(source.number) ?? [];
    rfcs.push({
      number: source.number,
      path: source.path,
      title: fields.title ?? source.path,
      ...(fields.description ? { description: fields.description } : {}),
      status: fields.status ?? "unknown",
      ...(fields.category ? { category: fields.category } : {}),
      authors: fields.authors ?? [],
      ...(fields.created ? { created: fields.created } : {}),
      ...(fields.updated ? { updated: fields.updated } : {}),
      ...(fields["last-call-deadline"] ? { lastCallDeadline: fields["last-call-deadline"] } : {}),
      ...(fields.discussion ? { discussion: fields.discussion } : {}),
      requires: (fields.requires ?? []).map(link),
      obsoletes: (fields.obsoletes ?? []).map(link),
      updates: (fields.updates ?? []).map(link),
      ...(fields["superseded-by"] ? { supersededBy: link(fields["superseded-by"]) } : {}),
      referencedBy: [],
      html: rendered.html,
      headings: rendered.headings,
      blocks: snapshot.history.get(source.path) ?? [],
      decisions,
      ...(decisions.length > 0 ? { decidedAt: decisions[decisions.length - 1]!.timestamp } : {}),
    });
  }
  for (const rfc of rfcs) {
    rfc.referencedBy = [...(mentions.get(rfc.number) ?? [])].sort((a, b) => a - b).map(link);
  }
  return { rfcs, attachments: [...attachments.values()], diagnostics };
}

function splitUrl(url: string): [string, string] {
  const cut = url.search(/[?#]/);
  if (cut === -1) return [safeDecode(url), ""];
  const hashAt = url.indexOf("#");
  return [safeDecode(url.slice(0, cut)), hashAt === -1 ? "" : url.slice(hashAt)];
}

function safeDecode(s: string): string {
  try {
    return decodeURI(s);
  } catch {
    return s;
  }
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}
