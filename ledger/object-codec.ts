import { hash } from "node:crypto";
import { deflateSync, inflateSync } from "node:zlib";
import { VerificationError } from "./errors.ts";

export type ObjectType = "blob" | "tree" | "commit" | "tag";

export interface GitObject {
  type: ObjectType;
  content: Uint8Array;
}

export class CorruptObjectError extends VerificationError {
  constructor(oid: string, reason: string) {
    super("corrupt-object", `object ${oid} is corrupt: ${reason}`, { oid, reason });
  }
}

/** `<type> <length>\0`, the header git hashes in front of every object's content. */
export function objectHeader(type: ObjectType, length: number): Buffer {
  return Buffer.from(`${type} ${length}\0`, "latin1");
}

/** The git object id of content of a type: SHA-1 of `<type> <len>\0<content>`. */
export function objectId(type: ObjectType, content: Uint8Array): string {
  const header = objectHeader(type, content.length);
  const raw = Buffer.allocUnsafe(header.length + content.length);
  header.copy(raw);
  raw.set(content, header.length);
  return hash("sha1", raw);
}

/** Below this size data is stored (zlib stored blocks), not compressed. */
const STORE_BELOW = 4096;

/**
 * zlib of some bytes. Small inputs (a ledger's blocks, trees and most files)
 * become a zlib *stored* block: valid zlib any git inflates, without a deflate
 * stream's setup cost, which dominated writing tens of thousands of tiny
 * objects; they would shrink little anyway. Larger ones are deflated.
 */
export function zlibBytes(parts: Uint8Array[]): Buffer {
  const length = parts.reduce((n, p) => n + p.length, 0);
  if (length >= STORE_BELOW) return deflateSync(Buffer.concat(parts), { level: 1 });
  // zlib header (deflate, 32K window, no dictionary, check bits) | one final
  // stored block: BFINAL=1 BTYPE=00, LEN, ~LEN | data | Adler-32 of data.
  const out = Buffer.allocUnsafe(2 + 5 + length + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  out[2] = 0x01;
  out.writeUInt16LE(length, 3);
  out.writeUInt16LE(~length & 0xffff, 5);
  let at = 7;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  let a = 1;
  let b = 0;
  for (let i = 7; i < 7 + length; i++) {
    a = (a + out[i]!) % 65521;
    b = (b + a) % 65521;
  }
  out.writeUInt32BE(((b << 16) | a) >>> 0, 7 + length);
  return out;
}

/**
 * Where the data of a single-stored-block zlib stream lies, or undefined for
 * any other stream (those go through inflate). Reading the block in place
 * skips creating a zlib engine per object, which cost more than the reading
 * itself. Its Adler-32 is not checked: every object read is re-hashed against
 * its id, which proves the bytes.
 */
function storedBlock(zlib: Uint8Array): { start: number; length: number } | undefined {
  if (zlib.length < 11 || zlib[0] !== 0x78 || ((zlib[0] << 8) | zlib[1]!) % 31 !== 0) return;
  if ((zlib[1]! & 0x20) !== 0 || (zlib[2]! & 0x07) !== 0x01) return; // FDICT, or not final+stored
  const length = zlib[3]! | (zlib[4]! << 8);
  const check = zlib[5]! | (zlib[6]! << 8);
  if ((length ^ 0xffff) !== check || 7 + length + 4 > zlib.length) return;
  return { start: 7, length };
}

/** Inflates a zlib stream into a new buffer of `prefix` bytes followed by the data. */
export function inflateWithRoom(zlib: Uint8Array, prefix: number, what: string): Buffer {
  const stored = storedBlock(zlib);
  if (stored) {
    const out = Buffer.allocUnsafe(prefix + stored.length);
    out.set(zlib.subarray(stored.start, stored.start + stored.length), prefix);
    return out;
  }
  let data: Buffer;
  try {
    data = inflateSync(zlib);
  } catch (error) {
    throw new CorruptObjectError(what, `cannot inflate: ${(error as Error).message}`);
  }
  // inflateSync hands back a view of its 16 KiB output chunk: a small object
  // kept from it would hold the whole chunk (repacking 60,000 loose objects
  // held 950 MB), so small results are copied out.
  if (prefix === 0 && data.length * 2 > data.buffer.byteLength) return data;
  const out = Buffer.allocUnsafe(prefix + data.length);
  data.copy(out, prefix);
  return out;
}

const HEADER = /^(blob|tree|commit|tag) (0|[1-9][0-9]*)$/;

/** Decodes a loose object file (zlib of header + content) and checks it hashes to `oid`. */
export function decodeLoose(oid: string, zlib: Uint8Array): GitObject {
  const raw = inflateWithRoom(zlib, 0, oid);
  const actual = hash("sha1", raw);
  if (actual !== oid) throw new CorruptObjectError(oid, `content hashes to ${actual}`);
  const nul = raw.indexOf(0);
  const match = nul < 0 ? null : HEADER.exec(raw.toString("latin1", 0, nul));
  if (!match) throw new CorruptObjectError(oid, "bad object header");
  const content = raw.subarray(nul + 1);
  if (content.length !== Number(match[2])) {
    throw new CorruptObjectError(oid, `header says ${match[2]} bytes, has ${content.length}`);
  }
  return { type: match[1] as ObjectType, content };
}

/** A loose object's file: zlib of `<type> <len>\0<content>`. */
export function encodeLoose(type: ObjectType, content: Uint8Array): Buffer {
  return zlibBytes([objectHeader(type, content.length), content]);
}
