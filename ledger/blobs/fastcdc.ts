/**
 * FastCDC content-defined chunking, cut-point compatible with the published
 * algorithms (Xia et al., USENIX ATC 2016; IEEE TPDS 2020) as implemented by
 * the fastcdc-rs reference (v2016 and v2020 modules), checked against its test
 * vectors in test/ledger/blobs/fastcdc.test.ts.
 *
 * Cut-point rules for one chunk starting at offset 0 of what is left:
 *
 *     0              hs                    e1                        e2
 *     |-- not hashed --|--- mask_s (hard) ---|----- mask_l (easy) -----|
 *                      ^ min                 ^ avg (center)            ^ max, or end of input
 *
 *     hash_i = (hash_{i-1} << 1) + GEAR[byte_i]   (mod 2^64, hash = 0 before hs)
 *     cut before byte i (chunk length i) at the first i with hash_i & mask == 0;
 *     none found: the chunk runs to e2 (max, or the end of input).
 *     The input left is <= min: it is one last chunk, hash 0.
 *
 * 2016 uses hs = min, e1 = center, e2 = remaining. 2020 rolls two bytes per
 * step from offset min/2*2, which is the same hash (its GEAR_LS = GEAR << 1 and
 * masks << 1 test the same bits) but rounds hs, e1 and e2 down to even offsets
 * and reports the hash shifted left once at even cut offsets. Normalization
 * level n takes mask_s = MASKS[log2(avg) + n] and mask_l = MASKS[log2(avg) - n].
 *
 * Speed: the reference hash is 64-bit, but every mask lies in bits 0..47, and
 * bit k of the gear hash depends only on the last k+1 bytes. So the loop keeps
 * only the low 32 bits in an int32 (one shift, one add, one load per byte);
 * only when the low half of the mask matches (1 time in 2^popcount, ~1/128 or
 * rarer) is the high half rebuilt exactly from the last 48 bytes with split
 * 32-bit arithmetic. The full 64-bit value reported at a cut is rebuilt the
 * same way from the last 64 bytes. No BigInt in the loop.
 */
import { createHash } from "node:crypto";
import { type ChunkerParams, logarithm2, validateChunkerParams } from "./chunker-params.ts";

/** A chunk boundary: `offset` from the start of the input, and the rolling hash at the cut. */
export interface Chunk {
  offset: number;
  length: number;
  /** The reference implementation's 64-bit gear hash at the cut (0 for a sub-minimum last chunk). */
  hash: bigint;
}

/**
 * Finds the next cut in `data[start, end)`. Callers (see `chunk-stream.ts`)
 * guarantee `end - start >= maxSize` unless `end` is the end of the input, so a
 * cut never depends on how the input was split into buffers.
 */
export interface Cutter {
  readonly maxSize: number;
  /** Length of the next chunk (> 0 when end > start). */
  cut(data: Uint8Array, start: number, end: number): number;
  /** The rolling hash at the cut `cut` last returned, as the reference reports it. */
  lastHash(): bigint;
}

const TWO32 = 4294967296;

/** MASKS[bits] from the FastCDC reference (destor / restic-FastCDC values), as [hi, lo] 32-bit halves. */
export const MASKS: readonly bigint[] = [
  0x0000000000000000n,
  0x0000000000000000n,
  0x0000000000000000n,
  0x0000000000000000n,
  0x0000000000000000n,
  0x0000000001804110n,
  0x0000000001803110n,
  0x0000000018035100n,
  0x0000001800035300n,
  0x0000019000353000n,
  0x0000590003530000n,
  0x0000d90003530000n,
  0x0000d90103530000n,
  0x0000d90303530000n,
  0x0000d90313530000n,
  0x0000d90f03530000n,
  0x0000d90303537000n,
  0x0000d90703537000n,
  0x0000d90707537000n,
  0x0000d91707537000n,
  0x0000d91747537000n,
  0x0000d91767537000n,
  0x0000d93767537000n,
  0x0000d93777537000n,
  0x0000d93777577000n,
  0x0000db3777577000n,
];

let publishedGear: readonly bigint[] | undefined;

/**
 * The published GEAR table, built from its recipe rather than pasted:
 * GEAR[i] = first 8 bytes (big-endian) of MD5 of 64 bytes all equal to i.
 */
export function gearTable(): readonly bigint[] {
  if (!publishedGear) {
    const table: bigint[] = [];
    for (let i = 0; i < 256; i++) {
      const digest = createHash("md5").update(Buffer.alloc(64, i)).digest();
      table.push(digest.readBigUInt64BE(0));
    }
    publishedGear = Object.freeze(table);
  }
  return publishedGear;
}

function splitGear(seed: number): { lo: Int32Array; hi: Int32Array } {
  const seedLo = (seed % TWO32) >>> 0;
  const seedHi = Math.floor(seed / TWO32) >>> 0;
  const lo = new Int32Array(256);
  const hi = new Int32Array(256);
  const gear = gearTable();
  for (let i = 0; i < 256; i++) {
    const g = gear[i]!;
    lo[i] = Number(g & 0xffffffffn) ^ seedLo;
    hi[i] = Number(g >> 32n) ^ seedHi;
  }
  return { lo, hi };
}

export class FastCdcCutter implements Cutter {
  readonly params: Readonly<ChunkerParams>;
  readonly maxSize: number;
  private readonly minSize: number;
  private readonly avgSize: number;
  private readonly even: boolean;
  private readonly gearLo: Int32Array;
  private readonly gearHi: Int32Array;
  private readonly gearLoU: Float64Array;
  private readonly maskSLo: number;
  private readonly maskSHi: number;
  private readonly maskLLo: number;
  private readonly maskLHi: number;
  private hashHi = 0;
  private hashLo = 0;
  /** The low 32 bits of the rolling hash, carried between `roll` calls. */
  private readonly state = new Int32Array(1);

  constructor(params: ChunkerParams) {
    validateChunkerParams(params);
    this.params = Object.freeze({ ...params });
    this.minSize = params.minSize;
    this.avgSize = params.avgSize;
    this.maxSize = params.maxSize;
    this.even = params.algorithm === "fastcdc-2020";
    const { lo, hi } = splitGear(params.seed);
    this.gearLo = lo;
    this.gearHi = hi;
    this.gearLoU = Float64Array.from(lo, (v) => v >>> 0);
    const bits = logarithm2(params.avgSize);
    const maskS = MASKS[bits + params.normalization]!;
    const maskL = MASKS[bits - params.normalization]!;
    this.maskSLo = Number(maskS & 0xffffffffn) | 0;
    this.maskSHi = Number(maskS >> 32n) | 0;
    this.maskLLo = Number(maskL & 0xffffffffn) | 0;
    this.maskLHi = Number(maskL >> 32n) | 0;
    // highAt() yields bits 32..47; every published mask lies within bits 0..47.
    if ((this.maskSHi | this.maskLHi) >>> 16 !== 0) throw new Error("mask beyond bit 47");
  }

  cut(data: Uint8Array, start: number, end: number): number {
    let remaining = end - start;
    if (remaining <= this.minSize) {
      this.hashHi = 0;
      this.hashLo = 0;
      return remaining;
    }
    let center = this.avgSize;
    if (remaining > this.maxSize) remaining = this.maxSize;
    else if (remaining < center) center = remaining;
    let hs = this.minSize;
    let e1 = center;
    let e2 = remaining;
    if (this.even) {
      hs -= hs & 1;
      e1 -= e1 & 1;
      e2 -= e2 & 1;
    }
    const first = start + hs;
    const end1 = start + e1;
    const end2 = start + e2;
    const gear = this.gearLo;
    const state = this.state;
    state[0] = 0;
    let i = first;
    while (i < end1) {
      i = roll(data, gear, state, i, end1, this.maskSLo);
      if (i === end1) break;
      // The low half matched at byte i; the cut is real if the high half does too.
      if (this.maskSHi === 0 || (this.highAt(data, first, i) & this.maskSHi) === 0) {
        return this.found(data, first, i, start);
      }
      i++;
    }
    while (i < end2) {
      i = roll(data, gear, state, i, end2, this.maskLLo);
      if (i === end2) break;
      // The low half matched at byte i; the cut is real if the high half does too.
      if (this.maskLHi === 0 || (this.highAt(data, first, i) & this.maskLHi) === 0) {
        return this.found(data, first, i, start);
      }
      i++;
    }
    // No cut: the chunk runs to max (or the end of input); the reference
    // reports the hash after the last byte it rolled.
    if (end2 > first) this.rebuild(data, Math.max(first, end2 - 64), end2 - 1);
    else this.hashHi = this.hashLo = 0;
    return remaining;
  }

  lastHash(): bigint {
    return (BigInt(this.hashHi) << 32n) | BigInt(this.hashLo);
  }

  private found(data: Uint8Array, first: number, i: number, start: number): number {
    this.rebuild(data, Math.max(first, i - 63), i);
    const length = i - start;
    if (this.even && (length & 1) === 0) {
      // 2020 tests even offsets with GEAR_LS, i.e. reports hash << 1 there.
      this.hashHi = ((this.hashHi << 1) | (this.hashLo >>> 31)) >>> 0;
      this.hashLo = (this.hashLo << 1) >>> 0;
    }
    return length;
  }

  /**
   * Bits 32..47 of the hash at byte i (in bits 0..15 of the result), from the
   * last 48 bytes only. With T = the last 16 bytes' sum G[b_{i-k}] << k:
   *
   *     hash_i = hash_{i-16} << 16 + T, so
   *     bits 32..47 of hash_i = bits 16..31 of (lo32(hash_{i-16}) + floor(T / 2^16))
   *
   * lo32(hash_{i-16}) needs 32 cheap int32 steps (bytes i-47..i-16), and
   * floor(T / 2^16) mod 2^32 splits into the low words' sum (< 2^48, exact in
   * a double) and the high words' sum (only its low 16 bits survive). About
   * three times cheaper than rolling 48 bytes in split 64-bit arithmetic.
   */
  private highAt(data: Uint8Array, first: number, i: number): number {
    if (i - 47 < first) return this.highAtNearStart(data, first, i);
    // lo32(hash_{i-16}) = (lo16(hash_{i-32}) << 16) + lo32(sum of bytes i-31..i-16),
    // so the three 16-byte windows roll as four independent chains in one
    // loop, which the CPU overlaps.
    const gLo = this.gearLo;
    const gLoU = this.gearLoU;
    const gHi = this.gearHi;
    let a = 0;
    let b = 0;
    let y = 0;
    let z = 0;
    for (let j = i - 47; j <= i - 32; j++) {
      const far = data[j]!;
      const mid = data[j + 16]!;
      const near = data[j + 32]!;
      a = ((a << 1) + gLo[far]!) | 0;
      b = ((b << 1) + gLo[mid]!) | 0;
      y = y * 2 + gLoU[near]!;
      z = ((z << 1) + gHi[near]!) | 0;
    }
    const lag = ((a << 16) + b) | 0;
    return ((lag + Math.floor(y / 65536) + (z << 16)) | 0) >>> 16;
  }

  /** `highAt` within 48 bytes of where hashing started (bytes before `first` count as absent). */
  private highAtNearStart(data: Uint8Array, first: number, i: number): number {
    const gLo = this.gearLo;
    const gLoU = this.gearLoU;
    const gHi = this.gearHi;
    let lag = 0;
    for (let j = Math.max(first, i - 47); j <= i - 16; j++) lag = ((lag << 1) + gLo[data[j]!]!) | 0;
    let y = 0;
    let z = 0;
    for (let j = Math.max(first, i - 15); j <= i; j++) {
      const b = data[j]!;
      y = y * 2 + gLoU[b]!;
      z = ((z << 1) + gHi[b]!) | 0;
    }
    return ((lag + Math.floor(y / 65536) + (z << 16)) | 0) >>> 16;
  }

  /** Rolls bytes from..to (inclusive) from a zero hash in split 32-bit arithmetic. */
  private rebuild(data: Uint8Array, from: number, to: number): void {
    const gLo = this.gearLo;
    const gHi = this.gearHi;
    let lo = 0;
    let hi = 0;
    for (let j = from; j <= to; j++) {
      const b = data[j]!;
      const g = gLo[b]!;
      const sum = ((lo << 1) + g) | 0;
      // Bit 31 of lo shifts into hi; the 32-bit add carries into hi when the
      // unsigned sum wrapped below one of its operands.
      hi = ((hi << 1) + (lo >>> 31) + gHi[b]! + (sum >>> 0 < g >>> 0 ? 1 : 0)) | 0;
      lo = sum;
    }
    this.hashHi = hi >>> 0;
    this.hashLo = lo >>> 0;
  }
}

/**
 * The hot loop, kept as a tiny function of its own so the optimizing compiler
 * sees one loop with one exit and never deoptimizes on the rarely taken paths
 * around it. Rolls bytes i..end-1 into the low 32 bits of the hash and returns
 * the first i whose low bits match `maskLo` (or `end`).
 */
function roll(
  data: Uint8Array,
  gear: Int32Array,
  state: Int32Array,
  i: number,
  end: number,
  maskLo: number,
): number {
  let lo = state[0]!;
  // Two bytes per iteration (as the 2020 paper does) halves the loop overhead.
  const last = end - 1;
  while (i < last) {
    lo = ((lo << 1) + gear[data[i]!]!) | 0;
    if ((lo & maskLo) === 0) {
      state[0] = lo;
      return i;
    }
    lo = ((lo << 1) + gear[data[i + 1]!]!) | 0;
    if ((lo & maskLo) === 0) {
      state[0] = lo;
      return i + 1;
    }
    i += 2;
  }
  if (i === last) {
    lo = ((lo << 1) + gear[data[i]!]!) | 0;
    if ((lo & maskLo) !== 0) i++;
  }
  state[0] = lo;
  return i;
}

/** All chunks of an in-memory buffer. */
export function chunkBuffer(data: Uint8Array, cutter: Cutter): Chunk[] {
  const chunks: Chunk[] = [];
  let offset = 0;
  while (offset < data.length) {
    const length = cutter.cut(data, offset, data.length);
    chunks.push({ offset, length, hash: cutter.lastHash() });
    offset += length;
  }
  return chunks;
}
