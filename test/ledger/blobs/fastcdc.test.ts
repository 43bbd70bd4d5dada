import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chunkStream } from "../../../ledger/blobs/chunk-stream.ts";
import {
  type ChunkerParams,
  DEFAULT_CHUNKER,
  formatChunkerParams,
  parseChunkerParams,
  validateChunkerParams,
} from "../../../ledger/blobs/chunker-params.ts";
import {
  type Chunk,
  type Cutter,
  chunkBuffer,
  FastCdcCutter,
  gearTable,
  MASKS,
} from "../../../ledger/blobs/fastcdc.ts";
import { RonomonCutter } from "../../../ledger/blobs/ronomon.ts";

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const vectorsDir = join(projectRoot, "..", "shared", "vectors", "fastcdc");

interface VectorChunk {
  offset: number;
  length: number;
  hash?: string;
  blake3?: string;
}
interface Vector {
  id: string;
  variant: "v2016" | "v2020" | "ronomon";
  input: string;
  min_size: number;
  avg_size: number;
  max_size: number;
  normalization_level?: number;
  seed?: number;
  chunks: VectorChunk[];
}

const expected = JSON.parse(readFileSync(join(vectorsDir, "expected.json"), "utf8")) as {
  fixture: { file: string; size: number; sha256: string };
  gear: { GEAR_hex: string[] };
  masks: { MASKS_hex: string[] };
  tests: Vector[];
};
const sekien = readFileSync(join(vectorsDir, expected.fixture.file));

function inputOf(vector: Vector): Uint8Array {
  if (vector.input === expected.fixture.file) return sekien;
  const zeros = /^(\d+) zero bytes$/.exec(vector.input);
  if (zeros) return new Uint8Array(Number(zeros[1]));
  throw new Error(`unknown vector input '${vector.input}'`);
}

function cutterOf(vector: Vector): Cutter {
  const sizes = { minSize: vector.min_size, avgSize: vector.avg_size, maxSize: vector.max_size };
  if (vector.variant === "ronomon") return new RonomonCutter(sizes);
  return new FastCdcCutter({
    algorithm: vector.variant === "v2020" ? "fastcdc-2020" : "fastcdc-2016",
    ...sizes,
    normalization: vector.normalization_level ?? 1,
    seed: vector.seed ?? 0,
  });
}

/** A small deterministic PRNG (xorshift32) so failures reproduce. */
function pseudoRandom(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed | 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Splits `data` at pseudo-random places, including empty and one-byte pieces. */
function* splitAt(data: Uint8Array, seed: number, maxPiece: number): Generator<Uint8Array> {
  const r = pseudoRandom(4096, seed);
  let k = 0;
  let offset = 0;
  while (offset < data.length) {
    const roll = (r[k++ % r.length]! << 8) | r[k++ % r.length]!;
    const n = roll % 7 === 0 ? roll % 2 : 1 + (roll % maxPiece);
    yield data.subarray(offset, offset + n);
    offset += n;
  }
}

async function streamed(
  pieces: Iterable<Uint8Array>,
  cutter: Cutter,
  blockSize: number,
): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  let expectedOffset = 0;
  for await (const batch of chunkStream({ source: pieces, cutter, blockSize })) {
    assert.equal(batch.offset, expectedOffset);
    let length = 0;
    for (const chunk of batch.chunks) length += chunk.length;
    assert.equal(batch.data.length, length, "a batch holds exactly its chunks' bytes");
    expectedOffset += length;
    chunks.push(...batch.chunks);
  }
  return chunks;
}

/**
 * The published algorithms transliterated with BigInt, as slow and literal as
 * possible: 2020 rolls two bytes per step with GEAR_LS and shifted masks.
 */
interface Reference {
  gear: bigint[];
  gearLs: bigint[];
  maskS: bigint;
  maskL: bigint;
}
const M64 = (1n << 64n) - 1n;

function referenceCut2020(src: Uint8Array, p: ChunkerParams, r: Reference): [bigint, number] {
  let remaining = src.length;
  if (remaining <= p.minSize) return [0n, remaining];
  let center = p.avgSize;
  if (remaining > p.maxSize) remaining = p.maxSize;
  else if (remaining < center) center = remaining;
  let index = Math.floor(p.minSize / 2);
  let hash = 0n;
  for (; index < Math.floor(center / 2); index++) {
    const a = index * 2;
    hash = ((hash << 2n) + r.gearLs[src[a]!]!) & M64;
    if ((hash & (r.maskS << 1n)) === 0n) return [hash, a];
    hash = (hash + r.gear[src[a + 1]!]!) & M64;
    if ((hash & r.maskS) === 0n) return [hash, a + 1];
  }
  for (; index < Math.floor(remaining / 2); index++) {
    const a = index * 2;
    hash = ((hash << 2n) + r.gearLs[src[a]!]!) & M64;
    if ((hash & (r.maskL << 1n)) === 0n) return [hash, a];
    hash = (hash + r.gear[src[a + 1]!]!) & M64;
    if ((hash & r.maskL) === 0n) return [hash, a + 1];
  }
  return [hash, remaining];
}

function referenceCut2016(src: Uint8Array, p: ChunkerParams, r: Reference): [bigint, number] {
  let remaining = src.length;
  if (remaining <= p.minSize) return [0n, remaining];
  let center = p.avgSize;
  if (remaining > p.maxSize) remaining = p.maxSize;
  else if (remaining < center) center = remaining;
  let index = p.minSize;
  let hash = 0n;
  for (; index < center; index++) {
    hash = ((hash << 1n) + r.gear[src[index]!]!) & M64;
    if ((hash & r.maskS) === 0n) return [hash, index];
  }
  for (; index < remaining; index++) {
    hash = ((hash << 1n) + r.gear[src[index]!]!) & M64;
    if ((hash & r.maskL) === 0n) return [hash, index];
  }
  return [hash, index];
}

function referenceChunks(data: Uint8Array, p: ChunkerParams): { offset: number; hash: bigint }[] {
  const seed = BigInt(p.seed);
  const bits = Math.round(Math.log2(p.avgSize));
  const r: Reference = {
    gear: gearTable().map((g) => g ^ seed),
    gearLs: gearTable().map((g) => ((g << 1n) & M64) ^ ((seed << 1n) & M64)),
    maskS: MASKS[bits + p.normalization]!,
    maskL: MASKS[bits - p.normalization]!,
  };
  const cut = p.algorithm === "fastcdc-2020" ? referenceCut2020 : referenceCut2016;
  const out: { offset: number; hash: bigint }[] = [];
  for (let start = 0; start < data.length; ) {
    const [hash, length] = cut(data.subarray(start), p, r);
    out.push({ offset: start, hash });
    start += length;
  }
  return out;
}

describe("FastCDC chunker", () => {
  it("should build the published GEAR table and MASKS from their recipe", () => {
    assert.deepEqual(
      gearTable().map((g) => `0x${g.toString(16).padStart(16, "0")}`),
      expected.gear.GEAR_hex,
    );
    assert.deepEqual(
      MASKS.map((m) => `0x${m.toString(16).padStart(16, "0")}`),
      expected.masks.MASKS_hex,
    );
  });

  it("should read the reference input the vectors were made from", () => {
    assert.equal(sekien.length, expected.fixture.size);
    assert.equal(createHash("sha256").update(sekien).digest("hex"), expected.fixture.sha256);
  });

  it("should have vectors for the 2016, 2020 and ronomon variants", () => {
    const variants = new Set(expected.tests.map((t) => t.variant));
    assert.deepEqual([...variants].sort(), ["ronomon", "v2016", "v2020"]);
  });

  for (const vector of expected.tests) {
    it(`should reproduce ${vector.id} (${vector.variant} ${vector.min_size}/${vector.avg_size}/${vector.max_size}) from one buffer`, () => {
      const chunks = chunkBuffer(inputOf(vector), cutterOf(vector));
      assert.deepEqual(
        chunks.map((c) => [c.offset, c.length]),
        vector.chunks.map((c) => [c.offset, c.length]),
      );
      vector.chunks.forEach((want, i) => {
        if (want.hash !== undefined)
          assert.equal(chunks[i]!.hash.toString(), want.hash, `chunk ${i} hash`);
      });
      // BLAKE3 is not in node:crypto; the vectors' digests are of the bytes at
      // these offsets, which the fixture's SHA-256 above already pins down.
    });

    it(`should reproduce ${vector.id} from a stream split at arbitrary places`, async () => {
      const data = inputOf(vector);
      const want = vector.chunks.map((c) => [c.offset, c.length]);
      for (const [seed, maxPiece, blockSize] of [
        [1, 3000, 1],
        [2, 70_000, 8192],
        [3, 200, 100_000],
      ] as const) {
        const chunks = await streamed(splitAt(data, seed, maxPiece), cutterOf(vector), blockSize);
        assert.deepEqual(
          chunks.map((c) => [c.offset, c.length]),
          want,
          `seed ${seed}`,
        );
        vector.chunks.forEach((w, i) => {
          if (w.hash !== undefined) assert.equal(chunks[i]!.hash.toString(), w.hash);
        });
      }
    });
  }

  it("should match a literal BigInt transliteration of both papers on random data", () => {
    const cases: ChunkerParams[] = [
      {
        algorithm: "fastcdc-2020",
        minSize: 256,
        avgSize: 1024,
        maxSize: 4096,
        normalization: 1,
        seed: 0,
      },
      {
        algorithm: "fastcdc-2016",
        minSize: 256,
        avgSize: 1024,
        maxSize: 4096,
        normalization: 1,
        seed: 0,
      },
      {
        algorithm: "fastcdc-2020",
        minSize: 301,
        avgSize: 1500,
        maxSize: 5001,
        normalization: 2,
        seed: 7,
      },
      {
        algorithm: "fastcdc-2016",
        minSize: 301,
        avgSize: 1500,
        maxSize: 5001,
        normalization: 3,
        seed: 2 ** 40 + 5,
      },
      {
        algorithm: "fastcdc-2020",
        minSize: 64,
        avgSize: 256,
        maxSize: 1024,
        normalization: 0,
        seed: 0,
      },
      {
        algorithm: "fastcdc-2020",
        minSize: 1025,
        avgSize: 4097,
        maxSize: 16_385,
        normalization: 3,
        seed: 666,
      },
      { ...DEFAULT_CHUNKER },
    ];
    for (const [k, params] of cases.entries()) {
      const data = pseudoRandom(params.maxSize * 40, 1000 + k);
      const fast = chunkBuffer(data, new FastCdcCutter(params));
      const reference = referenceChunks(data, params);
      assert.deepEqual(
        fast.map((c) => [c.offset, c.hash]),
        reference.map((c) => [c.offset, c.hash]),
        formatChunkerParams(params),
      );
    }
  });

  it("should give identical chunks for a large random input streamed in odd pieces", async () => {
    const params: ChunkerParams = {
      ...DEFAULT_CHUNKER,
      minSize: 2048,
      avgSize: 8192,
      maxSize: 32_768,
    };
    const data = pseudoRandom(3 * 1024 * 1024 + 17, 42);
    const whole = chunkBuffer(data, new FastCdcCutter(params));
    assert.ok(whole.length > 200);
    const parts = await streamed(splitAt(data, 9, 100_000), new FastCdcCutter(params), 65_536);
    assert.deepEqual(parts, whole);
  });

  it("should give identical chunks when the stream is read straight into the chunker's blocks", async () => {
    const params: ChunkerParams = {
      ...DEFAULT_CHUNKER,
      minSize: 2048,
      avgSize: 8192,
      maxSize: 32_768,
    };
    const data = pseudoRandom(1024 * 1024 + 3, 43);
    const whole = chunkBuffer(data, new FastCdcCutter(params));
    let offset = 0;
    const sizes = pseudoRandom(10_000, 8);
    let k = 0;
    const reader = {
      async read(into: Uint8Array, at: number, length: number) {
        const n = Math.min(length, data.length - offset, 1 + sizes[k++ % sizes.length]! * 97);
        into.set(data.subarray(offset, offset + n), at);
        offset += n;
        return n;
      },
    };
    const chunks: Chunk[] = [];
    for await (const batch of chunkStream({
      source: reader,
      cutter: new FastCdcCutter(params),
      blockSize: 50_000,
    })) {
      chunks.push(...batch.chunks);
      batch.release();
    }
    assert.deepEqual(chunks, whole);
  });

  it("should produce chunks within min and max for the default parameters", () => {
    const data = pseudoRandom(8 * 1024 * 1024, 5);
    const chunks = chunkBuffer(data, new FastCdcCutter(DEFAULT_CHUNKER));
    chunks.slice(0, -1).forEach((c) => {
      assert.ok(c.length >= DEFAULT_CHUNKER.minSize && c.length <= DEFAULT_CHUNKER.maxSize);
    });
    const mean = data.length / chunks.length;
    assert.ok(mean > 24 * 1024 && mean < 48 * 1024, `mean chunk ${mean}`);
  });

  it("should yield one empty final batch for an empty input", async () => {
    const batches = [];
    for await (const b of chunkStream({ source: [], cutter: new FastCdcCutter(DEFAULT_CHUNKER) }))
      batches.push(b);
    assert.equal(batches.length, 1);
    assert.equal(batches[0]!.chunks.length, 0);
    assert.equal(batches[0]!.final, true);
  });

  it("should refuse parameters outside the reference bounds, naming the field", () => {
    const bad: [Partial<ChunkerParams>, string][] = [
      [{ minSize: 63 }, "minSize"],
      [{ avgSize: 255, minSize: 64 }, "avgSize"],
      [{ maxSize: 16_777_217 }, "maxSize"],
      [{ minSize: 100_000 }, "avgSize"],
      [{ normalization: 4 }, "normalization"],
      [{ normalization: 1.5 }, "normalization"],
      [{ seed: -1 }, "seed"],
      [{ algorithm: "rabin" as never }, "algorithm"],
    ];
    for (const [change, field] of bad) {
      assert.throws(
        () => validateChunkerParams({ ...DEFAULT_CHUNKER, ...change }),
        (e: Error & { code?: string; data?: { field?: string } }) =>
          e.code === "chunker-params-invalid" && e.data?.field === field,
        JSON.stringify(change),
      );
    }
  });

  it("should round-trip the canonical parameter line and refuse anything else", () => {
    const line = formatChunkerParams(DEFAULT_CHUNKER);
    assert.equal(line, "fastcdc-2020 min=8192 avg=32768 max=131072 level=2 seed=0");
    assert.deepEqual(parseChunkerParams(line), DEFAULT_CHUNKER);
    for (const bad of [
      "fastcdc-2020 min=16384 avg=65536 max=262144 level=2",
      "fastcdc-2020 min=016384 avg=65536 max=262144 level=2 seed=0",
      "fastcdc-2020  min=16384 avg=65536 max=262144 level=2 seed=0",
      "fastcdc-2020 avg=65536 min=16384 max=262144 level=2 seed=0",
    ]) {
      assert.throws(() => parseChunkerParams(bad), { code: "chunker-params-invalid" });
    }
  });
});
