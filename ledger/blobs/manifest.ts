/**
 * A blob's manifest: the small canonical "pointer file" committed to the ledger
 * tree in place of the blob (like a git-lfs pointer). Its id is the SHA-256 of
 * its canonical bytes, so the same blob chunked with the same parameters always
 * has the same manifest id.
 *
 *     gdo-blob v1                                                          fixed first line
 *     size 109466                                                          whole-blob bytes
 *     sha256 d9e749d9367fc908876749d6502eb212fee88c9a94892fb07da5ef3ba8bc39ed    whole-blob SHA-256
 *     chunker fastcdc-2020 min=8192 avg=32768 max=131072 level=2 seed=0    the cut rules used
 *     chunks 2                                                             count of lines below
 *     3b1a…(64 hex) 66549                                                  chunk id, length
 *     9f0c…(64 hex) 42917
 *
 * Canonical means: ASCII, LF line ends (the last line too), single spaces,
 * decimal without leading zeros, lowercase hex, fields in exactly this order.
 * `parseManifest` accepts nothing else, so parse(serialize(m)) is the identity
 * and two byte strings never describe the same blob differently.
 */
import { createHash } from "node:crypto";
import { UsageError } from "../errors.ts";
import { checkPath } from "../tree.ts";
import {
  type ChunkerParams,
  formatChunkerParams,
  parseChunkerParams,
  validateChunkerParams,
} from "./chunker-params.ts";
import { InvalidIdError, ManifestFormatError } from "./errors.ts";
import { assertHexId, isHexId, isHexIdAt } from "./hex-id.ts";

export const MANIFEST_MAGIC = "gdo-blob v1";
/** Pointer files in the ledger tree end with this suffix. */
export const POINTER_SUFFIX = ".blob";

export interface ManifestChunk {
  /** SHA-256 (hex) of the chunk bytes. */
  id: string;
  length: number;
}

export interface Manifest {
  /** Whole-blob size in bytes (the sum of the chunk lengths). */
  size: number;
  /** Whole-blob SHA-256 (hex). */
  sha256: string;
  chunker: ChunkerParams;
  chunks: ManifestChunk[];
}

const DECIMAL = /^(0|[1-9]\d{0,15})$/;
const FIELDS = ["size", "sha256", "chunker", "chunks"] as const;

/**
 * Strictly parses a manifest. Every failure is a `ManifestFormatError` whose
 * message starts with `source:line:` and whose `data.field` names what is wrong.
 */
export function parseManifest(bytes: Uint8Array | string, source: string): Manifest {
  const fail = (line: number, field: string, reason: string): never => {
    throw new ManifestFormatError(`${source}:${line}: ${reason}`, { source, field, line });
  };
  // Latin-1 maps each byte to the character of the same code, so the text
  // is checked for bytes and strings alike.
  const text =
    typeof bytes === "string"
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7e || (c < 0x20 && c !== 0x0a)) {
      fail(
        1 + countNewlines(text, i),
        "encoding",
        `byte ${i} (0x${c.toString(16)}) is not printable ASCII`,
      );
    }
  }
  if (text.length === 0) fail(1, "magic", "empty file, expected a gdo-blob manifest");
  if (!text.endsWith("\n")) fail(text.split("\n").length, "newline", "must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines[0] !== MANIFEST_MAGIC) {
    fail(1, "magic", `first line must be '${MANIFEST_MAGIC}' (got '${lines[0]!.slice(0, 40)}')`);
  }

  // Fields in their fixed order, each value checked as soon as it is read so
  // the first error reported is the first one in the file.
  const value = (k: number): string => {
    const lineNo = k + 2;
    const line = lines[k + 1];
    const want = FIELDS[k]!;
    if (line === undefined) fail(lineNo, want, `missing field '${want}'`);
    const space = line!.indexOf(" ");
    const key = space < 0 ? line! : line!.slice(0, space);
    if (key !== want) {
      if ((FIELDS as readonly string[]).includes(key)) {
        fail(lineNo, want, `field '${key}' out of order or repeated; expected '${want}' here`);
      }
      if (/^[0-9a-f]{64} /.test(line!)) fail(lineNo, want, `missing field '${want}'`);
      fail(lineNo, key || want, `unknown field '${key.slice(0, 40)}' (expected '${want}')`);
    }
    if (space < 0) fail(lineNo, want, `field '${want}' has no value`);
    return line!.slice(space + 1);
  };

  const size = decimal(value(0), 2, "size", fail);
  const sha256 = value(1);
  if (!isHexId(sha256)) fail(3, "sha256", "sha256 must be 64 lowercase hex characters");
  let chunker: ChunkerParams;
  try {
    chunker = parseChunkerParams(value(2), `${source}:4`);
  } catch (error) {
    if (error instanceof ManifestFormatError) throw error;
    const field = (error as { data?: { field?: string } }).data?.field;
    const message = (error as Error).message.replace(`${source}:4: `, "");
    return fail(4, field && field !== "chunker" ? `chunker.${field}` : "chunker", message);
  }
  const count = decimal(value(3), 5, "chunks", fail);
  const chunkLines = lines.length - 1 - FIELDS.length;
  if (chunkLines !== count) {
    fail(
      Math.min(lines.length, 6 + count),
      "chunks",
      `'chunks ${count}' but ${chunkLines} chunk line(s) follow`,
    );
  }

  // Chunk lines are read from the bytes where every one is well formed (the
  // common case, about twice as fast); the first line that is not sends the
  // parse down the path below, which names it.
  const fast =
    typeof bytes === "string"
      ? undefined
      : wellFormedChunks(bytes, text, headerBytes(lines), count, chunker!.maxSize);
  let chunks: ManifestChunk[];
  let total = 0;
  if (fast) ({ chunks, total } = fast);
  else {
    chunks = new Array(count);
    for (let k = 0; k < count; k++) {
      const lineNo = k + 6;
      const line = lines[k + 5]!;
      const id = line.slice(0, 64);
      if (line.charCodeAt(64) !== 0x20 || !isHexId(id)) {
        fail(
          lineNo,
          "chunk",
          `chunk ${k} must be '<64 lowercase hex> <length>' (got '${line.slice(0, 80)}')`,
        );
      }
      const length = decimal(line.slice(65), lineNo, "chunk", fail);
      if (length === 0) fail(lineNo, "chunk", `chunk ${k} has length 0`);
      if (length > chunker!.maxSize) {
        fail(
          lineNo,
          "chunk",
          `chunk ${k} length ${length} exceeds the chunker's max ${chunker!.maxSize}`,
        );
      }
      total += length;
      chunks[k] = { id, length };
    }
  }
  if (total !== size) {
    fail(2, "size", `size ${size} but the chunk lengths add up to ${total}`);
  }
  return { size, sha256, chunker: chunker!, chunks };
}

/** Where the chunk lines start: after the magic line and the four fields. */
function headerBytes(lines: string[]): number {
  let at = 0;
  for (let k = 0; k <= FIELDS.length; k++) at += lines[k]!.length + 1;
  return at;
}

/**
 * `count` chunk lines from `from` to the end of `bytes` (`text` is the same
 * bytes as a string), with their lengths' sum, if every one is `<64
 * lowercase hex> <length>` with a canonical length from 1 to `maxSize`; else
 * undefined.
 */
function wellFormedChunks(
  bytes: Uint8Array,
  text: string,
  from: number,
  count: number,
  maxSize: number,
): { chunks: ManifestChunk[]; total: number } | undefined {
  const chunks: ManifestChunk[] = new Array(count);
  let total = 0;
  let at = from;
  for (let k = 0; k < count; k++) {
    if (!isHexIdAt(bytes, at) || bytes[at + 64] !== 0x20) return undefined;
    const digits = at + 65;
    // No leading zero, so not 0 either.
    if (bytes[digits] === 0x30) return undefined;
    let length = 0;
    let end = digits;
    for (; end < bytes.length && bytes[end] !== 0x0a; end++) {
      const digit = bytes[end]! - 0x30;
      if (digit < 0 || digit > 9 || length > maxSize) return undefined;
      length = length * 10 + digit;
    }
    if (end === digits || end === bytes.length || length > maxSize) return undefined;
    chunks[k] = { id: text.slice(at, at + 64), length };
    total += length;
    at = end + 1;
  }
  return at === bytes.length ? { chunks, total } : undefined;
}

function decimal(
  text: string,
  line: number,
  field: string,
  fail: (line: number, field: string, reason: string) => never,
): number {
  if (!DECIMAL.test(text) || !Number.isSafeInteger(Number(text))) {
    fail(line, field, `${field} value '${text.slice(0, 40)}' is not a canonical decimal number`);
  }
  return Number(text);
}

function countNewlines(text: string, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (text.charCodeAt(i) === 0x0a) n++;
  return n;
}

/** The canonical bytes of a manifest (validated first, so it never writes one `parseManifest` refuses). */
export function serializeManifest(manifest: Manifest): Uint8Array {
  validateChunkerParams(manifest.chunker, "manifest chunker");
  const lines = [
    MANIFEST_MAGIC,
    `size ${manifest.size}`,
    `sha256 ${manifest.sha256}`,
    `chunker ${formatChunkerParams(manifest.chunker)}`,
    `chunks ${manifest.chunks.length}`,
  ];
  for (const chunk of manifest.chunks) lines.push(`${chunk.id} ${chunk.length}`);
  const bytes = Buffer.from(`${lines.join("\n")}\n`, "latin1");
  // Round-trip through the strict parser: a bad id, length or sum fails here,
  // at the writer, not later at whoever reads the ledger.
  parseManifest(bytes, "serializeManifest");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** The manifest id: SHA-256 (hex) of its canonical bytes. */
export function manifestId(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Where a blob's pointer file lives in the ledger tree: `blobs/<id>.blob`. */
export function blobPointerPath(id: string): string {
  assertHexId(id, "blob");
  return `blobs/${id}${POINTER_SUFFIX}`;
}

/**
 * Refuses a path a blob's pointer cannot be recorded under: an unsafe one
 * (`UnsafePathError`), or one not ending in `.blob` (`UsageError`), since
 * peers fetch, and gc keeps, only blobs whose pointers end so.
 */
export function checkPointerPath(path: string): void {
  checkPath(path);
  if (!path.endsWith(POINTER_SUFFIX) || path.split("/").at(-1) === POINTER_SUFFIX) {
    throw new UsageError(
      `path '${path}' must name a file ending in ${POINTER_SUFFIX}: only such pointers are fetched by peers and kept by gc`,
    );
  }
}

function hasSeparatorOrControl(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2f || c === 0x5c) return true;
  }
  return false;
}

/**
 * The pointer file name for an attachment (`fig.png` → `fig.png.blob`). The
 * name must be one plain path segment: no `/`, `\`, NUL or control characters,
 * not `.`/`..`, not empty, at most 255 bytes with the suffix.
 */
export function attachmentPointerName(name: string): string {
  const bad =
    name.length === 0 ||
    name === "." ||
    name === ".." ||
    hasSeparatorOrControl(name) ||
    Buffer.byteLength(name) + POINTER_SUFFIX.length > 255;
  if (bad) {
    throw new InvalidIdError(
      `attachment name ${JSON.stringify(name.slice(0, 80))} must be a single plain file name`,
      { id: name.slice(0, 200), kind: "attachment" },
    );
  }
  return `${name}${POINTER_SUFFIX}`;
}
