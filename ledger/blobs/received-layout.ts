/**
 * How a hashing thread is told where received chunks lie (`HashPool.receivedPack`
 * → `hash-worker.ts`): `LAYOUT_FIELDS` numbers per chunk in a `Uint32Array` —
 * which buffer, the offset in it, the length, and 1 to write it (0 when the
 * store already holds it; it is still checked) — and the ids as 32 bytes
 * each. Numbers and bytes, not an object per chunk: thousands of objects
 * cost the main thread more to send than the chunks cost to hash. A module
 * of its own so the hashing thread imports nothing else.
 */
export const LAYOUT_FIELDS = 4;
