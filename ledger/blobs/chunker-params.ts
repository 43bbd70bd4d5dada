import { ChunkerParamsError } from "./errors.ts";

/**
 * The cut rules of a chunker. Two stores (or two manifests) that chunk with
 * different parameters produce different chunk ids for the same bytes, so the
 * parameters are recorded in every manifest and in the store's config, and a
 * store refuses to be opened with parameters other than the ones it was
 * created with (see RFC 0004).
 */
export interface ChunkerParams {
  /**
   * `fastcdc-2020`: Xia et al. 2020 (gear hash, normalized chunking, two-byte
   * rolling); `fastcdc-2016`: the 2016 paper. Both cut the same gear hash and
   * differ only in where the hashed regions start and end (rounding to even
   * offsets in 2020), so they can give different cut points for odd sizes.
   */
  algorithm: ChunkerAlgorithm;
  /** No chunk except the last is shorter (the first `minSize` bytes are not even hashed). */
  minSize: number;
  /** The "normal size" the masks aim at. */
  avgSize: number;
  /** No chunk is longer: a cut is forced here. */
  maxSize: number;
  /** Normalized chunking level 0–3: bits added to the mask below `avgSize`, removed above. */
  normalization: number;
  /** XORed into every gear table entry; 0 for the published tables. At most 2^53 − 1. */
  seed: number;
}

export type ChunkerAlgorithm = "fastcdc-2020" | "fastcdc-2016";

export const CHUNKER_ALGORITHMS: readonly ChunkerAlgorithm[] = ["fastcdc-2020", "fastcdc-2016"];

/**
 * Production defaults for container images and attachments (RFC 0004):
 * 8 KiB / 32 KiB / 128 KiB with level-2 normalization (the FastCDC 2020
 * paper's recommended level). A new image version changes a tarball in a few
 * small places (tar headers, config JSON, the edited files), each costing about
 * one average chunk, so a 32 KiB average keeps a one-file change to ~2% of a
 * 10 MB image, at ~2.3 MB of manifest per GB of blob.
 */
export const DEFAULT_CHUNKER: Readonly<ChunkerParams> = Object.freeze({
  algorithm: "fastcdc-2020",
  minSize: 8 * 1024,
  avgSize: 32 * 1024,
  maxSize: 128 * 1024,
  normalization: 2,
  seed: 0,
});

// Bounds of the reference implementation (fastcdc-rs v2020); the MASKS table
// has entries for 5..25 bits, which bounds avgSize together with the level.
const LIMITS = {
  minSize: [64, 1_048_576],
  avgSize: [256, 4_194_304],
  maxSize: [1024, 16_777_216],
} as const;

/** Rounded base-2 logarithm, as the reference picks the mask closest to `avgSize`. */
export function logarithm2(value: number): number {
  return Math.round(Math.log2(value));
}

/** Throws `ChunkerParamsError` naming the offending field; returns the params otherwise. */
export function validateChunkerParams(params: ChunkerParams, source = "chunker parameters") {
  const fail = (field: string, reason: string) => {
    throw new ChunkerParamsError(`${source}: ${field} ${reason}`, { source, field });
  };
  if (!CHUNKER_ALGORITHMS.includes(params.algorithm)) {
    fail("algorithm", `must be one of ${CHUNKER_ALGORITHMS.join(", ")}`);
  }
  for (const field of ["minSize", "avgSize", "maxSize"] as const) {
    const value = params[field];
    const [lo, hi] = LIMITS[field];
    if (!Number.isSafeInteger(value) || value < lo || value > hi) {
      fail(field, `must be an integer in ${lo}..${hi} (got ${value})`);
    }
  }
  if (params.minSize > params.avgSize || params.avgSize > params.maxSize) {
    fail("avgSize", "must satisfy minSize <= avgSize <= maxSize");
  }
  if (!Number.isInteger(params.normalization) || params.normalization < 0) {
    fail("normalization", "must be an integer in 0..3");
  }
  if (params.normalization > 3) fail("normalization", "must be an integer in 0..3");
  const bits = logarithm2(params.avgSize);
  if (bits - params.normalization < 5 || bits + params.normalization > 25) {
    fail("normalization", `is too large for avgSize ${params.avgSize}`);
  }
  if (!Number.isSafeInteger(params.seed) || params.seed < 0) {
    fail("seed", "must be an integer in 0..2^53-1");
  }
  return params;
}

/**
 * The canonical one-line form used in manifests and the store config:
 *
 *     fastcdc-2020 min=8192 avg=32768 max=131072 level=2 seed=0
 */
export function formatChunkerParams(params: ChunkerParams): string {
  const p = params;
  return `${p.algorithm} min=${p.minSize} avg=${p.avgSize} max=${p.maxSize} level=${p.normalization} seed=${p.seed}`;
}

const PARAMS_LINE =
  /^(fastcdc-2020|fastcdc-2016) min=(0|[1-9]\d*) avg=(0|[1-9]\d*) max=(0|[1-9]\d*) level=(0|[1-9]\d*) seed=(0|[1-9]\d*)$/;

/** Parses exactly the canonical form of `formatChunkerParams`, then validates the values. */
export function parseChunkerParams(text: string, source = "chunker parameters"): ChunkerParams {
  const m = PARAMS_LINE.exec(text);
  if (!m) {
    throw new ChunkerParamsError(
      `${source}: chunker must read 'fastcdc-2020 min=N avg=N max=N level=N seed=N' (got '${text.slice(0, 120)}')`,
      { source, field: "chunker" },
    );
  }
  return validateChunkerParams(
    {
      algorithm: m[1] as ChunkerAlgorithm,
      minSize: Number(m[2]),
      avgSize: Number(m[3]),
      maxSize: Number(m[4]),
      normalization: Number(m[5]),
      seed: Number(m[6]),
    },
    source,
  );
}

export function sameChunkerParams(a: ChunkerParams, b: ChunkerParams): boolean {
  return formatChunkerParams(a) === formatChunkerParams(b);
}
