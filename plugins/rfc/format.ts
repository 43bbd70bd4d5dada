/**
 * The RFC document format: a Markdown file `rfcs/NNNN-slug.md` that starts with
 * YAML front matter. This table is the single source of truth for the fields;
 * RFC 5 (`rfcs/0005-rfc-format-and-lifecycle.md`) documents it for people.
 *
 * ```
 * ---
 * rfc: 5
 * title: RFC format and lifecycle
 * status: accepted
 * authors: [gdo developers]
 * created: 2026-11-25
 * ---
 *
 * The body: any CommonMark, kept byte for byte.
 * ```
 */

/** Every status an RFC can have; the lifecycle (lifecycle.ts) says how they connect. */
export const RFC_STATUSES = [
  "draft",
  "proposed",
  "last-call",
  "accepted",
  "rejected",
  "withdrawn",
  "final",
  "obsoleted",
  "superseded",
] as const;

export type RfcStatus = (typeof RFC_STATUSES)[number];

export function isRfcStatus(value: unknown): value is RfcStatus {
  return typeof value === "string" && (RFC_STATUSES as readonly string[]).includes(value);
}

/** The value kinds the front matter uses; each has one checker in lint.ts. */
export type FieldKind =
  | "rfc-number"
  | "string"
  | "status"
  | "string-list"
  | "date"
  | "rfc-list"
  | "url"
  | "attachment-map"
  | "mapping";

export interface FieldSpec {
  kind: FieldKind;
  required: boolean;
  /** One line for people: the RFC and `gdo rfc lint` messages use it. */
  doc: string;
}

/** The front matter fields, in the order documents written by gdo list them. */
export const RFC_FIELDS = {
  rfc: { kind: "rfc-number", required: true, doc: "the RFC's number, a positive integer" },
  title: { kind: "string", required: true, doc: "the title" },
  description: { kind: "string", required: false, doc: "a one-sentence summary" },
  status: { kind: "status", required: true, doc: "where the RFC is in its lifecycle" },
  authors: { kind: "string-list", required: true, doc: "a non-empty list of authors" },
  created: { kind: "date", required: true, doc: "the date it was first written, YYYY-MM-DD" },
  updated: { kind: "date", required: false, doc: "the date of its last significant change" },
  category: { kind: "string", required: false, doc: "free-form grouping (Core, Process…)" },
  discussion: { kind: "url", required: false, doc: "an http(s) URL where it is discussed" },
  requires: { kind: "rfc-list", required: false, doc: "RFCs this one depends on" },
  obsoletes: { kind: "rfc-list", required: false, doc: "RFCs this one makes obsolete" },
  updates: { kind: "rfc-list", required: false, doc: "RFCs this one amends" },
  "superseded-by": {
    kind: "rfc-number",
    required: false,
    doc: "the RFC replacing this one (required when status is superseded)",
  },
  "last-call-deadline": {
    kind: "date",
    required: false,
    doc: "when the last call ends (expected while status is last-call)",
  },
  attachments: {
    kind: "attachment-map",
    required: false,
    doc: "link as written in the body → ledger path under rfcs/assets/NNNN/",
  },
  original: {
    kind: "mapping",
    required: false,
    doc: "provenance of an imported RFC: source format, file and its original front matter",
  },
} as const satisfies Record<string, FieldSpec>;

export type RfcField = keyof typeof RFC_FIELDS;

export function isRfcField(name: string): name is RfcField {
  return Object.hasOwn(RFC_FIELDS, name);
}

/** A front matter whose fields all passed their checks. */
export interface RfcFrontMatter {
  rfc: number;
  title: string;
  description?: string;
  status: RfcStatus;
  authors: string[];
  created: string;
  updated?: string;
  category?: string;
  discussion?: string;
  requires?: number[];
  obsoletes?: number[];
  updates?: number[];
  "superseded-by"?: number;
  "last-call-deadline"?: string;
  attachments?: Record<string, string>;
  original?: Record<string, unknown>;
}

/** The fields holding references to other RFCs, checked by the validator. */
export const REFERENCE_FIELDS = ["requires", "obsoletes", "updates", "superseded-by"] as const;

/** Default size limit of one RFC file: larger files are refused unparsed. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

/** The RFC's number as written in file names: zero-padded to at least 4 digits. */
export function paddedNumber(rfc: number): string {
  return String(rfc).padStart(4, "0");
}

/** `rfcs/NNNN-slug.md`, the path of an RFC document in the ledger. */
export function rfcPath(rfc: number, title: string): string {
  return `rfcs/${paddedNumber(rfc)}-${slugify(title)}.md`;
}

/** Folder in the ledger for the files an RFC links to (images, PDFs, test vectors). */
export function attachmentFolder(rfc: number): string {
  return `rfcs/assets/${paddedNumber(rfc)}/`;
}

/** `0005-rfc-format.md` → 5; the number must be padded exactly as paddedNumber does. */
export const FILE_NAME = /^(\d{4,})-([a-z0-9]+(?:-[a-z0-9]+)*)\.md$/;

/**
 * A file-name slug: ASCII lower case, words joined by `-`, at most 60
 * characters cut at a word boundary; `untitled` when nothing is left.
 */
export function slugify(title: string, maxLength = 60): string {
  const words = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  let slug = "";
  for (const word of words) {
    const next = slug ? `${slug}-${word}` : word;
    if (next.length > maxLength) {
      if (!slug) slug = word.slice(0, maxLength);
      break;
    }
    slug = next;
  }
  return slug || "untitled";
}
