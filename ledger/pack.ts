import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { fsyncPathSync } from "./atomic-file.ts";
import { IdleRelease } from "./idle-release.ts";
import {
  CorruptObjectError,
  type GitObject,
  inflateWithRoom,
  type ObjectType,
  objectId,
  zlibBytes,
} from "./object-codec.ts";

/**
 * Git packfiles (version 2) with their version-2 index, so stock git reads
 * what gdo packs and gdo reads what `git gc` packs (including deltas).
 * One file per thousands of objects: a block costs four small objects, and
 * opening a loose file per object dominated reading a ledger and writing a
 * received history.
 */

const TYPE_CODES: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };
const TYPE_NAMES: (ObjectType | undefined)[] = [
  undefined,
  "commit",
  "tree",
  "blob",
  "tag",
  undefined,
];
const OFS_DELTA = 6;
const REF_DELTA = 7;
const IDX_MAGIC = 0xff744f63;
const WINDOW = 1 << 20;
const MAX_WINDOWS = 8;
const WINDOW_IDLE_MS = 5_000;
/** Deltas of deltas are followed at most this deep (git's default is 50). */
const MAX_DELTA_DEPTH = 4096;

export interface PackedObject {
  oid: string;
  type: ObjectType;
  content: Uint8Array;
}

function entryHeader(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (type << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

/**
 * Writes a pack and its index into `packDir` (temp files, optional fsync,
 * rename of the pack, then of the index: git and gdo only look at packs that
 * have an index, so a crash leaves either no pack or a whole one). Objects
 * must be distinct and carry their verified ids. They are taken one at a
 * time, so a lazy iterable keeps only one in memory; `count` is how many it
 * yields (the pack's header comes first). Returns the pack's name.
 */
export function writePack(
  packDir: string,
  objects: Iterable<PackedObject>,
  { durable, count }: { durable: boolean; count: number },
): string {
  fs.mkdirSync(packDir, { recursive: true });
  const tag = `${process.pid}.${randomBytes(4).toString("hex")}`;
  const tmpPack = join(packDir, `tmp_pack_${tag}`);
  const tmpIdx = join(packDir, `tmp_idx_${tag}`);
  const packHash = createHash("sha1");
  const oids: string[] = [];
  const offsets: number[] = [];
  const crcs: number[] = [];
  const fd = fs.openSync(tmpPack, "wx", 0o444);
  try {
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const write = (chunk: Buffer) => {
      packHash.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      offset += chunk.length;
      if (pendingBytes >= 1 << 20) flush();
    };
    const flush = () => {
      if (pending.length === 0) return;
      fs.writeSync(fd, Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    const header = Buffer.alloc(12);
    header.write("PACK", 0, "latin1");
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(count, 8);
    write(header);
    for (const object of objects) {
      oids.push(object.oid);
      offsets.push(offset);
      const head = entryHeader(TYPE_CODES[object.type], object.content.length);
      const body = zlibBytes([object.content]);
      crcs.push(crc32(body, crc32(head)));
      write(head);
      write(body);
    }
    if (oids.length !== count)
      throw new Error(`writePack: told ${count} objects, given ${oids.length}`);
    flush();
    const trailer = packHash.digest();
    fs.writeSync(fd, trailer);
    if (durable) fs.fsyncSync(fd);
    const name = `pack-${trailer.toString("hex")}`;
    fs.writeFileSync(tmpIdx, indexBytes(oids, offsets, crcs, trailer), { mode: 0o444 });
    if (durable) fsyncPathSync(tmpIdx);
    fs.renameSync(tmpPack, join(packDir, `${name}.pack`));
    fs.renameSync(tmpIdx, join(packDir, `${name}.idx`));
    if (durable) fsyncPathSync(packDir);
    return name;
  } catch (error) {
    fs.rmSync(tmpPack, { force: true });
    fs.rmSync(tmpIdx, { force: true });
    throw error;
  } finally {
    fs.closeSync(fd);
  }
}

function indexBytes(
  oids: string[],
  offsets: number[],
  crcs: number[],
  packChecksum: Buffer,
): Buffer {
  const n = oids.length;
  const order = oids.map((oid, i) => ({ oid: Buffer.from(oid, "hex"), i }));
  order.sort((a, b) => Buffer.compare(a.oid, b.oid));
  const large = offsets.filter((o) => o >= 0x80000000).length;
  const out = Buffer.alloc(8 + 256 * 4 + n * 28 + large * 8 + 40);
  out.writeUInt32BE(IDX_MAGIC, 0);
  out.writeUInt32BE(2, 4);
  const fanout = new Uint32Array(256);
  for (const { oid } of order) fanout[oid[0]!]!++;
  let total = 0;
  for (let b = 0; b < 256; b++) {
    total += fanout[b]!;
    out.writeUInt32BE(total, 8 + b * 4);
  }
  const oidsAt = 8 + 1024;
  const crcAt = oidsAt + n * 20;
  const offAt = crcAt + n * 4;
  const largeAt = offAt + n * 4;
  let nextLarge = 0;
  order.forEach(({ oid, i }, k) => {
    oid.copy(out, oidsAt + k * 20);
    out.writeUInt32BE(crcs[i]!, crcAt + k * 4);
    const offset = offsets[i]!;
    if (offset < 0x80000000) out.writeUInt32BE(offset, offAt + k * 4);
    else {
      out.writeUInt32BE((0x80000000 | nextLarge) >>> 0, offAt + k * 4);
      out.writeBigUInt64BE(BigInt(offset), largeAt + nextLarge * 8);
      nextLarge++;
    }
  });
  const tail = largeAt + large * 8;
  packChecksum.copy(out, tail);
  createHash("sha1")
    .update(out.subarray(0, tail + 20))
    .digest()
    .copy(out, tail + 20);
  return out;
}

/** Resolves a delta's base by id (REF_DELTA bases may live in another pack or loose). */
export type BaseLookup = (oid: string) => GitObject;

/**
 * One pack on disk, opened for reading: its index is held in memory (28
 * bytes an object), the pack is read with positioned reads of one entry at a
 * time. Every object read is re-hashed against its id.
 */
export class PackFile {
  readonly name: string;
  readonly count: number;
  readonly #fd: number;
  readonly #packSize: number;
  readonly #fanout: Uint32Array;
  readonly #oids: Buffer;
  readonly #offsets: Float64Array;
  /** Where each entry (by index position) ends: the next entry's offset, or the trailer. */
  readonly #ends: Float64Array;
  /** Index positions in pack order. */
  readonly #byOffset: number[];
  #scratch = Buffer.allocUnsafe(16 * 1024);

  private constructor(name: string, fd: number, packSize: number, idx: Buffer) {
    this.name = name;
    this.#fd = fd;
    this.#packSize = packSize;
    const what = `${name}.idx`;
    if (
      idx.length < 8 + 1024 + 40 ||
      idx.readUInt32BE(0) !== IDX_MAGIC ||
      idx.readUInt32BE(4) !== 2
    )
      throw new CorruptObjectError(what, "not a version-2 pack index");
    this.#fanout = new Uint32Array(256);
    for (let b = 0; b < 256; b++) this.#fanout[b] = idx.readUInt32BE(8 + b * 4);
    const n = this.#fanout[255]!;
    this.count = n;
    const oidsAt = 8 + 1024;
    const offAt = oidsAt + n * 24;
    const largeAt = offAt + n * 4;
    if (idx.length < largeAt + 40) throw new CorruptObjectError(what, "index is truncated");
    this.#oids = idx.subarray(oidsAt, oidsAt + n * 20);
    this.#offsets = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const small = idx.readUInt32BE(offAt + k * 4);
      if (small < 0x80000000) this.#offsets[k] = small;
      else {
        const at = largeAt + (small & 0x7fffffff) * 8;
        if (at + 8 > idx.length - 40) throw new CorruptObjectError(what, "bad large offset");
        this.#offsets[k] = Number(idx.readBigUInt64BE(at));
      }
      if (this.#offsets[k]! < 12 || this.#offsets[k]! >= packSize - 20)
        throw new CorruptObjectError(what, `offset ${this.#offsets[k]} lies outside the pack`);
    }
    const byOffset = Array.from(this.#offsets.keys()).sort(
      (a, b) => this.#offsets[a]! - this.#offsets[b]!,
    );
    this.#byOffset = byOffset;
    this.#ends = new Float64Array(n);
    byOffset.forEach((k, i) => {
      const next = byOffset[i + 1];
      this.#ends[k] = next === undefined ? packSize - 20 : this.#offsets[next]!;
    });
  }

  /** Opens `<dir>/<name>.pack` with its index; undefined if either is gone. */
  static open(dir: string, name: string): PackFile | undefined {
    let idx: Buffer;
    let fd: number;
    try {
      idx = fs.readFileSync(join(dir, `${name}.idx`));
      fd = fs.openSync(join(dir, `${name}.pack`), "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    try {
      const size = fs.fstatSync(fd).size;
      const header = Buffer.alloc(12);
      fs.readSync(fd, header, 0, 12, 0);
      if (header.toString("latin1", 0, 4) !== "PACK" || header.readUInt32BE(4) !== 2)
        throw new CorruptObjectError(`${name}.pack`, "not a version-2 pack");
      return new PackFile(name, fd, size, idx);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }

  /** When the pack was written (ms since the epoch). */
  get written(): number {
    return fs.fstatSync(this.#fd).mtimeMs;
  }

  close(): void {
    this.#idle.cancel();
    this.#windows.clear();
    fs.closeSync(this.#fd);
  }

  /** The index position of an object, or -1. */
  find(oid: string): number {
    const first = Number.parseInt(oid.slice(0, 2), 16);
    let lo = first === 0 ? 0 : this.#fanout[first - 1]!;
    let hi = this.#fanout[first]!;
    if (lo === hi) return -1;
    const target = Buffer.from(oid, "hex");
    const oids = this.#oids;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const cmp = oids.compare(target, 0, 20, mid * 20, mid * 20 + 20);
      if (cmp === 0) return mid;
      if (cmp < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  has(oid: string): boolean {
    return this.find(oid) >= 0;
  }

  /** Every object id in the pack (hex), in the order they lie in it. */
  *oids(): IterableIterator<string> {
    for (const k of this.#byOffset) yield this.#oids.toString("hex", k * 20, k * 20 + 20);
  }

  /** Reads and checks one object; undefined if the pack does not hold it. */
  read(oid: string, lookup: BaseLookup): GitObject | undefined {
    const k = this.find(oid);
    if (k < 0) return undefined;
    const object = this.#readAt(this.#offsets[k]!, this.#ends[k]!, lookup, 0, oid);
    const actual = objectId(object.type, object.content);
    if (actual !== oid)
      throw new CorruptObjectError(oid, `content in ${this.name} hashes to ${actual}`);
    return object;
  }

  /**
   * Recently read 1 MiB windows of the pack: a positioned read per object
   * cost more than the object's parsing. Bounded, and dropped when reads stop
   * (a running node must not hold its whole history in memory).
   */
  readonly #windows = new Map<number, Buffer>();
  readonly #idle = new IdleRelease(WINDOW_IDLE_MS, () => this.#windows.clear());

  #window(index: number): Buffer {
    let window = this.#windows.get(index);
    if (window) {
      this.#windows.delete(index);
      this.#windows.set(index, window);
      return window;
    }
    const start = index * WINDOW;
    const length = Math.min(WINDOW, this.#packSize - start);
    // The least recently used window's buffer is read into again: a fresh
    // 1 MiB buffer per miss cost more than the read where reads jump about
    // the pack. No view of it outlives the read that made it (#readAt
    // copies or inflates each entry before reading another).
    let buffer: Buffer | undefined;
    if (this.#windows.size >= MAX_WINDOWS) {
      const [oldest, old] = this.#windows.entries().next().value!;
      this.#windows.delete(oldest);
      buffer = old.buffer.byteLength === WINDOW ? Buffer.from(old.buffer, 0, WINDOW) : undefined;
    }
    window = (buffer ?? Buffer.allocUnsafe(WINDOW)).subarray(0, length);
    const n = fs.readSync(this.#fd, window, 0, length, start);
    if (n !== length) throw new CorruptObjectError(this.name, `pack is truncated at ${start + n}`);
    this.#windows.set(index, window);
    this.#idle.touch();
    return window;
  }

  #entry(offset: number, end: number): Buffer {
    const index = Math.floor(offset / WINDOW);
    if (Math.floor((end - 1) / WINDOW) === index) {
      const window = this.#window(index);
      this.#idle.touch();
      return window.subarray(offset - index * WINDOW, end - index * WINDOW);
    }
    const length = end - offset;
    if (length > this.#scratch.length) this.#scratch = Buffer.allocUnsafe(length);
    const n = fs.readSync(this.#fd, this.#scratch, 0, length, offset);
    if (n !== length) throw new CorruptObjectError(this.name, `pack is truncated at ${offset}`);
    return this.#scratch.subarray(0, length);
  }

  #readAt(offset: number, end: number, lookup: BaseLookup, depth: number, what: string): GitObject {
    if (depth > MAX_DELTA_DEPTH)
      throw new CorruptObjectError(what, `delta chain in ${this.name} is too deep`);
    const entry = this.#entry(offset, end);
    let at = 0;
    let byte = entry[at++]!;
    const type = (byte >> 4) & 7;
    let size = byte & 0x0f;
    let scale = 16;
    while (byte & 0x80) {
      if (at >= entry.length) throw new CorruptObjectError(what, "truncated pack entry header");
      byte = entry[at++]!;
      size += (byte & 0x7f) * scale;
      scale *= 128;
    }
    const name = TYPE_NAMES[type];
    if (name) {
      const content = inflateWithRoom(entry.subarray(at), 0, what);
      if (content.length !== size)
        throw new CorruptObjectError(what, `pack entry says ${size} bytes, has ${content.length}`);
      return { type: name, content };
    }
    let base: GitObject;
    if (type === OFS_DELTA) {
      byte = entry[at++]!;
      let distance = byte & 0x7f;
      while (byte & 0x80) {
        if (at >= entry.length) throw new CorruptObjectError(what, "truncated delta offset");
        byte = entry[at++]!;
        distance = (distance + 1) * 128 + (byte & 0x7f);
      }
      const baseOffset = offset - distance;
      const k = this.#indexOfOffset(baseOffset);
      if (k < 0) throw new CorruptObjectError(what, `delta base at ${baseOffset} is not an entry`);
      const delta = inflatedDelta(entry.subarray(at), size, what);
      base = this.#readAt(baseOffset, this.#ends[k]!, lookup, depth + 1, what);
      return { type: base.type, content: applyDelta(base.content, delta, what) };
    }
    if (type === REF_DELTA) {
      if (at + 20 > entry.length) throw new CorruptObjectError(what, "truncated delta base id");
      const baseOid = entry.toString("hex", at, at + 20);
      const delta = inflatedDelta(entry.subarray(at + 20), size, what);
      base = lookup(baseOid);
      return { type: base.type, content: applyDelta(base.content, delta, what) };
    }
    throw new CorruptObjectError(what, `unknown pack entry type ${type}`);
  }

  #offsetIndex: Map<number, number> | undefined;

  #indexOfOffset(offset: number): number {
    if (!this.#offsetIndex) {
      this.#offsetIndex = new Map();
      for (const [k, o] of this.#offsets.entries()) this.#offsetIndex.set(o, k);
    }
    return this.#offsetIndex.get(offset) ?? -1;
  }
}

/** A delta's instructions; read before its base because the entry bytes live in a reused buffer. */
function inflatedDelta(zlib: Buffer, size: number, what: string): Buffer {
  const delta = inflateWithRoom(zlib, 0, what);
  if (delta.length !== size)
    throw new CorruptObjectError(what, `pack entry says ${size} delta bytes, has ${delta.length}`);
  return delta;
}

function readSize(delta: Buffer, at: { i: number }, what: string): number {
  let size = 0;
  let scale = 1;
  let byte: number;
  do {
    if (at.i >= delta.length) throw new CorruptObjectError(what, "truncated delta header");
    byte = delta[at.i++]!;
    size += (byte & 0x7f) * scale;
    scale *= 128;
  } while (byte & 0x80);
  return size;
}

/** Git's delta format: base and result sizes, then copy-from-base and insert instructions. */
export function applyDelta(base: Uint8Array, delta: Buffer, what: string): Buffer {
  const at = { i: 0 };
  const baseSize = readSize(delta, at, what);
  if (baseSize !== base.length)
    throw new CorruptObjectError(what, `delta expects a ${baseSize}-byte base, has ${base.length}`);
  const resultSize = readSize(delta, at, what);
  const out = Buffer.allocUnsafe(resultSize);
  let written = 0;
  while (at.i < delta.length) {
    const op = delta[at.i++]!;
    if (op & 0x80) {
      let offset = 0;
      let length = 0;
      for (let bit = 0; bit < 4; bit++) if (op & (1 << bit)) offset |= delta[at.i++]! << (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (op & (16 << bit)) length |= delta[at.i++]! << (8 * bit);
      offset >>>= 0;
      if (length === 0) length = 0x10000;
      if (at.i > delta.length || offset + length > base.length || written + length > resultSize)
        throw new CorruptObjectError(what, "delta copies outside its base or result");
      out.set(base.subarray(offset, offset + length), written);
      written += length;
    } else if (op > 0) {
      if (at.i + op > delta.length || written + op > resultSize)
        throw new CorruptObjectError(what, "delta inserts past its end");
      delta.copy(out, written, at.i, at.i + op);
      at.i += op;
      written += op;
    } else throw new CorruptObjectError(what, "delta has a reserved opcode");
  }
  if (written !== resultSize)
    throw new CorruptObjectError(what, `delta builds ${written} of ${resultSize} bytes`);
  return out;
}
