import assert from "node:assert/strict";
import { sign, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  hasOrderDividing,
  L,
  publicKeyProblem,
  SMALL_ORDER_ENCODINGS,
  signatureProblem,
} from "../../ledger/ed25519.ts";
import { KeyFormatError } from "../../ledger/key-errors.ts";
import { privateKeyFromSeed, publicKeyFromRaw } from "../../ledger/sshkey.ts";

const VECTORS = "/work/shared/vectors/ed25519";
const hex = (s: string) => Buffer.from(s, "hex");

interface RfcVector {
  name: string;
  secret_key: string;
  public_key: string;
  message: string;
  signature: string;
}
const rfc8032: RfcVector[] = JSON.parse(readFileSync(`${VECTORS}/rfc8032.json`, "utf8")).vectors;

interface SpeccheckCase {
  message: string;
  pub_key: string;
  signature: string;
}
const speccheck: SpeccheckCase[] = JSON.parse(
  readFileSync(`${VECTORS}/speccheck/cases.json`, "utf8"),
);

describe("RFC 8032 §7.1 vectors", () => {
  assert.equal(rfc8032.length, 5);
  for (const vector of rfc8032) {
    test(`${vector.name}: the seed derives the public key and signs byte-exactly`, () => {
      const key = privateKeyFromSeed(hex(vector.secret_key));
      assert.equal(Buffer.from(key.publicKey.raw).toString("hex"), vector.public_key);
      const signature = sign(null, hex(vector.message), key.keyObject);
      assert.equal(signature.toString("hex"), vector.signature);
    });

    test(`${vector.name}: the signature verifies with the cached public key object and is canonical`, () => {
      const publicKey = publicKeyFromRaw(hex(vector.public_key));
      assert.equal(
        verify(null, hex(vector.message), publicKey.keyObject, hex(vector.signature)),
        true,
      );
      assert.equal(signatureProblem(hex(vector.signature)), undefined);
      const wrong = hex(`${vector.message}00`);
      assert.equal(verify(null, wrong, publicKey.keyObject, hex(vector.signature)), false);
    });
  }

  test("public key objects are cached by raw key", () => {
    const a = publicKeyFromRaw(hex(rfc8032[0]!.public_key), "a");
    const b = publicKeyFromRaw(hex(rfc8032[0]!.public_key), "b");
    assert.equal(a.keyObject, b.keyObject);
    assert.notEqual(a.comment, b.comment);
  });
});

describe("ed25519-speccheck edge cases", () => {
  // What OpenSSL 3.5 (node:crypto of the pinned Node 24.21) alone says, case by
  // case (true = accepts). gdo must not depend on this: every case is rejected
  // by gdo's own key or signature checks. OpenSSL 3.0 (Node 24.9) accepted
  // cases 0, 1, 2, 3 and 11; 3.5 still accepts case 3 (a mixed-order key).
  const opensslAlone = [
    false,
    false,
    false,
    true,
    false,
    false,
    false,
    false,
    false,
    false,
    false,
    false,
  ];
  const gdoRejects: [number, "key" | "signature", RegExp][] = [
    [0, "key", /small-order/],
    [1, "key", /small-order/],
    [2, "key", /mixed-order/],
    [3, "key", /mixed-order/],
    [4, "key", /mixed-order/],
    [5, "key", /mixed-order/],
    [6, "signature", /S ≥ L/],
    [7, "signature", /S ≥ L/],
    [8, "key", /mixed-order/],
    [9, "key", /mixed-order/],
    [10, "key", /non-canonical/],
    [11, "key", /non-canonical/],
  ];

  test("the file holds the 12 documented cases", () => {
    assert.equal(speccheck.length, 12);
  });

  for (const [index, where, reason] of gdoRejects) {
    test(`case ${index} is rejected by the ${where} check (${reason.source})`, () => {
      const c = speccheck[index]!;
      const problem =
        where === "key" ? publicKeyProblem(hex(c.pub_key)) : signatureProblem(hex(c.signature));
      assert.match(problem ?? "accepted", reason);
      if (where === "key") {
        assert.throws(() => publicKeyFromRaw(hex(c.pub_key)), KeyFormatError);
      }
    });
  }

  test("OpenSSL's own answers are as documented, so the extra checks are needed", (t) => {
    speccheck.forEach((c, i) => {
      let accepted: boolean;
      try {
        const spki = Buffer.concat([hex("302a300506032b6570032100"), hex(c.pub_key)]);
        accepted = verify(
          null,
          hex(c.message),
          { key: spki, format: "der", type: "spki" },
          hex(c.signature),
        );
      } catch {
        accepted = false;
      }
      if (accepted !== opensslAlone[i]) t.diagnostic(`case ${i}: OpenSSL now says ${accepted}`);
      assert.equal(accepted, opensslAlone[i], `case ${i}`);
    });
  });

  test("the small-order signature R of cases 0, 2, 8 and 9 is rejected even on its own", () => {
    for (const i of [0, 2, 8, 9]) {
      assert.match(signatureProblem(hex(speccheck[i]!.signature)) ?? "accepted", /small-order/);
    }
  });
});

describe("encoding checks", () => {
  test("every blocklisted R encoding is a point of order dividing 8, or a negative-zero encoding", () => {
    assert.equal(SMALL_ORDER_ENCODINGS.length, 10);
    for (const encoding of SMALL_ORDER_ENCODINGS) {
      const bytes = hex(encoding);
      const negativeZero =
        encoding === `01${"00".repeat(30)}80` || encoding === `ec${"ff".repeat(31)}`;
      assert.equal(hasOrderDividing(bytes, 8n), !negativeZero, encoding);
    }
  });

  test("S = L and S = L + 1 are rejected, S = L − 1 is not", () => {
    const scalar = (n: bigint) => {
      const out = new Uint8Array(32);
      for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
      return out;
    };
    const R = hex(rfc8032[0]!.signature).subarray(0, 32);
    const withS = (n: bigint) => Buffer.concat([R, scalar(n)]);
    assert.match(signatureProblem(withS(L)) ?? "", /S ≥ L/);
    assert.match(signatureProblem(withS(L + 1n)) ?? "", /S ≥ L/);
    assert.match(signatureProblem(withS(2n ** 256n - 1n)) ?? "", /S ≥ L/);
    assert.equal(signatureProblem(withS(L - 1n)), undefined);
    assert.equal(signatureProblem(withS(0n)), undefined);
  });

  test("an R whose y is p or more is rejected as non-canonical", () => {
    const S = hex(rfc8032[0]!.signature).subarray(32);
    const p = Buffer.from(`ed${"ff".repeat(30)}7f`, "hex");
    assert.match(signatureProblem(Buffer.concat([p, S])) ?? "", /non-canonical R/);
    const p2 = Buffer.from(`f0${"ff".repeat(30)}ff`, "hex");
    assert.match(signatureProblem(Buffer.concat([p2, S])) ?? "", /non-canonical R/);
  });

  test("a public key that is not on the curve or not 32 bytes is rejected", () => {
    assert.match(
      publicKeyProblem(hex(`02${"00".repeat(31)}`)) ?? "",
      /not a point|small-order|mixed/,
    );
    assert.match(publicKeyProblem(new Uint8Array(31)) ?? "", /31 bytes/);
    assert.throws(() => publicKeyFromRaw(new Uint8Array(33)), { code: "key-format" });
    assert.match(publicKeyProblem(new Uint8Array(32)) ?? "", /small-order/);
  });

  test("a public key with y ≥ p is rejected as non-canonical", () => {
    // y = p + 1 encodes the identity's y non-canonically.
    assert.match(publicKeyProblem(hex(`ee${"ff".repeat(30)}7f`)) ?? "", /non-canonical/);
  });
});
