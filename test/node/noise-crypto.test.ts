import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { defaultCrypto } from "@chainsafe/libp2p-noise/crypto";
import { Uint8ArrayList } from "uint8arraylist";
import { noiseCrypto } from "../../node/noise-crypto.ts";

const bytesOf = (data: Uint8Array | Uint8ArrayList) => Buffer.from(data.subarray());

describe("noise crypto (session keys held as KeyObjects)", () => {
  const ad = randomBytes(32);

  for (const size of [0, 100, 1199, 1200, 4096, 65_519]) {
    it(`should seal and open exactly as the stock cipher does (${size} bytes)`, () => {
      const key = randomBytes(32);
      const nonce = randomBytes(12);
      const plaintext = randomBytes(size);
      const ours = bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
      const stock = bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
      assert.deepEqual(ours, stock);
      // Pieces in, the same bytes out.
      const half = Math.floor(size / 2);
      const list = new Uint8ArrayList(plaintext.subarray(0, half), plaintext.subarray(half));
      assert.deepEqual(bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(list, nonce, ad, key)), stock);
      assert.deepEqual(
        bytesOf(noiseCrypto.chaCha20Poly1305Decrypt(stock, nonce, ad, key)),
        plaintext,
      );
      const sealedList = new Uint8ArrayList(stock.subarray(0, 7), stock.subarray(7));
      assert.deepEqual(
        bytesOf(noiseCrypto.chaCha20Poly1305Decrypt(sealedList, nonce, ad, key)),
        plaintext,
      );
    });
  }

  it("should refuse a message whose bytes, tag or associated data were changed", () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const sealed = bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(randomBytes(5000), nonce, ad, key));
    for (const at of [0, 2500, sealed.length - 1]) {
      const forged = Buffer.from(sealed);
      forged[at]! ^= 1;
      assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(forged, nonce, ad, key));
    }
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, randomBytes(32), key));
  });

  it("should follow a key array written over in place, never a stale cached key", () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const plaintext = randomBytes(4096);
    const before = bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
    randomBytes(32).copy(key);
    const after = bytesOf(noiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key));
    assert.notDeepEqual(after, before);
    assert.deepEqual(
      after,
      bytesOf(defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key)),
    );
  });
});
