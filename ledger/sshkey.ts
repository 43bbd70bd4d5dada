/**
 * OpenSSH ed25519 keys: public key lines (`ssh-ed25519 AAAA… comment`), the
 * `openssh-key-v1` private key format (unencrypted only), key generation.
 *
 * Parsing is strict: one key type (ssh-ed25519), exact lengths, no trailing bytes,
 * canonical base64, and the public key must be a canonical prime-order point
 * (see `ed25519.ts`). Public keys are cached by their 32 raw bytes, so the KeyObject,
 * blob check and point check are paid once per distinct key.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { inspect } from "node:util";
import { publicKeyProblem } from "./ed25519.ts";
import { KeyEncryptedError, KeyFormatError } from "./key-errors.ts";
import {
  armor,
  bytesEqual,
  bytesOf,
  concatBytes,
  dearmor,
  decodeBase64Strict,
  encodeBase64,
  type Fail,
  printable,
  sshString,
  u32,
  WireReader,
} from "./ssh-wire.ts";

export const KEY_TYPE = "ssh-ed25519";

/** DER prefixes turning 32 raw bytes into SubjectPublicKeyInfo / PKCS#8 for node:crypto. */
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

interface KeyCore {
  keyObject: KeyObject;
  fingerprint: string;
}

/** Validated keys by raw bytes (latin1 string), and rejected ones with their reason. */
const cache = new Map<string, KeyCore | string>();
const CACHE_LIMIT = 4096;

function coreFor(raw: Uint8Array, blob: Uint8Array): KeyCore | string {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const problem = publicKeyProblem(raw);
  const core: KeyCore | string = problem ?? {
    keyObject: createPublicKey({
      key: Buffer.concat([SPKI_PREFIX, raw]),
      format: "der",
      type: "spki",
    }),
    fingerprint: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(id, core);
  return core;
}

/** The SSH wire blob of an ed25519 public key: string "ssh-ed25519", string(32 raw bytes). */
function blobOf(raw: Uint8Array): Uint8Array {
  return concatBytes([sshString(KEY_TYPE), sshString(raw)]);
}

/**
 * An ed25519 public key. Build one with `parsePublicKey`, `publicKeyFromRaw` or
 * `publicKeyFromBlob`; treat `raw` and `blob` as read-only.
 */
export class SshPublicKey {
  readonly type = KEY_TYPE;
  /** The 32-byte Ed25519 public key A. */
  readonly raw: Uint8Array;
  /** SSH wire blob: string "ssh-ed25519" + string(raw), 51 bytes. */
  readonly blob: Uint8Array;
  readonly comment: string;
  /** node:crypto key, shared by every SshPublicKey with the same raw bytes. */
  readonly keyObject: KeyObject;
  /** `SHA256:<base64 without padding>` of the blob, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;

  /** Internal: use the factory functions, which validate. */
  constructor(raw: Uint8Array, blob: Uint8Array, comment: string, core: KeyCore) {
    this.raw = raw;
    this.blob = blob;
    this.comment = comment;
    this.keyObject = core.keyObject;
    this.fingerprint = core.fingerprint;
  }

  /** `ssh-ed25519 AAAA…` without the comment (the allowed_signers / charter form). */
  get keyText(): string {
    return `${KEY_TYPE} ${encodeBase64(this.blob)}`;
  }

  /** `ssh-ed25519 AAAA… comment`, the `.pub` file line (no newline). */
  toString(): string {
    return this.comment === "" ? this.keyText : `${this.keyText} ${this.comment}`;
  }

  /** Same key (comments are ignored). */
  equals(other: SshPublicKey): boolean {
    return bytesEqual(this.raw, other.raw);
  }

  withComment(comment: string): SshPublicKey {
    return new SshPublicKey(this.raw, this.blob, checkComment(comment), this);
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return `SshPublicKey <${this.toString()}>`;
  }
}

function checkComment(comment: string): string {
  if (/[\r\n]/.test(comment)) throw new TypeError("a key comment cannot contain a line break");
  return comment;
}

function makePublicKey(
  raw: Uint8Array,
  blob: Uint8Array,
  comment: string,
  fail: Fail,
): SshPublicKey {
  const core = coreFor(raw, blob);
  if (typeof core === "string") fail(core);
  return new SshPublicKey(raw, blob, comment, core);
}

/** An ed25519 public key from its 32 raw bytes. Throws KeyFormatError (source "public key"). */
export function publicKeyFromRaw(raw: Uint8Array, comment = ""): SshPublicKey {
  const fail: Fail = keyFail("public key");
  if (raw.length !== 32) fail(`ed25519 public key is ${raw.length} bytes, expected 32`);
  const copy = Uint8Array.from(raw);
  return makePublicKey(copy, blobOf(copy), checkComment(comment), fail);
}

/**
 * An ed25519 public key from its SSH wire blob (string "ssh-ed25519" + string(32 bytes),
 * nothing after). `fail` lets callers (the SSHSIG parser) throw their own error type.
 */
export function publicKeyFromBlob(
  blob: Uint8Array,
  source = "public key",
  fail: Fail = keyFail(source),
  comment = "",
): SshPublicKey {
  const reader = new WireReader(blob, fail);
  reader.expectText(KEY_TYPE, "key type");
  const raw = reader.string("ed25519 public key");
  if (raw.length !== 32) fail(`ed25519 public key is ${raw.length} bytes, expected 32`);
  reader.end("the public key");
  return makePublicKey(raw, blob, comment, fail);
}

/**
 * A public key line: `ssh-ed25519 AAAA… [comment]` (the `.pub` file form, or the bare key
 * of allowed_signers / a charter). Leading/trailing whitespace is ignored; anything else
 * (other key types, options, several lines) is a KeyFormatError naming `source`.
 */
export function parsePublicKey(line: string, source = "public key"): SshPublicKey {
  const fail: Fail = keyFail(source);
  const text = line.trim();
  if (text === "") fail("empty");
  if (/[\r\n]/.test(text)) fail("more than one line");
  if (text.startsWith("-----BEGIN "))
    fail("this is a private key or signature, not a public key line");
  const match = /^(\S+)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(text);
  if (!match) fail(`expected "ssh-ed25519 <base64> [comment]"`);
  const [, type, base64, comment = ""] = match;
  if (type !== KEY_TYPE) {
    fail(`key type is ${JSON.stringify(type!.slice(0, 40))}, only ${KEY_TYPE} is supported`);
  }
  const blob = decodeBase64Strict(base64!, "key data", fail);
  return publicKeyFromBlob(blob, source, fail, comment.trim());
}

/** An ed25519 private key (unencrypted). Never logged: `inspect` and `toJSON` show only the public part. */
export class SshPrivateKey {
  readonly publicKey: SshPublicKey;
  /** The 32-byte Ed25519 secret seed. */
  readonly seed: Uint8Array;
  /** node:crypto private key for `crypto.sign(null, data, keyObject)`. */
  readonly keyObject: KeyObject;
  readonly comment: string;

  constructor(seed: Uint8Array, publicKey: SshPublicKey, keyObject: KeyObject) {
    this.seed = seed;
    this.publicKey = publicKey;
    this.keyObject = keyObject;
    this.comment = publicKey.comment;
  }

  toJSON(): { publicKey: string } {
    return { publicKey: this.publicKey.toString() };
  }

  [inspect.custom](): string {
    return `SshPrivateKey <${this.publicKey.toString()}>`;
  }
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
}

/** The public key bytes of a private KeyObject. */
function derivePublic(keyObject: KeyObject): Uint8Array {
  const spki = createPublicKey(keyObject).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

/** A private key from its 32-byte seed. */
export function privateKeyFromSeed(seed: Uint8Array, comment = ""): SshPrivateKey {
  if (seed.length !== 32)
    throw new KeyFormatError("private key", `seed is ${seed.length} bytes, expected 32`);
  const copy = Uint8Array.from(seed);
  const keyObject = privateKeyObject(copy);
  return new SshPrivateKey(copy, publicKeyFromRaw(derivePublic(keyObject), comment), keyObject);
}

/** A fresh random ed25519 key. */
export function generateKey(comment: string): SshPrivateKey {
  return privateKeyFromSeed(randomBytes(32), comment);
}

const PRIVATE_LABEL = "OPENSSH PRIVATE KEY";
const AUTH_MAGIC = "openssh-key-v1\0";

/**
 * An `-----BEGIN OPENSSH PRIVATE KEY-----` file (openssh-key-v1), as written by
 * `ssh-keygen -t ed25519`. Encrypted keys → KeyEncryptedError; anything malformed,
 * another key type, mismatched checkints or a public key that does not belong to the
 * seed → KeyFormatError naming `source`.
 */
export function parsePrivateKey(text: string, source = "private key"): SshPrivateKey {
  const fail: Fail = keyFail(source);
  const trimmed = text.trimStart();
  if (trimmed.startsWith("ssh-") || trimmed.startsWith("ecdsa-")) {
    fail("this is a public key; give the private key file (the one without .pub)");
  }
  if (/^-----BEGIN (RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY-----/.test(trimmed)) {
    fail("this is a PEM/PKCS#8 key, not an OpenSSH private key; gdo needs `ssh-keygen -t ed25519`");
  }
  const data = dearmor(trimmed, PRIVATE_LABEL, fail);
  const reader = new WireReader(data, fail);
  const magic = reader.raw(AUTH_MAGIC.length, "magic");
  if (!bytesEqual(magic, bytesOf(AUTH_MAGIC)))
    fail(`bad magic ${JSON.stringify(printable(magic))}`);
  const cipher = reader.text("cipher name");
  const kdf = reader.text("kdf name");
  const kdfOptions = reader.string("kdf options");
  if (cipher !== "none" || kdf !== "none") throw new KeyEncryptedError(source, { cipher, kdf });
  if (kdfOptions.length !== 0) fail("kdf options present on an unencrypted key");
  const count = reader.u32("key count");
  if (count !== 1) fail(`file holds ${count} keys, expected 1`);
  const outerPublic = reader.string("public key");
  const publicKey = publicKeyFromBlob(outerPublic, source, fail);
  const section = reader.string("private section");
  reader.end("the private section");
  if (section.length % 8 !== 0) fail("private section length is not a multiple of 8");

  const inner = new WireReader(section, fail);
  const check1 = inner.u32("checkint");
  const check2 = inner.u32("checkint");
  if (check1 !== check2)
    fail("checkints do not match (corrupt file, or a wrong passphrase was used)");
  inner.expectText(KEY_TYPE, "private key type");
  const innerPublic = inner.string("ed25519 public key");
  if (innerPublic.length !== 32)
    fail(`ed25519 public key is ${innerPublic.length} bytes, expected 32`);
  const secret = inner.string("ed25519 private key");
  if (secret.length !== 64) fail(`ed25519 private key is ${secret.length} bytes, expected 64`);
  const commentBytes = inner.string("comment");
  const padding = inner.raw(inner.remaining, "padding");
  if (padding.length >= 8) fail(`${padding.length} bytes of padding, expected fewer than 8`);
  padding.forEach((byte, i) => {
    if (byte !== i + 1) fail("bad padding (expected bytes 1, 2, 3, …)");
  });

  const seed = Uint8Array.from(secret.subarray(0, 32));
  if (!bytesEqual(innerPublic, publicKey.raw))
    fail("the private section's public key differs from the file's public key");
  if (!bytesEqual(secret.subarray(32), publicKey.raw))
    fail("the private key's public half differs from the file's public key");
  const keyObject = privateKeyObject(seed);
  if (!bytesEqual(derivePublic(keyObject), publicKey.raw)) {
    fail("the public key does not belong to the private seed");
  }
  const comment = new TextDecoder().decode(commentBytes).replace(/[\r\n]/g, " ");
  return new SshPrivateKey(seed, publicKey.withComment(comment), keyObject);
}

/**
 * The key as an `-----BEGIN OPENSSH PRIVATE KEY-----` file, laid out byte for byte as
 * `ssh-keygen -t ed25519 -N ""` writes it (random checkint unless given, padding 1,2,3…,
 * base64 at 70 columns, final newline).
 */
export function serializePrivateKey(
  key: SshPrivateKey,
  options: { checkint?: number } = {},
): string {
  const checkint = u32(options.checkint ?? randomBytes(4).readUInt32BE(0));
  const raw = key.publicKey.raw;
  const body = concatBytes([
    checkint,
    checkint,
    sshString(KEY_TYPE),
    sshString(raw),
    sshString(concatBytes([key.seed, raw])),
    sshString(key.comment),
  ]);
  const padLength = (8 - (body.length % 8)) % 8;
  const padding = Uint8Array.from({ length: padLength }, (_, i) => i + 1);
  const data = concatBytes([
    bytesOf(AUTH_MAGIC),
    sshString("none"),
    sshString("none"),
    sshString(new Uint8Array(0)),
    u32(1),
    sshString(key.publicKey.blob),
    sshString(concatBytes([body, padding])),
  ]);
  return armor(PRIVATE_LABEL, data);
}

function keyFail(source: string): Fail {
  return (reason: string) => {
    throw new KeyFormatError(source, reason);
  };
}
