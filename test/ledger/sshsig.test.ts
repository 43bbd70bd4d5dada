import assert from "node:assert/strict";
import { sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { L } from "../../ledger/ed25519.ts";
import { VerificationError } from "../../ledger/errors.ts";
import { BadSignatureError, SignatureFormatError } from "../../ledger/key-errors.ts";
import {
  armor,
  bytesOf,
  concatBytes,
  encodeBase64,
  sshString,
  u32,
} from "../../ledger/ssh-wire.ts";
import {
  generateKey,
  parsePrivateKey,
  parsePublicKey,
  serializePrivateKey,
} from "../../ledger/sshkey.ts";
import {
  parseSshsig,
  signedData,
  signSshsig,
  verifyParsed,
  verifySshsig,
} from "../../ledger/sshsig.ts";
import { sshKeygen, sshKeygenKey, tempDir } from "../helpers/ssh.ts";
import { needs } from "../helpers/system.ts";

const TESTDATA = "/work/shared/vectors/sshsig/openssh-testdata";
const vector = {
  armored: readFileSync(`${TESTDATA}/ed25519.sig`, "utf8"),
  message: readFileSync(`${TESTDATA}/signed-data`),
  namespace: readFileSync(`${TESTDATA}/namespace`, "utf8").trim(),
  publicKey: parsePublicKey(readFileSync(`${TESTDATA}/ed25519.pub`, "utf8")),
};
const text = (s: string) => new TextEncoder().encode(s);

function assertSignatureFormat(fn: () => unknown, reason: RegExp, source = "signature") {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SignatureFormatError, `expected SignatureFormatError, got ${error}`);
    assert.ok(error instanceof VerificationError);
    assert.equal(error.code, "signature-format");
    assert.equal(error.data.source, source);
    assert.ok(error.message.startsWith(`${source}: malformed SSH signature: `), error.message);
    assert.match(error.message, reason);
    return true;
  });
}

function assertBadSignature(fn: () => unknown, reason: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof BadSignatureError, `expected BadSignatureError, got ${error}`);
    assert.ok(error instanceof VerificationError);
    assert.equal(error.code, "bad-signature");
    assert.match(error.message, reason);
    return true;
  });
}

describe("the OpenSSH test signature", () => {
  test("verifies with gdo's verifier, in its namespace, and names its signer", () => {
    assert.equal(vector.namespace, "unittest");
    const signer = verifySshsig(vector);
    assert.ok(signer.equals(vector.publicKey));
    assert.equal(signer.fingerprint, vector.publicKey.fingerprint);
  });

  test("parses into its fields, with ssh-keygen's canonical armor", () => {
    const parsed = parseSshsig(vector.armored);
    assert.equal(parsed.namespace, "unittest");
    assert.equal(parsed.hashAlgorithm, "sha512");
    assert.equal(parsed.signature.length, 64);
    assert.equal(parsed.reserved.length, 0);
    assert.equal(parsed.canonicalArmor, true);
    assert.equal(verifyParsed(parsed, vector.message, "unittest"), true);
  });

  test("a flipped bit in the message fails with bad-signature", () => {
    for (const index of [0, 17, vector.message.length - 1]) {
      const message = Buffer.from(vector.message);
      message[index]! ^= 0x01;
      assertBadSignature(
        () => verifySshsig({ ...vector, message }),
        /does not verify for key SHA256:/,
      );
    }
  });

  test("a flipped byte anywhere in the signature blob fails, as bad-signature or signature-format", () => {
    const blob = Buffer.from(vector.armored.split("\n").slice(1, -2).join(""), "base64");
    for (let index = 0; index < blob.length; index++) {
      const changed = Buffer.from(blob);
      changed[index]! ^= 0x40;
      assert.throws(
        () => verifySshsig({ ...vector, armored: armor("SSH SIGNATURE", changed) }),
        (error: unknown) =>
          error instanceof VerificationError &&
          (error.code === "bad-signature" || error.code === "signature-format"),
        `byte ${index}`,
      );
    }
  });

  test("the wrong namespace fails with bad-signature naming both namespaces", () => {
    assertBadSignature(
      () => verifySshsig({ ...vector, namespace: "git" }),
      /namespace is "unittest", expected "git"/,
    );
    assert.equal(verifyParsed(parseSshsig(vector.armored), vector.message, "git"), false);
  });

  test("any armor wrap width is accepted, but reported as not canonical", () => {
    const body = vector.armored.split("\n").slice(1, -2).join("");
    for (const width of [76, 64, 4, body.length]) {
      const lines = body.match(new RegExp(`.{1,${width}}`, "g"))!;
      const rewrapped = [
        "-----BEGIN SSH SIGNATURE-----",
        ...lines,
        "-----END SSH SIGNATURE-----",
      ].join("\n");
      assert.ok(verifySshsig({ ...vector, armored: rewrapped }).equals(vector.publicKey));
      assert.equal(parseSshsig(rewrapped).canonicalArmor, false);
      assert.equal(parseSshsig(`${rewrapped}\r\n`).canonicalArmor, false);
    }
    assert.equal(parseSshsig(vector.armored.replace(/\n$/, "")).canonicalArmor, false);
  });
});

describe("signing", () => {
  const key = generateKey("signer@test");
  const message = text("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nhello\n");

  test("a signature round-trips through verifySshsig and verifyParsed", () => {
    const armored = signSshsig({ message, key, namespace: "git" });
    assert.ok(verifySshsig({ armored, message, namespace: "git" }).equals(key.publicKey));
    const parsed = parseSshsig(armored);
    assert.equal(parsed.canonicalArmor, true);
    assert.equal(parsed.hashAlgorithm, "sha512");
    assert.equal(verifyParsed(parsed, message, "git"), true);
    assert.equal(verifyParsed(parsed, text("other"), "git"), false);
  });

  test("the armor is ssh-keygen's: 70 columns, header, footer, final newline, known prefix", () => {
    const armored = signSshsig({ message, key, namespace: "git" });
    const lines = armored.split("\n");
    assert.equal(lines[0], "-----BEGIN SSH SIGNATURE-----");
    assert.equal(lines.at(-2), "-----END SSH SIGNATURE-----");
    assert.equal(lines.at(-1), "");
    assert.deepEqual(
      lines.slice(1, -2).map((l) => l.length),
      [70, 70, 70, 22],
    );
    assert.ok(lines[1]!.startsWith("U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg"));
  });

  test("sha256 signatures and the empty message work", () => {
    for (const m of [message, new Uint8Array(0)]) {
      const armored = signSshsig({ message: m, key, namespace: "file", hashAlgorithm: "sha256" });
      assert.equal(parseSshsig(armored).hashAlgorithm, "sha256");
      assert.ok(verifySshsig({ armored, message: m, namespace: "file" }).equals(key.publicKey));
    }
  });

  test("a signature by another key verifies as that key, not as ours", () => {
    const other = generateKey("other");
    const armored = signSshsig({ message, key: other, namespace: "git" });
    const signer = verifySshsig({ armored, message, namespace: "git" });
    assert.ok(signer.equals(other.publicKey));
    assert.ok(!signer.equals(key.publicKey));
  });

  test("an empty namespace cannot be used to sign", () => {
    assert.throws(() => signSshsig({ message, key, namespace: "" }), TypeError);
  });

  test("the signed data is laid out as FORMAT.md §2 says", () => {
    const sha512abc =
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    const expected =
      Buffer.from("SSHSIG").toString("hex") +
      ["00000003", Buffer.from("git").toString("hex")].join("") +
      "00000000" +
      ["00000006", Buffer.from("sha512").toString("hex")].join("") +
      ["00000040", sha512abc].join("");
    assert.equal(Buffer.from(signedData(text("abc"), "git", "sha512")).toString("hex"), expected);
  });
});

describe("interoperability with ssh-keygen -Y", { skip: needs("ssh-keygen") }, () => {
  const message = Buffer.from(
    "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\n\nblock\n",
  );

  test("ssh-keygen -Y verify accepts gdo's signature made with an ssh-keygen key", () => {
    const dir = tempDir();
    const made = sshKeygenKey(dir, "alice", { comment: "alice@example.org" });
    const key = parsePrivateKey(made.text, made.path);
    for (const hashAlgorithm of ["sha512", "sha256"] as const) {
      const sigPath = join(dir, `msg.${hashAlgorithm}.sig`);
      writeFileSync(sigPath, signSshsig({ message, key, namespace: "git", hashAlgorithm }));
      writeFileSync(
        join(dir, "allowed_signers"),
        `alice@example.org namespaces="git" ${key.publicKey.keyText}\n`,
      );
      const run = sshKeygen(
        [
          "-Y",
          "verify",
          "-n",
          "git",
          "-f",
          join(dir, "allowed_signers"),
          "-I",
          "alice@example.org",
          "-s",
          sigPath,
        ],
        { input: message },
      );
      assert.equal(run.status, 0, run.stderr + run.stdout);
      assert.match(
        run.stdout,
        /Good "git" signature for alice@example.org with ED25519 key SHA256:/,
      );
      assert.ok(run.stdout.includes(key.publicKey.fingerprint));
    }
  });

  test("ssh-keygen -Y verify rejects gdo's signature over another message or namespace", () => {
    const dir = tempDir();
    const key = generateKey("k");
    writeFileSync(join(dir, "sig"), signSshsig({ message, key, namespace: "git" }));
    writeFileSync(join(dir, "allowed"), `k ${key.publicKey.keyText}\n`);
    const verifyArgs = (ns: string) => [
      "-Y",
      "verify",
      "-n",
      ns,
      "-f",
      join(dir, "allowed"),
      "-I",
      "k",
      "-s",
      join(dir, "sig"),
    ];
    assert.notEqual(sshKeygen(verifyArgs("git"), { input: "other" }).status, 0);
    assert.notEqual(sshKeygen(verifyArgs("file"), { input: message }).status, 0);
    assert.equal(sshKeygen(verifyArgs("git"), { input: message }).status, 0);
  });

  test("gdo's signature is byte-identical to ssh-keygen -Y sign's for the same key and message", () => {
    const dir = tempDir();
    const made = sshKeygenKey(dir, "bob");
    const msgPath = join(dir, "msg");
    writeFileSync(msgPath, message);
    const run = sshKeygen(["-Y", "sign", "-n", "git", "-f", made.path, msgPath]);
    assert.equal(run.status, 0, run.stderr);
    const theirs = readFileSync(`${msgPath}.sig`, "utf8");
    const ours = signSshsig({ message, key: parsePrivateKey(made.text), namespace: "git" });
    assert.equal(ours, theirs);
  });

  test("ssh-keygen -Y sign with a gdo-generated key file makes a signature gdo verifies", () => {
    const dir = tempDir();
    const key = generateKey("gdo-made");
    const keyPath = join(dir, "key");
    writeFileSync(keyPath, serializePrivateKey(key), { mode: 0o600 });
    writeFileSync(`${keyPath}.pub`, `${key.publicKey}\n`);
    const run = sshKeygen(["-Y", "sign", "-n", "git", "-f", keyPath], { input: message });
    assert.equal(run.status, 0, run.stderr);
    const signer = verifySshsig({
      armored: run.stdout,
      message,
      namespace: "git",
      source: "ssh-keygen output",
    });
    assert.ok(signer.equals(key.publicKey));
    assert.equal(parseSshsig(run.stdout).canonicalArmor, true);
  });
});

interface SigFields {
  magic: Uint8Array;
  version: number;
  publicKey: Uint8Array;
  namespace: Uint8Array;
  reserved: Uint8Array;
  hash: string;
  signature: Uint8Array;
  trailing: Uint8Array;
}

/** An SSHSIG blob from fields, starting from the real OpenSSH vector, to break one thing at a time. */
function buildSig(overrides: Partial<SigFields> = {}): string {
  const parsed = parseSshsig(vector.armored);
  const f: SigFields = {
    magic: bytesOf("SSHSIG"),
    version: 1,
    publicKey: parsed.publicKey.blob,
    namespace: text(parsed.namespace),
    reserved: new Uint8Array(0),
    hash: parsed.hashAlgorithm,
    signature: concatBytes([sshString("ssh-ed25519"), sshString(parsed.signature)]),
    trailing: new Uint8Array(0),
    ...overrides,
  };
  return armor(
    "SSH SIGNATURE",
    concatBytes([
      f.magic,
      u32(f.version),
      sshString(f.publicKey),
      sshString(f.namespace),
      sshString(f.reserved),
      sshString(f.hash),
      sshString(f.signature),
      f.trailing,
    ]),
  );
}

describe("malformed signatures", () => {
  const raw = vector.publicKey.raw;
  const sig64 = parseSshsig(vector.armored).signature;
  const keyBlob = (type: string, key: Uint8Array, extra = new Uint8Array(0)) =>
    concatBytes([sshString(type), sshString(key), extra]);
  const sigBlob = (type: string, sig: Uint8Array, extra = new Uint8Array(0)) =>
    concatBytes([sshString(type), sshString(sig), extra]);

  test("the builder reproduces the vector exactly (sanity check for the cases below)", () => {
    assert.equal(buildSig(), vector.armored);
  });

  const cases: [string, Partial<SigFields>, RegExp][] = [
    ["bad magic", { magic: bytesOf("SSHSIH") }, /bad magic "SSHSIH"/],
    ["version 2", { version: 2 }, /version 2, only version 1/],
    ["version 0", { version: 0 }, /version 0, only version 1/],
    [
      "an rsa public key",
      { publicKey: keyBlob("ssh-rsa", raw) },
      /signer public key: key type is "ssh-rsa"/,
    ],
    [
      "a 31-byte public key",
      { publicKey: keyBlob("ssh-ed25519", raw.subarray(0, 31)) },
      /31 bytes, expected 32/,
    ],
    [
      "a 33-byte public key",
      { publicKey: keyBlob("ssh-ed25519", concatBytes([raw, Uint8Array.of(0)])) },
      /33 bytes, expected 32/,
    ],
    [
      "trailing bytes in the public key",
      { publicKey: keyBlob("ssh-ed25519", raw, Uint8Array.of(0)) },
      /1 unexpected trailing bytes after the public key/,
    ],
    [
      "a small-order public key",
      { publicKey: keyBlob("ssh-ed25519", new Uint8Array(32)) },
      /small-order/,
    ],
    ["an empty namespace", { namespace: new Uint8Array(0) }, /empty namespace/],
    [
      "a namespace that is not UTF-8",
      { namespace: Uint8Array.of(0xff, 0xfe) },
      /namespace is not valid UTF-8/,
    ],
    ["a non-empty reserved field", { reserved: Uint8Array.of(1) }, /reserved field is not empty/],
    ["hash md5", { hash: "md5" }, /hash algorithm "md5"/],
    ["hash SHA512 in capitals", { hash: "SHA512" }, /hash algorithm "SHA512"/],
    [
      "an rsa signature type",
      { signature: sigBlob("rsa-sha2-512", sig64) },
      /signature type is "rsa-sha2-512"/,
    ],
    [
      "a 63-byte signature",
      { signature: sigBlob("ssh-ed25519", sig64.subarray(0, 63)) },
      /63 bytes, expected 64/,
    ],
    [
      "a 65-byte signature",
      { signature: sigBlob("ssh-ed25519", concatBytes([sig64, Uint8Array.of(0)])) },
      /65 bytes, expected 64/,
    ],
    [
      "trailing bytes in the signature",
      { signature: sigBlob("ssh-ed25519", sig64, Uint8Array.of(0, 0)) },
      /2 unexpected trailing bytes after the ed25519 signature/,
    ],
    [
      "trailing bytes after the blob",
      { trailing: Uint8Array.of(0) },
      /1 unexpected trailing bytes after the signature/,
    ],
    [
      "a truncated blob",
      { trailing: new Uint8Array(0), signature: new Uint8Array(0) },
      /truncated|claims/,
    ],
  ];
  for (const [name, fields, reason] of cases) {
    test(`a signature with ${name} is rejected as signature-format`, () => {
      assertSignatureFormat(() => parseSshsig(buildSig(fields)), reason);
      assertSignatureFormat(
        () =>
          verifySshsig({
            armored: buildSig(fields),
            message: vector.message,
            namespace: "unittest",
            source: "commit abc",
          }),
        reason,
        "commit abc",
      );
    });
  }

  test("S + L (same signature, non-canonical scalar) is rejected as signature-format, not left to OpenSSL", () => {
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig64[32 + i]!);
    let big = s + L;
    const bytes = Uint8Array.from(sig64);
    for (let i = 0; i < 32; i++) {
      bytes[32 + i] = Number(big & 0xffn);
      big >>= 8n;
    }
    assert.equal(big, 0n, "S + L still fits in 32 bytes for this vector");
    const armored = buildSig({ signature: sigBlob("ssh-ed25519", bytes) });
    assertSignatureFormat(() => parseSshsig(armored), /non-canonical signature scalar \(S ≥ L\)/);
  });

  test("a small-order R is rejected as signature-format", () => {
    const bytes = Uint8Array.from(sig64);
    bytes.set(new Uint8Array(32), 0);
    bytes[0] = 1; // R = identity
    assertSignatureFormat(
      () => parseSshsig(buildSig({ signature: sigBlob("ssh-ed25519", bytes) })),
      /R is a small-order point/,
    );
  });

  test("the blob truncated at every length is rejected as signature-format", () => {
    const blob = Buffer.from(vector.armored.split("\n").slice(1, -2).join(""), "base64");
    // FORMAT.md: 173 bytes for namespace "git"; this vector's "unittest" is 5 bytes longer.
    assert.equal(blob.length, 173 + 5);
    for (let length = 0; length < blob.length; length++) {
      assert.throws(() => parseSshsig(armor("SSH SIGNATURE", blob.subarray(0, length))), {
        code: "signature-format",
      });
    }
  });

  const armorCases: [string, (armored: string) => string, RegExp][] = [
    ["no header", (a) => a.replace("-----BEGIN SSH SIGNATURE-----\n", ""), /does not start with/],
    ["leading text", (a) => `x\n${a}`, /does not start with/],
    [
      "another header",
      (a) => a.replaceAll("SSH SIGNATURE", "PGP SIGNATURE"),
      /expected "-----BEGIN SSH SIGNATURE-----"/,
    ],
    [
      "no footer",
      (a) => a.replace("-----END SSH SIGNATURE-----", ""),
      /no "-----END SSH SIGNATURE-----" line/,
    ],
    ["text after the footer", (a) => `${a}more`, /unexpected text after/],
    [
      "the footer glued to the body",
      (a) => a.replace("\n-----END", "-----END"),
      /does not start a line/,
    ],
    ["a base64 error", (a) => a.replace("U1NI", "U1N!"), /not valid base64/],
    [
      "an empty body",
      () => "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n",
      /empty armor body/,
    ],
  ];
  for (const [name, change, reason] of armorCases) {
    test(`armor with ${name} is rejected as signature-format`, () => {
      assertSignatureFormat(() => parseSshsig(change(vector.armored)), reason);
    });
  }

  test("the reason travels in data, and the CLI exit code class is 'invalid' (a VerificationError)", () => {
    try {
      parseSshsig(buildSig({ version: 9 }), "block 1234");
      assert.fail("should throw");
    } catch (error) {
      assert.ok(error instanceof VerificationError);
      assert.deepEqual((error as SignatureFormatError).data, {
        source: "block 1234",
        reason: "version 9, only version 1 is supported",
      });
    }
  });
});

describe("verification at ledger scale", () => {
  test("verifyParsed checks 2,000 parsed signatures in well under a second", () => {
    const key = generateKey("bulk");
    const items = Array.from({ length: 2000 }, (_, i) => {
      const message = text(`block ${i}`);
      return { message, parsed: parseSshsig(signSshsig({ message, key, namespace: "git" })) };
    });
    const start = performance.now();
    for (const { message, parsed } of items)
      assert.equal(verifyParsed(parsed, message, "git"), true);
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 1000, `${elapsed} ms`);
  });

  test("signing matches raw crypto.sign over the signed data", () => {
    const key = generateKey("raw");
    const message = text("m");
    const parsed = parseSshsig(signSshsig({ message, key, namespace: "git" }));
    const expected = sign(null, signedData(message, "git", "sha512"), key.keyObject);
    assert.equal(encodeBase64(parsed.signature), encodeBase64(expected));
  });
});
