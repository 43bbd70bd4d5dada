/**
 * Maps Ethereum Improvement Proposals (the ethereum/EIPs repository: documents
 * `EIPS/eip-N.md`, or flattened `eip-N.md`, with files in `assets/eip-N/`) to
 * gdo RFCs. The EIP's own front matter is kept whole in `original.fields`.
 *
 * | EIP                     | gdo                                                |
 * |-------------------------|----------------------------------------------------|
 * | eip                     | rfc (same number)                                  |
 * | title                   | title                                              |
 * | description             | description                                        |
 * | author                  | authors (split on top-level commas; each entry kept verbatim, `<email>` and `(@github)` included) |
 * | discussions-to          | discussion (dropped and reported if not http(s))   |
 * | status                  | status, see EIP_STATUS                             |
 * | category, else type     | category                                           |
 * | created                 | created                                            |
 * | updated                 | updated                                            |
 * | requires (N or "N, M")  | requires (numbers not imported are dropped, reported) |
 * | last-call-deadline      | last-call-deadline                                 |
 * | withdrawal-reason, …    | only in original.fields                            |
 */
import { posix } from "node:path";
import type { RfcStatus } from "../format.ts";
import { findFrontMatter } from "../front-matter.ts";
import type { ImportMapper, LinkTarget, MapNote, MapOutcome, SourceFile } from "./mapper.ts";
import { numberList } from "./number-list.ts";
import { yamlFields } from "./yaml-fields.ts";

/**
 * EIP status → gdo status. EIP statuses gdo has no equal for:
 * - Stagnant (inactive for 6 months; EIP-1 lets it be revived) → withdrawn:
 *   nobody pursues it. Reviving it in gdo is a new RFC; `original.fields.status`
 *   keeps "Stagnant".
 * - Living (a document kept up to date, such as EIP-1) → accepted: in force,
 *   but not frozen as `final` would be.
 * - Moved (the stub left behind when ERCs moved to their own repository) → not
 *   imported: reported with its new location.
 */
export const EIP_STATUS: Readonly<Record<string, RfcStatus | "not imported">> = Object.freeze({
  Draft: "draft",
  Review: "proposed",
  "Last Call": "last-call",
  Final: "final",
  Living: "accepted",
  Stagnant: "withdrawn",
  Withdrawn: "withdrawn",
  Moved: "not imported",
});

const DOCUMENT = /^(?:EIPS\/)?eip-(\d+)\.md$/;

export const eipMapper: ImportMapper = {
  format: "eip",

  documents(files) {
    return files.filter((f) => DOCUMENT.test(f));
  },

  map({ source, text }: SourceFile): MapOutcome {
    const search = findFrontMatter(text);
    if (!search.found) return { kind: "skip", reason: `front matter ${search.why}`, line: 1 };
    const parsed = yamlFields(text, search.yaml, search.yamlOffset);
    if (!parsed.ok) return { kind: "skip", reason: parsed.reason, line: parsed.line };
    const { fields: eip, fieldLines } = parsed;
    const line = (field: string) => fieldLines[field] ?? 1;
    const notes: MapNote[] = [];

    const rfc = eip.eip;
    if (typeof rfc !== "number" || !Number.isSafeInteger(rfc) || rfc <= 0)
      return { kind: "skip", reason: `'eip' is not a positive integer`, line: line("eip") };
    const fileNumber = Number(DOCUMENT.exec(source)?.[1]);
    if (fileNumber !== rfc)
      return {
        kind: "skip",
        reason: `file name says EIP ${fileNumber} but 'eip' is ${rfc}`,
        line: line("eip"),
      };

    const status = eip.status;
    const mapped = typeof status === "string" ? EIP_STATUS[status] : undefined;
    if (status === "Moved") {
      const body = text.slice(search.bodyOffset);
      const where = /https?:\/\/\S+/.exec(body)?.[0];
      const category = typeof eip.category === "string" ? eip.category : "another repository";
      return {
        kind: "skip",
        reason: `moved to ${category}${where ? `: ${where}` : ""}`,
        line: line("status"),
      };
    }
    if (mapped === undefined || mapped === "not imported")
      return {
        kind: "skip",
        reason: `unknown EIP status '${String(status)}'`,
        line: line("status"),
      };

    const title = eip.title;
    if (typeof title !== "string" || title.trim() === "")
      return { kind: "skip", reason: "no title", line: line("title") };
    const authors = typeof eip.author === "string" ? splitAuthors(eip.author) : [];
    if (authors.length === 0) return { kind: "skip", reason: "no author", line: line("author") };
    const created = eip.created;
    if (typeof created !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(created))
      return { kind: "skip", reason: "no 'created' date (YYYY-MM-DD)", line: line("created") };

    const optionalDate = (field: string) => {
      const value = eip[field];
      if (value === undefined) return undefined;
      if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
      notes.push({ kind: "field-dropped", reason: `'${field}' is not a date`, line: line(field) });
      return undefined;
    };
    const text_ = (field: string) => {
      const value = eip[field];
      return typeof value === "string" && value.trim() !== "" ? value : undefined;
    };

    let discussion: string | undefined;
    if (eip["discussions-to"] !== undefined) {
      const value = eip["discussions-to"];
      if (typeof value === "string" && /^https?:\/\/\S+$/.test(value) && URL.canParse(value))
        discussion = value;
      else
        notes.push({
          kind: "field-dropped",
          reason: `'discussions-to' is not an http(s) URL: ${String(value)}`,
          line: line("discussions-to"),
        });
    }
    let requires: number[] | undefined;
    if (eip.requires !== undefined) {
      requires = numberList(eip.requires);
      if (requires === undefined)
        notes.push({
          kind: "field-dropped",
          reason: `'requires' is not a list of numbers: ${String(eip.requires)}`,
          line: line("requires"),
        });
    }
    const updated = optionalDate("updated");
    const deadline = optionalDate("last-call-deadline");
    const description = text_("description");
    const category = text_("category") ?? text_("type");

    return {
      kind: "document",
      rfc,
      fields: {
        title,
        ...(description === undefined ? {} : { description }),
        status: mapped,
        authors,
        created,
        ...(updated === undefined ? {} : { updated }),
        ...(category === undefined ? {} : { category }),
        ...(discussion === undefined ? {} : { discussion }),
        ...(requires === undefined ? {} : { requires }),
        ...(deadline === undefined ? {} : { "last-call-deadline": deadline }),
      },
      original: eip,
      bodyOffset: search.bodyOffset,
      fieldLines,
      notes,
    };
  },

  resolveLink(link, source): LinkTarget {
    // Links are written as in the upstream layout, from EIPS/eip-N.md; a
    // flattened directory holds the documents at its root instead.
    const flat = !source.startsWith("EIPS/");
    const from = flat ? `EIPS/${source}` : source;
    const joined = link.startsWith("/") ? link.slice(1) : posix.join(posix.dirname(from), link);
    const resolved = posix.normalize(joined);
    if (resolved === ".." || resolved.startsWith("../")) return { kind: "outside" };
    // Authors write both ./eip-150.md and ./eip-150.
    const document = /^EIPS\/eip-(\d+)(?:\.md)?$/.exec(resolved);
    if (document) return { kind: "document", rfc: Number(document[1]) };
    return {
      kind: "file",
      path: flat && resolved.startsWith("EIPS/") ? resolved.slice("EIPS/".length) : resolved,
    };
  },

  attachmentName(path, rfc) {
    const own = /^assets\/eip-(\d+)\/(.+)$/.exec(path);
    return own && Number(own[1]) === rfc ? own[2]! : path;
  },
};

/**
 * "A <a@x>, B (@b), et al." → ["A <a@x>", "B (@b)", "et al."]: commas inside
 * <…>, (…) or quotes do not split.
 */
export function splitAuthors(value: string): string[] {
  const authors: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (const char of value) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === "<" || char === "(")) depth++;
    else if (!quoted && (char === ">" || char === ")")) depth = Math.max(0, depth - 1);
    if (char === "," && depth === 0 && !quoted) {
      authors.push(current);
      current = "";
    } else current += char;
  }
  authors.push(current);
  return authors.map((a) => a.trim()).filter(Boolean);
}
