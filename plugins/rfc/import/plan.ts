/**
 * Import planning: reads a directory in another archive format and says which
 * gdo RFC documents (and attachments) it becomes. Pure planning — it reads the
 * input directory and writes nothing; the ledger's block writer applies a plan.
 *
 * Invariant, whatever the input: every source document is either in
 * `documents` or in exactly one report of kind `skipped`:
 *
 *   sources = documents.length + reports.filter(r => r.kind === "skipped").length
 *
 * Other reports concern documents that are imported: a linked file that does
 * not exist, a field or reference that could not be carried over. Nothing is
 * dropped silently: the source's own header is kept in the `original` field.
 *
 * Each planned document is checked with the RFC linter before it is returned,
 * and its body (everything after the source's header) is the author's bytes,
 * unchanged. Lines in reports and attachments are lines of the source file.
 */
import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";
import type { Nodes, Root } from "mdast";
import { Document, isSeq } from "yaml";
import { FormatError, NotFoundError } from "../../../ledger/errors.ts";
import {
  attachmentFolder,
  DEFAULT_MAX_BYTES,
  RFC_FIELDS,
  type RfcFrontMatter,
  type RfcStatus,
  rfcPath,
} from "../format.ts";
import { parseMarkdown } from "../front-matter.ts";
import { lintRfc } from "../lint.ts";
import { eipMapper } from "./eip.ts";
import { kramdownRfcMapper } from "./kramdown-rfc.ts";
import type { ImportMapper, MapOutcome } from "./mapper.ts";

/** The mappers `format` can name; "auto" picks the one claiming most files. */
export const MAPPERS: readonly ImportMapper[] = [eipMapper, kramdownRfcMapper];

export interface PlanImportOptions {
  /** The foreign archive's root directory. */
  dir: string;
  /** A mapper's format name, or "auto" (default). */
  format?: string;
  /** RFC numbers already in the ledger: sources using them are skipped, references to them kept. */
  existing?: Iterable<number>;
  /** Size limit of one source document; default 1 MiB, as for RFCs. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface PlannedAttachment {
  /** The link as written in the body (`../assets/eip-1/x.png#frag`). */
  link: string;
  /** 1-based line in the source file. */
  line: number;
  /** Absolute local path of the linked file. */
  file: string;
  /** Where the file goes in the ledger: `rfcs/assets/NNNN/…`. */
  ledgerPath: string;
}

export interface PlannedReference {
  link: string;
  line: number;
  /** The RFC the link points at (the site can rewrite the link to it). */
  rfc: number;
}

export interface PlannedDocument {
  /** Path of the source document relative to `dir`. */
  source: string;
  /** Ledger path, `rfcs/NNNN-slug.md`. */
  path: string;
  /** The whole new document: gdo front matter, then the author's body byte for byte. */
  content: string;
  rfc: number;
  status: RfcStatus;
  attachments: PlannedAttachment[];
  /** Links to other documents of the source archive. */
  references: PlannedReference[];
}

export type ImportReportKind =
  | "skipped"
  | "attachment-missing"
  | "link-outside"
  | "reference-dropped"
  | "field-dropped";

export interface ImportReport {
  source: string;
  line?: number;
  kind: ImportReportKind;
  reason: string;
}

export interface ImportPlan {
  format: string;
  /** How many source documents the mapper found. */
  sources: number;
  /** Sorted by RFC number. */
  documents: PlannedDocument[];
  /** Sorted by source, then line. */
  reports: ImportReport[];
}

/** How many source files are read at once. */
const READ_BATCH = 32;

interface Candidate {
  source: string;
  text: string;
  outcome: Extract<MapOutcome, { kind: "document" }>;
  rfc: number;
  /** The body's links, found once (Markdown parsing is the planner's main cost). */
  links?: FoundLink[];
}

/**
 * Plans the import of the archive in `dir`.
 *
 * @throws NotFoundError when `dir` cannot be listed.
 * @throws FormatError when `format` names no mapper, or "auto" finds no documents.
 */
export async function planImport(options: PlanImportOptions): Promise<ImportPlan> {
  const { dir, signal } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const files = await listFiles(dir);
  const fileSet = new Set(files);
  const mapper = pickMapper(options.format ?? "auto", files, dir);
  const sources = mapper.documents(files);
  const reports: ImportReport[] = [];
  const skip = (source: string, reason: string, line?: number) =>
    reports.push({ source, kind: "skipped", reason, ...(line === undefined ? {} : { line }) });

  // 1. Map every source.
  const mapped: Array<{ source: string; text: string; outcome: MapOutcome }> = [];
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const read = async (source: string) => {
    const file = join(dir, source);
    const { size } = await stat(file);
    // A file over the limit is refused unread.
    return size > maxBytes ? { source, size } : { source, size, bytes: await readFile(file) };
  };
  const loaded: Array<{ source: string; size: number; bytes?: Buffer }> = [];
  for (let i = 0; i < sources.length; i += READ_BATCH) {
    signal?.throwIfAborted();
    loaded.push(...(await Promise.all(sources.slice(i, i + READ_BATCH).map(read))));
  }
  for (const { source, size, bytes } of loaded) {
    signal?.throwIfAborted();
    if (!bytes) {
      skip(source, `file is ${size} bytes, over the ${maxBytes}-byte limit`);
      continue;
    }
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      skip(source, "file is not valid UTF-8");
      continue;
    }
    const outcome = mapper.map({ source, text });
    if (outcome.kind === "skip") skip(source, outcome.reason, outcome.line);
    else mapped.push({ source, text, outcome });
  }

  // 2. Numbers: native ones first (first source wins), then the next free ones.
  const existing = new Set(options.existing ?? []);
  const taken = new Map<number, string>();
  let candidates: Candidate[] = [];
  for (const { source, text, outcome } of mapped) {
    if (outcome.kind !== "document" || outcome.rfc === undefined) continue;
    const other = taken.get(outcome.rfc);
    if (existing.has(outcome.rfc))
      skip(source, `RFC ${outcome.rfc} already exists in the ledger`, outcome.fieldLines.rfc);
    else if (other) skip(source, `number ${outcome.rfc} is already used by ${other}`);
    else {
      taken.set(outcome.rfc, source);
      candidates.push({ source, text, outcome, rfc: outcome.rfc });
    }
  }
  let next = Math.max(0, ...taken.keys(), ...existing) + 1;
  for (const { source, text, outcome } of mapped) {
    if (outcome.kind !== "document" || outcome.rfc !== undefined) continue;
    candidates.push({ source, text, outcome, rfc: next++ });
  }

  // 3. Lint each document as it would be written (references not yet pruned),
  // so that the set of imported numbers is final before references are checked.
  candidates = candidates.filter((c) => {
    const { content, path } = render(c, mapper, fileSet, dir, undefined);
    const errors = lintRfc({
      file: path,
      content,
      maxBytes: Number.POSITIVE_INFINITY,
    }).diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0) skip(c.source, errors.map((d) => `${d.ruleId}: ${d.reason}`).join("; "));
    return errors.length === 0;
  });
  const imported = new Set([...existing, ...candidates.map((c) => c.rfc)]);

  // 4. The final documents.
  const documents: PlannedDocument[] = [];
  for (const c of candidates) {
    signal?.throwIfAborted();
    const planned = render(c, mapper, fileSet, dir, imported);
    reports.push(...planned.reports);
    documents.push(planned.document);
  }
  documents.sort((a, b) => a.rfc - b.rfc);
  reports.sort(
    (a, b) =>
      (a.source < b.source ? -1 : a.source > b.source ? 1 : 0) || (a.line ?? 0) - (b.line ?? 0),
  );
  return { format: mapper.format, sources: sources.length, documents, reports };
}

/** Builds one document; with `imported`, prunes references to RFCs not in it. */
function render(
  c: Candidate,
  mapper: ImportMapper,
  fileSet: Set<string>,
  dir: string,
  imported: Set<number> | undefined,
) {
  const { source, text, outcome, rfc } = c;
  const reports: ImportReport[] = outcome.notes.map((n) => ({
    source,
    kind: n.kind,
    reason: n.reason,
    ...(n.line === undefined ? {} : { line: n.line }),
  }));
  const fields: Record<string, unknown> = { rfc, ...outcome.fields };
  for (const field of ["requires", "obsoletes", "updates", "superseded-by"] as const) {
    const value = outcome.fields[field];
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    const kept = list.filter((n) => {
      const missing = n === rfc || (imported !== undefined && !imported.has(n));
      if (missing && imported !== undefined)
        reports.push({
          source,
          kind: "reference-dropped",
          reason: `'${field}' names ${n === rfc ? "the document itself" : `${n}, which is not imported`}; kept only in original`,
          line: outcome.fieldLines[field] ?? 1,
        });
      return !missing;
    });
    if (kept.length === 0 || (field === "superseded-by" && kept.length !== 1)) delete fields[field];
    else fields[field] = Array.isArray(value) ? kept : kept[0];
  }

  c.links ??= findLinks(text, outcome.bodyOffset);
  const links = c.links;
  const attachments: PlannedAttachment[] = [];
  const references: PlannedReference[] = [];
  const attachmentMap: Record<string, string> = {};
  for (const { url, line } of links) {
    const target = mapper.resolveLink(url.path, source);
    if (target.kind === "document") references.push({ link: url.raw, line, rfc: target.rfc });
    else if (target.kind === "outside")
      reports.push({
        source,
        kind: "link-outside",
        reason: `link '${url.raw}' leaves the import directory`,
        line,
      });
    else if (!fileSet.has(target.path))
      reports.push({
        source,
        kind: "attachment-missing",
        reason: `link '${url.raw}' points at ${target.path}, which does not exist`,
        line,
      });
    else {
      const ledgerPath = attachmentFolder(rfc) + mapper.attachmentName(target.path, rfc, source);
      attachments.push({
        link: url.raw,
        line,
        file: join(dir, ...target.path.split("/")),
        ledgerPath,
      });
      attachmentMap[url.key] = ledgerPath;
    }
  }
  if (Object.keys(attachmentMap).length > 0) fields.attachments = attachmentMap;
  fields.original = { format: mapper.format, source, fields: outcome.original };

  const title = outcome.fields.title;
  const path = rfcPath(rfc, title);
  const content = `---\n${stringifyFrontMatter(fields)}---\n${text.slice(outcome.bodyOffset)}`;
  const document: PlannedDocument = {
    source,
    path,
    content,
    rfc,
    status: outcome.fields.status,
    attachments,
    references,
  };
  return { document, reports, content, path };
}

/**
 * YAML for a gdo front matter: fields in the format's order, reference lists
 * in flow style (`requires: [1, 2]`), long strings never folded.
 */
export function stringifyFrontMatter(fields: Record<string, unknown>): string {
  const ordered: Record<string, unknown> = {};
  for (const name of Object.keys(RFC_FIELDS))
    if (fields[name] !== undefined) ordered[name] = fields[name];
  for (const [name, value] of Object.entries(fields)) if (!(name in ordered)) ordered[name] = value;
  const doc = new Document(ordered as Partial<RfcFrontMatter>);
  for (const name of ["requires", "obsoletes", "updates"]) {
    const node = doc.get(name, true);
    if (isSeq(node)) node.flow = true;
  }
  return doc.toString({ lineWidth: 0 });
}

interface FoundLink {
  url: { raw: string; path: string; key: string };
  line: number;
}

/** Relative links and images in the body (Markdown and `src`/`href` in HTML), with source lines. */
function findLinks(text: string, bodyOffset: number): FoundLink[] {
  const found: FoundLink[] = [];
  const add = (raw: string, line: number) => {
    const url = relativeUrl(raw);
    if (url) found.push({ url, line });
  };
  const visit = (node: Nodes) => {
    const start = node.position?.start;
    if (start && (start.offset ?? 0) >= bodyOffset) {
      // `[^1]: …` is a footnote in GFM (which EIPs are written for), not a link definition.
      if (node.type === "definition" && node.label?.startsWith("^")) return;
      if (node.type === "link" || node.type === "image" || node.type === "definition")
        add(node.url, start.line);
      else if (node.type === "html") {
        for (const m of node.value.matchAll(/\b(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi))
          add(m[1] ?? m[2] ?? "", start.line + countLines(node.value, m.index));
      }
    }
    if ("children" in node) for (const child of node.children) visit(child as Nodes);
  };
  visit(parseMarkdown(text) as Root);
  return found;
}

function countLines(text: string, end: number): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** A link to a local file, split; undefined for absolute URLs, fragments and empty links. */
function relativeUrl(raw: string) {
  const trimmed = raw.trim();
  if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith("//")) return undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(trimmed)) return undefined;
  const key = trimmed.split(/[?#]/)[0]!;
  if (key === "") return undefined;
  let path = key;
  try {
    path = decodeURI(key);
  } catch {
    // keep it encoded
  }
  return { raw: trimmed, path, key };
}

function pickMapper(format: string, files: readonly string[], dir: string): ImportMapper {
  if (format !== "auto") {
    const mapper = MAPPERS.find((m) => m.format === format);
    if (!mapper)
      throw new FormatError(
        `unknown import format '${format}' (known: ${MAPPERS.map((m) => m.format).join(", ")}, auto)`,
        { format },
      );
    return mapper;
  }
  let best: ImportMapper | undefined;
  let bestCount = 0;
  for (const mapper of MAPPERS) {
    const count = mapper.documents(files).length;
    if (count > bestCount) {
      best = mapper;
      bestCount = count;
    }
  }
  if (!best) throw new FormatError(`no known archive format found in ${dir}`, { dir });
  return best;
}

/** Every file under `dir`, relative with `/` separators, sorted; dot-folders skipped. */
async function listFiles(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true, encoding: "utf8" });
  } catch (error) {
    throw new NotFoundError(`cannot read import directory ${dir}`, { dir }, { cause: error });
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join(posix.sep))
    .filter((p) => !p.split("/").some((s) => s.startsWith(".")))
    .sort();
}
