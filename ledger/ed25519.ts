/**
 * Ed25519 encoding checks that OpenSSL's verifier does not make, so that gdo's
 * acceptance rules are defined by gdo and not by the linked crypto library.
 *
 * OpenSSL 3 (node:crypto) verifies cofactorless and rejects S ≥ L and non-canonical R,
 * but it accepts public keys of small or mixed order (and a non-canonical A): with a
 * small-order key a single signature verifies for many messages (ed25519-speccheck
 * vectors 0–3, 11). gdo therefore requires:
 *
 *  - public key A: canonical encoding (y < p, no "negative zero"), on the curve, not the
 *    identity, and in the prime-order subgroup ([L]A = identity). Checked once per key
 *    (about a millisecond of BigInt arithmetic) and cached by the caller;
 *  - signature R‖S: S < L (canonical scalar), R canonical (y < p) and not one of the
 *    small-order points. These are byte comparisons, cheap enough for every signature.
 *
 * Honest keys and signatures (from ssh-keygen, OpenSSL, libsodium…) always pass.
 */

const P = 2n ** 255n - 19n;
/** The prime order of the base point. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

const D = mod(-121665n * pow(121666n, P - 2n));
const D2 = mod(2n * D);
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** Extended twisted Edwards coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
interface Point {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}

const IDENTITY: Point = { X: 0n, Y: 1n, Z: 1n, T: 0n };

function add(p: Point, q: Point): Point {
  const a = mod((p.Y - p.X) * (q.Y - q.X));
  const b = mod((p.Y + p.X) * (q.Y + q.X));
  const c = mod(p.T * D2 * q.T);
  const d = mod(p.Z * 2n * q.Z);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}

function double(p: Point): Point {
  const a = mod(p.X * p.X);
  const b = mod(p.Y * p.Y);
  const c = mod(2n * p.Z * p.Z);
  const h = a + b;
  const e = h - mod((p.X + p.Y) * (p.X + p.Y));
  const g = a - b;
  const f = c + g;
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}

function multiply(p: Point, scalar: bigint): Point {
  let result = IDENTITY;
  for (let i = BigInt(scalar.toString(2).length - 1); i >= 0n; i--) {
    result = double(result);
    if ((scalar >> i) & 1n) result = add(result, p);
  }
  return result;
}

function isIdentity(p: Point): boolean {
  return mod(p.X) === 0n && mod(p.Y - p.Z) === 0n;
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** Why a 32-byte encoding is not a point (`undefined` when it decodes). */
function decode(
  bytes: Uint8Array,
): { point: Point; reason?: undefined } | { point?: undefined; reason: string } {
  if (bytes.length !== 32) return { reason: `point is ${bytes.length} bytes, expected 32` };
  const sign = bytes[31]! >> 7;
  const y = littleEndian(bytes) & ((1n << 255n) - 1n);
  if (y >= P) return { reason: "non-canonical point encoding (y ≥ p)" };
  const y2 = (y * y) % P;
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  // x = u v³ (u v⁷)^((p−5)/8), RFC 8032 §5.1.3
  const v3 = (v * v * v) % P;
  let x = (u * v3 * pow(u * v3 * v3 * v, (P - 5n) / 8n)) % P;
  const vx2 = (v * x * x) % P;
  if (vx2 === mod(-u)) x = (x * SQRT_M1) % P;
  else if (vx2 !== u) return { reason: "not a point on the curve" };
  if (x === 0n && sign === 1) return { reason: "non-canonical point encoding (negative zero)" };
  if (Number(x & 1n) !== sign) x = P - x;
  return { point: { X: x, Y: y, Z: 1n, T: (x * y) % P } };
}

/**
 * Why `raw` is not an acceptable Ed25519 public key, or `undefined` if it is:
 * canonical, on the curve, of order exactly L.
 */
export function publicKeyProblem(raw: Uint8Array): string | undefined {
  const decoded = decode(raw);
  if (!decoded.point) return decoded.reason;
  if (isIdentity(multiply(decoded.point, 8n))) return "small-order point (weak key)";
  if (!isIdentity(multiply(decoded.point, L))) {
    return "point not in the prime-order subgroup (mixed-order key)";
  }
  return undefined;
}

/** The order-8 subgroup's y values (1, −1, 0 and the two order-8 y's) encoded with either sign bit. */
const SMALL_ORDER_Y = (() => {
  const y8 = littleEndian(
    Buffer.from("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "hex"),
  );
  return [0n, 1n, P - 1n, y8, P - y8];
})();

function encodeY(y: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let n = y;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The 10 encodings of small-order points (5 y values × 2 sign bits), as hex. Exported for tests. */
export const SMALL_ORDER_ENCODINGS: readonly string[] = SMALL_ORDER_Y.flatMap((y) => {
  const plain = encodeY(y);
  const signed = encodeY(y);
  signed[31]! |= 0x80;
  return [Buffer.from(plain).toString("hex"), Buffer.from(signed).toString("hex")];
});
const smallOrder = new Set(SMALL_ORDER_ENCODINGS);

/** Is the 255-bit y of this encoding ≥ p (a non-canonical field element)? Byte test, no BigInt. */
function yNonCanonical(bytes: Uint8Array, offset: number): boolean {
  if ((bytes[offset + 31]! & 0x7f) !== 0x7f) return false;
  for (let i = 30; i >= 1; i--) if (bytes[offset + i] !== 0xff) return false;
  return bytes[offset]! >= 0xed;
}

/** L as 32 little-endian bytes. */
const L_BYTES = encodeY(L);

/** Is the little-endian scalar at bytes[offset..offset+32] < L? */
function scalarCanonical(bytes: Uint8Array, offset: number): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = bytes[offset + i]!;
    const b = L_BYTES[i]!;
    if (a !== b) return a < b;
  }
  return false; // equal to L
}

/**
 * Why the 64-byte signature R‖S is not in canonical form, or `undefined` if it is:
 * S < L, R with y < p, R not a small-order point. Cheap (byte comparisons only).
 */
export function signatureProblem(signature: Uint8Array): string | undefined {
  if (signature.length !== 64) return `signature is ${signature.length} bytes, expected 64`;
  if (!scalarCanonical(signature, 32)) return "non-canonical signature scalar (S ≥ L)";
  if (yNonCanonical(signature, 0)) return "non-canonical R encoding (y ≥ p)";
  const r = Buffer.from(signature.buffer, signature.byteOffset, 32).toString("hex");
  if (smallOrder.has(r)) return "R is a small-order point";
  return undefined;
}

/** For tests: does this encoding decode to a point P with [n]P = identity? */
export function hasOrderDividing(bytes: Uint8Array, n: bigint): boolean {
  const decoded = decode(bytes);
  return decoded.point !== undefined && isIdentity(multiply(decoded.point, n));
}
