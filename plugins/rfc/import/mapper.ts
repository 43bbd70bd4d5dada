/**
 * The contract of an import mapper: one small module per foreign archive
 * format (eip.ts, kramdown-rfc.ts…). A mapper is pure: it gets a document's
 * text and says what gdo RFC it becomes; the planner (plan.ts) does the reading,
 * numbering, link checking and the final lint.
 *
 * ```
 *  dir listing ──► documents(files) ──► for each: map({source, text}) ──► MapOutcome
 *                                       links in the body ──► resolveLink ──► attachments
 * ```
 */
import type { RfcFrontMatter } from "../format.ts";

/** One document of the foreign archive. */
export interface SourceFile {
  /** Path relative to the import directory, with `/` separators ("EIPS/eip-1.md"). */
  source: string;
  /** Its text (valid UTF-8, within the size limit). */
  text: string;
}

/** Something the planner should tell the user about a document it still imports. */
export interface MapNote {
  kind: "field-dropped";
  reason: string;
  /** 1-based line in the source file. */
  line?: number;
}

/** The gdo fields a mapper produces; the planner adds `attachments` and `original`. */
export type MappedFields = Omit<RfcFrontMatter, "rfc" | "attachments" | "original">;

export type MapOutcome =
  | {
      kind: "document";
      /** The native number, or undefined to let the planner assign the next free one. */
      rfc: number | undefined;
      fields: MappedFields;
      /** The source's own front matter or header, as parsed: stored as `original.fields`. */
      original: Record<string, unknown>;
      /** Offset in `text` where the author's body starts; it is copied byte for byte. */
      bodyOffset: number;
      /** 1-based source line of each original field, for reports. */
      fieldLines: Record<string, number>;
      notes: MapNote[];
    }
  | { kind: "skip"; reason: string; line?: number };

/** Where a relative link points. */
export type LinkTarget =
  /** Another document of the archive, by its number. */
  | { kind: "document"; rfc: number }
  /** A file, as a path relative to the import directory. */
  | { kind: "file"; path: string }
  /** Outside the import directory. */
  | { kind: "outside" };

export interface ImportMapper {
  /** The `format` name users pass (`"eip"`). */
  readonly format: string;
  /** Which of the directory's files (relative, sorted) are documents in this format. */
  documents(files: readonly string[]): string[];
  /** Maps one document. Pure: no I/O, no clock. */
  map(file: SourceFile): MapOutcome;
  /** Resolves a relative link (fragment and query removed, percent-decoded) written in `source`. */
  resolveLink(link: string, source: string): LinkTarget;
  /** The name a linked file gets inside its RFC's folder `rfcs/assets/NNNN/`. */
  attachmentName(path: string, rfc: number, source: string): string;
}
