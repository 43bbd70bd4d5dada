import assert from "node:assert/strict";
import { sign, verify } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { inspect } from "node:util";
import { GdoError } from "../../ledger/errors.ts";
import { KeyEncryptedError, KeyFormatError } from "../../ledger/key-errors.ts";
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
  privateKeyFromSeed,
  publicKeyFromBlob,
  publicKeyFromRaw,
  SshPrivateKey,
  SshPublicKey,
  serializePrivateKey,
} from "../../ledger/sshkey.ts";
import { sshKeygen, sshKeygenKey, tempDir } from "../helpers/ssh.ts";
import { needs } from "../helpers/system.ts";

const TESTDATA_PUB =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlizSIN3DQV78VPNjVvvwjgf+P5HqbPYCYu3BOMdjAE ED25519 test key";
const RAW_HEX = "8962cd220ddc3415efc54f36356fbf08e07fe3f91ea6cf60262edc138c763004";
/** ssh-keygen -l -f ed25519.pub (openssh regress testdata). */
const TESTDATA_FINGERPRINT = "SHA256:ZxTZQ/K7JZpz0mHqWqdmYCUcq3MAtnu9TYA66TCBkxM";

const lineWithBlob = (blob: Uint8Array, type = "ssh-ed25519") => `${type} ${encodeBase64(blob)} c`;
const keyBlob = (raw: Uint8Array, type = "ssh-ed25519") =>
  concatBytes([sshString(type), sshString(raw)]);
const RAW = Buffer.from(RAW_HEX, "hex");

function assertKeyFormat(fn: () => unknown, reason: RegExp, source = "public key") {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof KeyFormatError, `expected KeyFormatError, got ${error}`);
    assert.equal(error.code, "key-format");
    assert.equal(error.data.source, source);
    assert.match(error.message, reason);
    assert.ok(error.message.startsWith(`${source}: `), error.message);
    return true;
  });
}

describe("public key lines", () => {
  test("a .pub line parses into type, raw key, comment, blob, key object and fingerprint", () => {
    const key = parsePublicKey(TESTDATA_PUB, "ed25519.pub");
    assert.ok(key instanceof SshPublicKey);
    assert.equal(key.type, "ssh-ed25519");
    assert.equal(Buffer.from(key.raw).toString("hex"), RAW_HEX);
    assert.equal(key.comment, "ED25519 test key");
    assert.equal(key.blob.length, 51);
    assert.equal(key.keyObject.asymmetricKeyType, "ed25519");
    assert.equal(key.fingerprint, TESTDATA_FINGERPRINT);
    assert.equal(key.toString(), TESTDATA_PUB);
    assert.equal(key.keyText, TESTDATA_PUB.split(" ").slice(0, 2).join(" "));
    assert.equal(JSON.stringify({ key }), JSON.stringify({ key: TESTDATA_PUB }));
  });

  test("a line without a comment (allowed_signers / charter style) parses, and prints without one", () => {
    const bare = TESTDATA_PUB.split(" ").slice(0, 2).join(" ");
    const key = parsePublicKey(bare);
    assert.equal(key.comment, "");
    assert.equal(key.toString(), bare);
    assert.ok(key.equals(parsePublicKey(TESTDATA_PUB)));
  });

  test("surrounding whitespace and a trailing newline are ignored, inner comment spaces kept", () => {
    const key = parsePublicKey(`  ${TESTDATA_PUB.replace("ED25519 test key", "a  b\tc")}  \n`);
    assert.equal(key.comment, "a  b\tc");
  });

  test("the fingerprint is the one ssh-keygen -l prints", { skip: needs("ssh-keygen") }, () => {
    const dir = tempDir();
    const { pubPath, pubLine } = sshKeygenKey(dir, "fp");
    const printed = sshKeygen(["-l", "-f", pubPath]).stdout.split(" ")[1];
    assert.equal(parsePublicKey(pubLine).fingerprint, printed);
  });

  test("publicKeyFromRaw and publicKeyFromBlob build the same key; key objects are shared", () => {
    const a = publicKeyFromRaw(RAW, "x");
    const b = publicKeyFromBlob(keyBlob(RAW));
    assert.ok(a.equals(b));
    assert.equal(a.keyObject, b.keyObject);
    assert.equal(a.toString(), `${parsePublicKey(TESTDATA_PUB).keyText} x`);
  });

  test("publicKeyFromRaw copies its input, so later changes to the caller's bytes do not leak in", () => {
    const raw = Uint8Array.from(RAW);
    const key = publicKeyFromRaw(raw);
    raw[0] = 0;
    assert.equal(Buffer.from(key.raw).toString("hex"), RAW_HEX);
  });

  test("another key type is rejected, naming the source and the type", () => {
    assertKeyFormat(
      () => parsePublicKey("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== c", "members/bob.pub"),
      /key type is "ssh-rsa", only ssh-ed25519 is supported/,
      "members/bob.pub",
    );
  });

  test("a blob whose inner type differs from the line's type is rejected", () => {
    assertKeyFormat(
      () => parsePublicKey(lineWithBlob(keyBlob(RAW, "ssh-rsa"))),
      /key type is "ssh-rsa"/,
    );
  });

  test("a key that is not exactly 32 bytes is rejected", () => {
    assertKeyFormat(
      () => parsePublicKey(lineWithBlob(keyBlob(RAW.subarray(0, 31)))),
      /31 bytes, expected 32/,
    );
    assertKeyFormat(
      () => parsePublicKey(lineWithBlob(keyBlob(Buffer.concat([RAW, Buffer.of(0)])))),
      /33 bytes, expected 32/,
    );
  });

  test("trailing bytes in the blob are rejected", () => {
    const blob = concatBytes([keyBlob(RAW), Uint8Array.of(0, 0, 0, 0)]);
    assertKeyFormat(() => parsePublicKey(lineWithBlob(blob)), /4 unexpected trailing bytes/);
  });

  test("a truncated blob or a length that overruns it is rejected", () => {
    assertKeyFormat(
      () => parsePublicKey(lineWithBlob(keyBlob(RAW).subarray(0, 40))),
      /claims 32 bytes/,
    );
    assertKeyFormat(() => parsePublicKey(lineWithBlob(Uint8Array.of(0, 0))), /truncated/);
  });

  test("bad or non-canonical base64 is rejected", () => {
    const good = encodeBase64(keyBlob(RAW));
    assertKeyFormat(
      () => parsePublicKey(`ssh-ed25519 ${good.slice(0, -1)}* c`),
      /not valid base64/,
    );
    assertKeyFormat(() => parsePublicKey(`ssh-ed25519 ${good.slice(0, -1)} c`), /not valid base64/);
    // 51 bytes → 68 chars ending in one "=": the last data char carries 2 unused bits.
    const last = good.at(-2)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const tweaked = alphabet[alphabet.indexOf(last) + 1]!;
    assertKeyFormat(
      () => parsePublicKey(`ssh-ed25519 ${good.slice(0, -2)}${tweaked}= c`),
      /not canonical base64/,
    );
  });

  test("empty input, a lone type, several lines, option prefixes and private keys are rejected", () => {
    assertKeyFormat(() => parsePublicKey("   "), /empty/);
    assertKeyFormat(() => parsePublicKey("ssh-ed25519"), /expected "ssh-ed25519 <base64>/);
    assertKeyFormat(() => parsePublicKey(`${TESTDATA_PUB}\n${TESTDATA_PUB}`), /more than one line/);
    assertKeyFormat(() => parsePublicKey(`alice@x ${TESTDATA_PUB}`), /key type is "alice@x"/);
    assertKeyFormat(
      () => parsePublicKey("-----BEGIN OPENSSH PRIVATE KEY-----"),
      /not a public key line/,
    );
  });

  test("a weak (small-order) key is rejected even though it is 32 bytes", () => {
    assertKeyFormat(
      () => parsePublicKey(lineWithBlob(keyBlob(new Uint8Array(32)))),
      /small-order point \(weak key\)/,
    );
  });

  test("errors are GdoErrors with structured data", () => {
    try {
      parsePublicKey("nope", "charter.yaml: key");
      assert.fail("should throw");
    } catch (error) {
      assert.ok(error instanceof GdoError);
      assert.deepEqual(Object.keys(error.data).sort(), ["reason", "source"]);
    }
  });
});

interface PrivateFields {
  magic: string;
  cipher: string;
  kdf: string;
  kdfOptions: Uint8Array;
  count: number;
  outerPublic: Uint8Array;
  checkint1: number;
  checkint2: number;
  type: string;
  innerPublic: Uint8Array;
  secret: Uint8Array;
  comment: string;
  padding: Uint8Array | undefined;
  trailing: Uint8Array;
}

/** An openssh-key-v1 file from fields, to make every kind of broken file. */
function buildPrivateKey(seed: Uint8Array, overrides: Partial<PrivateFields> = {}): string {
  const key = privateKeyFromSeed(seed, "built");
  const raw = key.publicKey.raw;
  const f: PrivateFields = {
    magic: "openssh-key-v1\0",
    cipher: "none",
    kdf: "none",
    kdfOptions: new Uint8Array(0),
    count: 1,
    outerPublic: key.publicKey.blob,
    checkint1: 0x01020304,
    checkint2: 0x01020304,
    type: "ssh-ed25519",
    innerPublic: raw,
    secret: concatBytes([seed, raw]),
    comment: "built",
    padding: undefined,
    trailing: new Uint8Array(0),
    ...overrides,
  };
  const body = concatBytes([
    u32(f.checkint1),
    u32(f.checkint2),
    sshString(f.type),
    sshString(f.innerPublic),
    sshString(f.secret),
    sshString(f.comment),
  ]);
  const padding =
    f.padding ?? Uint8Array.from({ length: (8 - (body.length % 8)) % 8 }, (_, i) => i + 1);
  return armor(
    "OPENSSH PRIVATE KEY",
    concatBytes([
      bytesOf(f.magic),
      sshString(f.cipher),
      sshString(f.kdf),
      sshString(f.kdfOptions),
      u32(f.count),
      sshString(f.outerPublic),
      sshString(concatBytes([body, padding])),
      f.trailing,
    ]),
  );
}

const SEED = Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex");

describe("private keys", () => {
  test("the test builder's plain output parses (sanity check for the cases below)", () => {
    const key = parsePrivateKey(buildPrivateKey(SEED), "built");
    assert.ok(key instanceof SshPrivateKey);
    assert.equal(key.comment, "built");
    assert.equal(key.publicKey.comment, "built");
    assert.deepEqual(Buffer.from(key.seed), SEED);
  });

  test("a key made by ssh-keygen -t ed25519 -N '' loads and its public key matches the .pub", {
    skip: needs("ssh-keygen"),
  }, () => {
    const dir = tempDir();
    const made = sshKeygenKey(dir, "alice", { comment: "alice@example.org" });
    const key = parsePrivateKey(made.text, made.path);
    assert.equal(key.publicKey.toString(), made.pubLine);
    assert.equal(key.comment, "alice@example.org");
    const signature = sign(null, Buffer.from("hi"), key.keyObject);
    assert.ok(verify(null, Buffer.from("hi"), parsePublicKey(made.pubLine).keyObject, signature));
  });

  test("re-serializing an ssh-keygen key with its checkint reproduces the file byte for byte", {
    skip: needs("ssh-keygen"),
  }, () => {
    const dir = tempDir();
    for (const comment of ["a", "ab", "abc", "abcd", "abcdefgh", "a longer comment", ""]) {
      const made = sshKeygenKey(dir, `k${comment.length}`, { comment });
      const key = parsePrivateKey(made.text);
      const body = Buffer.from(made.text.split("\n").slice(1, -2).join(""), "base64");
      const checkint = body.readUInt32BE(0x62);
      assert.equal(
        serializePrivateKey(key, { checkint }),
        made.text,
        `comment ${JSON.stringify(comment)}`,
      );
    }
  });

  test("a gdo-generated key file is accepted by ssh-keygen -y, which prints the same public key", {
    skip: needs("ssh-keygen"),
  }, () => {
    const dir = tempDir();
    const key = generateKey("gdo@test");
    const path = join(dir, "key");
    writeFileSync(path, serializePrivateKey(key), { mode: 0o600 });
    const run = sshKeygen(["-y", "-f", path]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), key.publicKey.toString());
  });

  test("serialization has ssh-keygen's layout: 70-column base64, padding 1,2,3…, matching checkints", () => {
    const text = serializePrivateKey(generateKey("abc"));
    const lines = text.split("\n");
    assert.equal(lines[0], "-----BEGIN OPENSSH PRIVATE KEY-----");
    assert.equal(lines.at(-2), "-----END OPENSSH PRIVATE KEY-----");
    assert.equal(lines.at(-1), "");
    for (const line of lines.slice(1, -3)) assert.equal(line.length, 70);
    const body = Buffer.from(lines.slice(1, -2).join(""), "base64");
    assert.equal(body.readUInt32BE(0x62), body.readUInt32BE(0x66));
    // 8 checkint + 15 type + 36 pub + 68 secret + 4+3 comment = 134 → 2 bytes of padding
    assert.deepEqual([...body.subarray(-2)], [1, 2]);
    assert.equal(parsePrivateKey(text).publicKey.comment, "abc");
  });

  test("two serializations differ only by their random checkint", () => {
    const key = generateKey("x");
    assert.notEqual(serializePrivateKey(key), serializePrivateKey(key));
    assert.equal(
      serializePrivateKey(key, { checkint: 7 }),
      serializePrivateKey(key, { checkint: 7 }),
    );
  });

  test("generated keys are distinct, carry their comment, and never show their seed", () => {
    const a = generateKey("a@x");
    const b = generateKey("b@x");
    assert.ok(!a.publicKey.equals(b.publicKey));
    assert.equal(a.comment, "a@x");
    assert.equal(a.seed.length, 32);
    const seedHex = Buffer.from(a.seed).toString("hex");
    const seedB64 = Buffer.from(a.seed).toString("base64");
    for (const shown of [inspect(a), JSON.stringify(a), String(a.publicKey)]) {
      assert.ok(!shown.includes(seedHex) && !shown.includes(seedB64), shown);
    }
  });

  test("a passphrase-protected ssh-keygen key gives KeyEncryptedError telling the user what to do", {
    skip: needs("ssh-keygen"),
  }, () => {
    const dir = tempDir();
    const made = sshKeygenKey(dir, "locked", { passphrase: "correct horse" });
    assert.throws(
      () => parsePrivateKey(made.text, made.path),
      (error: unknown) => {
        assert.ok(error instanceof KeyEncryptedError);
        assert.equal(error.code, "key-encrypted");
        assert.equal(error.data.cipher, "aes256-ctr");
        assert.equal(error.data.kdf, "bcrypt");
        assert.ok(error.message.startsWith(`${made.path}: `));
        assert.match(error.message, /ssh-keygen -p -N "" -f /);
        assert.match(error.message, /gdo key new/);
        return true;
      },
    );
  });

  test("an ecdsa or rsa key from ssh-keygen is rejected as the wrong type", {
    skip: needs("ssh-keygen"),
  }, () => {
    const dir = tempDir();
    for (const type of ["ecdsa", "rsa"]) {
      const made = sshKeygenKey(dir, type, { type });
      assertKeyFormat(
        () => parsePrivateKey(made.text, made.path),
        /key type is "(ecdsa|ssh-rsa)/,
        made.path,
      );
    }
  });

  const broken: [string, Partial<PrivateFields> | ((text: string) => string), RegExp][] = [
    ["checkints that differ", { checkint2: 5 }, /checkints do not match/],
    ["a bad magic", { magic: "openssh-key-v2\0" }, /bad magic/],
    ["two keys", { count: 2 }, /holds 2 keys/],
    ["kdf options on an unencrypted key", { kdfOptions: Uint8Array.of(1) }, /kdf options present/],
    ["an inner key type that is not ed25519", { type: "ssh-rsa" }, /private key type is "ssh-rsa"/],
    ["a 31-byte inner public key", { innerPublic: new Uint8Array(31) }, /31 bytes, expected 32/],
    ["a 32-byte secret", { secret: new Uint8Array(32) }, /32 bytes, expected 64/],
    // comment "b" makes a 132-byte body: 4 bytes of padding due
    ["bad padding", { comment: "b", padding: Uint8Array.of(1, 2, 4, 4) }, /bad padding/],
    [
      "8 bytes of padding",
      { padding: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) },
      /8 bytes of padding/,
    ],
    ["a section not a multiple of 8", { padding: Uint8Array.of(1) }, /not a multiple of 8/],
    ["trailing bytes after the private section", { trailing: Uint8Array.of(0) }, /trailing bytes/],
    ["no END line", (t) => t.replace("-----END OPENSSH PRIVATE KEY-----", ""), /no "-----END/],
    ["text after the END line", (t) => `${t}junk\n`, /unexpected text after/],
    ["a public key file", () => `${TESTDATA_PUB}\n`, /this is a public key/],
    [
      "a PKCS#8 PEM key",
      () => "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      /PKCS#8/,
    ],
    ["garbage", () => "hello", /does not start with/],
  ];
  for (const [name, change, reason] of broken) {
    test(`a private key with ${name} is rejected`, () => {
      const text =
        typeof change === "function"
          ? change(buildPrivateKey(SEED))
          : buildPrivateKey(SEED, change);
      assertKeyFormat(() => parsePrivateKey(text, "bad-key"), reason, "bad-key");
    });
  }

  test("a private key whose public key does not belong to its seed is rejected", () => {
    const other = generateKey("other").publicKey;
    const allOther = { outerPublic: other.blob, innerPublic: other.raw };
    const secret = concatBytes([SEED, other.raw]);
    assertKeyFormat(
      () => parsePrivateKey(buildPrivateKey(SEED, { ...allOther, secret }), "swapped"),
      /does not belong to the private seed/,
      "swapped",
    );
    assertKeyFormat(
      () => parsePrivateKey(buildPrivateKey(SEED, { outerPublic: other.blob }), "swapped"),
      /differs from the file's public key/,
      "swapped",
    );
    assertKeyFormat(
      () => parsePrivateKey(buildPrivateKey(SEED, { secret }), "swapped"),
      /public half differs/,
      "swapped",
    );
  });

  test("an encrypted key built by hand names its cipher and kdf", () => {
    const text = buildPrivateKey(SEED, { cipher: "aes256-gcm@openssh.com", kdf: "bcrypt" });
    assert.throws(() => parsePrivateKey(text, "k"), {
      code: "key-encrypted",
      data: { source: "k", cipher: "aes256-gcm@openssh.com", kdf: "bcrypt" },
    });
  });

  test("CRLF line endings (a key copied through Windows) still parse", () => {
    const text = buildPrivateKey(SEED).replace(/\n/g, "\r\n");
    assert.deepEqual(Buffer.from(parsePrivateKey(text).seed), SEED);
  });
});
