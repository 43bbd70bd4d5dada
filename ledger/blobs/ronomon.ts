/**
 * The "ronomon" FastCDC variant (Joran Dirk Greef's JavaScript deduplication
 * module, also shipped by the fastcdc-rs reference as `ronomon`): a 31-bit
 * table, a right shift instead of a left shift, plain low-bit masks with one
 * bit of normalization, and a pivot that moves with the minimum size.
 *
 * The store never uses it (manifests only accept fastcdc-2016/2020); it is here
 * so the reference test vectors for all three published variants are checked.
 *
 *     0          min         center = avg - min(avg, min + ceil(min/2))        max
 *     |-- skip --|--- mask_s = 2^(b+1)-1 ---|---------- mask_l = 2^(b-1)-1 -----|
 *
 *     hash = (hash >>> 1) + TABLE[byte]; unlike 2016/2020 the chunk *includes*
 *     the byte whose hash matched (cut after it); b = round(log2(avg)).
 */
import { createCipheriv } from "node:crypto";
import { logarithm2 } from "./chunker-params.ts";
import { ChunkerParamsError } from "./errors.ts";
import type { Cutter } from "./fastcdc.ts";

let table: Uint32Array | undefined;

/**
 * The variant's TABLE, built from its recipe: AES-256-CTR with an all-zero key
 * and nonce over 1024 zero bytes, read as 256 big-endian u32 with the high bit
 * cleared (so the sum below never exceeds 32 bits).
 */
export function ronomonTable(): Uint32Array {
  if (!table) {
    const cipher = createCipheriv("aes-256-ctr", Buffer.alloc(32), Buffer.alloc(16));
    const stream = cipher.update(Buffer.alloc(1024));
    table = new Uint32Array(256);
    for (let i = 0; i < 256; i++) table[i] = stream.readUInt32BE(i * 4) & 0x7fffffff;
  }
  return table;
}

export interface RonomonParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

export class RonomonCutter implements Cutter {
  readonly maxSize: number;
  private readonly minSize: number;
  private readonly avgSize: number;
  private readonly maskS: number;
  private readonly maskL: number;
  private readonly table = ronomonTable();
  private hash = 0;

  constructor(params: RonomonParams) {
    const { minSize, avgSize, maxSize } = params;
    const bounds: [keyof RonomonParams, number, number][] = [
      ["minSize", 64, 67_108_864],
      ["avgSize", 256, 268_435_456],
      ["maxSize", 1024, 1_073_741_824],
    ];
    for (const [field, lo, hi] of bounds) {
      const value = params[field];
      if (!Number.isSafeInteger(value) || value < lo || value > hi) {
        throw new ChunkerParamsError(`ronomon: ${field} must be an integer in ${lo}..${hi}`, {
          source: "ronomon",
          field,
        });
      }
    }
    this.minSize = minSize;
    this.avgSize = avgSize;
    this.maxSize = maxSize;
    const bits = logarithm2(avgSize);
    this.maskS = 2 ** (bits + 1) - 1;
    this.maskL = 2 ** (bits - 1) - 1;
  }

  cut(data: Uint8Array, start: number, end: number): number {
    let size = end - start;
    this.hash = 0;
    if (size <= this.minSize) return size;
    if (size > this.maxSize) size = this.maxSize;
    let pivot = this.minSize + Math.ceil(this.minSize / 2);
    if (pivot > this.avgSize) pivot = this.avgSize;
    const end1 = start + Math.min(this.avgSize - pivot, size);
    const end2 = start + size;
    const t = this.table;
    let hash = 0;
    let i = start + this.minSize;
    for (; i < end1; i++) {
      hash = (hash >>> 1) + t[data[i]!]!;
      if ((hash & this.maskS) === 0) {
        this.hash = hash;
        return i + 1 - start;
      }
    }
    for (; i < end2; i++) {
      hash = (hash >>> 1) + t[data[i]!]!;
      if ((hash & this.maskL) === 0) {
        this.hash = hash;
        return i + 1 - start;
      }
    }
    this.hash = hash;
    return size;
  }

  lastHash(): bigint {
    return BigInt(this.hash);
  }
}
