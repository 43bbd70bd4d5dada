import { createCipheriv, createHash } from "node:crypto";

/**
 * `size` pseudo-random bytes from `seed` (an AES-256-CTR keystream): the
 * same bytes in every process that asks, at memory speed, so the sync bench
 * can put a blob from one process and stream the same bytes raw from another.
 */
export function benchContent(seed: string, size: number): Buffer {
  const key = createHash("sha256").update(seed).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}
