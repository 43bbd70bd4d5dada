/**
 * Maps kramdown-rfc sources (IETF Internet-Drafts written in Markdown,
 * `draft-*.md`) to gdo RFCs. The YAML header starts with `---` and ends at the
 * first line starting with `---`, usually `--- abstract`; that line and all
 * after it are the author's body, kept byte for byte (kramdown-rfc's section
 * markers `--- abstract`, `--- middle`, `--- back` stay in it).
 *
 * | kramdown-rfc           | gdo                                                  |
 * |------------------------|------------------------------------------------------|
 * | number (published RFC) | rfc, and status final                                |
 * | (no number: a draft)   | the next free number, status draft                   |
 * | title                  | title                                                |
 * | author: [{name, ins, email}] | authors: "Name <email>" (name, else ins)      |
 * | date (YYYY-MM-DD)      | created (a source without a full date is skipped)    |
 * | category (std, info…)  | category (spelled out: "Standards Track"…)           |
 * | updates, obsoletes     | updates, obsoletes (numbers not imported are dropped, reported) |
 * | docname, abbrev, ipr, area, workgroup, normative… | only in original.fields   |
 */
import { posix } from "node:path";
import type { ImportMapper, LinkTarget, MapNote, MapOutcome, SourceFile } from "./mapper.ts";
import { numberList } from "./number-list.ts";
import { yamlFields } from "./yaml-fields.ts";

const CATEGORY: Readonly<Record<string, string>> = {
  std: "Standards Track",
  info: "Informational",
  exp: "Experimental",
  bcp: "Best Current Practice",
  historic: "Historic",
};

const DOCUMENT = /(?:^|\/)draft-[^/]+\.md$/;

export const kramdownRfcMapper: ImportMapper = {
  format: "kramdown-rfc",

  documents(files) {
    return files.filter((f) => DOCUMENT.test(f));
  },

  map({ text }: SourceFile): MapOutcome {
    const firstEol = text.indexOf("\n");
    if (!/^---\s*$/.test(text.slice(0, firstEol === -1 ? text.length : firstEol)))
      return { kind: "skip", reason: "no YAML header (first line is not '---')", line: 1 };
    let end = -1;
    let bodyOffset = -1;
    for (let at = firstEol + 1; at > 0 && at < text.length; ) {
      const eol = text.indexOf("\n", at);
      const line = text.slice(at, eol === -1 ? text.length : eol);
      if (/^---(\s|$)/.test(line)) {
        end = at;
        // A bare `---` closes the header; `--- abstract` also opens the body.
        bodyOffset = /^---\s*$/.test(line) ? (eol === -1 ? text.length : eol + 1) : at;
        break;
      }
      at = eol === -1 ? -1 : eol + 1;
    }
    if (end === -1) return { kind: "skip", reason: "YAML header is never closed", line: 1 };
    const parsed = yamlFields(text, text.slice(firstEol + 1, end), firstEol + 1);
    if (!parsed.ok) return { kind: "skip", reason: parsed.reason, line: parsed.line };
    const { fields: k, fieldLines } = parsed;
    const line = (field: string) => fieldLines[field] ?? 1;
    const notes: MapNote[] = [];

    const title = k.title;
    if (typeof title !== "string" || title.trim() === "")
      return { kind: "skip", reason: "no title", line: line("title") };
    const authors = (Array.isArray(k.author) ? k.author : k.author ? [k.author] : [])
      .map(authorName)
      .filter((a): a is string => a !== undefined);
    if (authors.length === 0) return { kind: "skip", reason: "no author", line: line("author") };
    const date = typeof k.date === "string" ? k.date : undefined;
    if (!date || !/^\d{4}-\d{2}-\d{2}$/.test(date))
      return {
        kind: "skip",
        reason: "no full 'date' (YYYY-MM-DD); kramdown-rfc fills it at build time, gdo needs it",
        line: line("date"),
      };
    let rfc: number | undefined;
    if (k.number !== undefined) {
      const number = numberList(k.number);
      if (number?.length !== 1)
        return { kind: "skip", reason: `'number' is not an RFC number`, line: line("number") };
      rfc = number[0];
    }
    const references = (field: "updates" | "obsoletes") => {
      if (k[field] === undefined) return undefined;
      const list = numberList(k[field]);
      if (!list)
        notes.push({
          kind: "field-dropped",
          reason: `'${field}' is not a list of RFC numbers`,
          line: line(field),
        });
      return list;
    };
    const updates = references("updates");
    const obsoletes = references("obsoletes");
    const category =
      typeof k.category === "string" ? (CATEGORY[k.category] ?? k.category) : undefined;

    return {
      kind: "document",
      rfc,
      fields: {
        title,
        status: rfc === undefined ? "draft" : "final",
        authors,
        created: date,
        ...(category === undefined ? {} : { category }),
        ...(obsoletes === undefined ? {} : { obsoletes }),
        ...(updates === undefined ? {} : { updates }),
      },
      original: k,
      bodyOffset,
      fieldLines,
      notes,
    };
  },

  resolveLink(link, source): LinkTarget {
    const joined = link.startsWith("/") ? link.slice(1) : posix.join(posix.dirname(source), link);
    const resolved = posix.normalize(joined);
    if (resolved === ".." || resolved.startsWith("../")) return { kind: "outside" };
    return { kind: "file", path: resolved };
  },

  attachmentName(path, _rfc, source) {
    const folder = posix.dirname(source);
    return folder !== "." && path.startsWith(`${folder}/`) ? path.slice(folder.length + 1) : path;
  },
};

function authorName(author: unknown): string | undefined {
  if (typeof author === "string") return author.trim() || undefined;
  if (typeof author !== "object" || author === null) return undefined;
  const { name, ins, email } = author as Record<string, unknown>;
  const who = typeof name === "string" && name.trim() ? name : typeof ins === "string" ? ins : "";
  if (!who.trim()) return undefined;
  return typeof email === "string" && email.trim() ? `${who.trim()} <${email.trim()}>` : who.trim();
}
