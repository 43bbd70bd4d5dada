/**
 * SSHSIG (openssh PROTOCOL.sshsig), the signature format of `ssh-keygen -Y sign` and of
 * git's `gpg.format=ssh`. ed25519 only. Layout summary: /work/shared/vectors/sshsig/FORMAT.md.
 *
 * Parsing accepts exactly one encoding of each signature blob (gdo stores signatures in
 * commits, whose ids must not be malleable): version 1, an ed25519 key that is a
 * prime-order point, a non-empty UTF-8 namespace, an EMPTY reserved field (OpenSSH signs
 * and verifies as if it were empty whatever the blob says, so a non-empty one could be
 * altered freely), hash sha512 or sha256, a canonical 64-byte signature (S < L, R not
 * small-order), and no byte left over. The armor may be wrapped at any width;
 * `ParsedSshsig.canonicalArmor` tells whether it is byte-identical to ssh-keygen's.
 */
import { createHash, sign as cryptoSign, verify as cryptoVerify } from "node:crypto";
import { signatureProblem } from "./ed25519.ts";
import { BadSignatureError, SignatureFormatError } from "./key-errors.ts";
import {
  armor,
  bytesEqual,
  bytesOf,
  concatBytes,
  dearmor,
  type Fail,
  printable,
  sshString,
  u32,
  WireReader,
} from "./ssh-wire.ts";
import { KEY_TYPE, publicKeyFromBlob, type SshPrivateKey, type SshPublicKey } from "./sshkey.ts";

export type SshsigHashAlgorithm = "sha512" | "sha256";

export interface ParsedSshsig {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: SshsigHashAlgorithm;
  /** The raw 64-byte Ed25519 signature R‖S. */
  signature: Uint8Array;
  /** Always empty: non-empty reserved fields are rejected (see the module comment). */
  reserved: Uint8Array;
  /** True when the armored text is exactly what `signSshsig`/ssh-keygen emit for this blob (70 columns, final newline). */
  canonicalArmor: boolean;
}

const LABEL = "SSH SIGNATURE";
const MAGIC = bytesOf("SSHSIG");
const VERSION = 1;
const EMPTY = new Uint8Array(0);

/** `MAGIC, string(namespace), string(reserved = ""), string(hash name), uint32(digest length)` per (namespace, hash). */
const prefixes = new Map<string, Buffer>();

/** What the key actually signs (PROTOCOL.sshsig §3): MAGIC, namespace, reserved, hash name, H(message). */
export function signedData(
  message: Uint8Array,
  namespace: string,
  hashAlgorithm: SshsigHashAlgorithm,
): Uint8Array {
  const id = `${hashAlgorithm} ${namespace}`;
  let prefix = prefixes.get(id);
  if (prefix === undefined) {
    const digestLength = hashAlgorithm === "sha512" ? 64 : 32;
    prefix = Buffer.from(
      concatBytes([
        MAGIC,
        sshString(namespace),
        sshString(EMPTY),
        sshString(hashAlgorithm),
        u32(digestLength),
      ]),
    );
    if (prefixes.size >= 64) prefixes.clear();
    prefixes.set(id, prefix);
  }
  const digest = createHash(hashAlgorithm).update(message).digest();
  return Buffer.concat([prefix, digest]);
}

/** Sign `message` as `ssh-keygen -Y sign -n <namespace>` does; returns the armored signature. */
export function signSshsig(options: {
  message: Uint8Array;
  key: SshPrivateKey;
  namespace: string;
  hashAlgorithm?: SshsigHashAlgorithm;
}): string {
  const { message, key, namespace } = options;
  const hashAlgorithm = options.hashAlgorithm ?? "sha512";
  if (namespace === "") throw new TypeError("SSHSIG namespace must not be empty");
  if (hashAlgorithm !== "sha512" && hashAlgorithm !== "sha256") {
    throw new TypeError(`unsupported SSHSIG hash algorithm ${JSON.stringify(hashAlgorithm)}`);
  }
  const signature = cryptoSign(null, signedData(message, namespace, hashAlgorithm), key.keyObject);
  const blob = concatBytes([
    MAGIC,
    u32(VERSION),
    sshString(key.publicKey.blob),
    sshString(namespace),
    sshString(EMPTY),
    sshString(hashAlgorithm),
    sshString(concatBytes([sshString(KEY_TYPE), sshString(signature)])),
  ]);
  return armor(LABEL, blob);
}

/** Parse an armored SSHSIG strictly. Throws SignatureFormatError naming `source`. */
export function parseSshsig(armored: string, source = "signature"): ParsedSshsig {
  const fail: Fail = (reason) => {
    throw new SignatureFormatError(source, reason);
  };
  const blob = dearmor(armored, LABEL, fail);
  const reader = new WireReader(blob, fail);
  const magic = reader.raw(MAGIC.length, "magic");
  if (!bytesEqual(magic, MAGIC))
    fail(`bad magic ${JSON.stringify(printable(magic))}, expected "SSHSIG"`);
  const version = reader.u32("version");
  if (version !== VERSION) fail(`version ${version}, only version ${VERSION} is supported`);
  const keyBlob = reader.string("public key");
  const publicKey = publicKeyFromBlob(keyBlob, source, (reason) =>
    fail(`signer public key: ${reason}`),
  );
  const namespace = reader.text("namespace");
  if (namespace === "") fail("empty namespace");
  const reserved = reader.string("reserved field");
  if (reserved.length !== 0) fail(`reserved field is not empty (${reserved.length} bytes)`);
  const hashAlgorithm = reader.text("hash algorithm");
  if (hashAlgorithm !== "sha512" && hashAlgorithm !== "sha256") {
    fail(`hash algorithm ${JSON.stringify(hashAlgorithm.slice(0, 40))}, expected sha512 or sha256`);
  }
  const sigBlob = reader.string("signature");
  reader.end("the signature");

  const inner = new WireReader(sigBlob, fail);
  inner.expectText(KEY_TYPE, "signature type");
  const signature = inner.string("ed25519 signature");
  if (signature.length !== 64) fail(`ed25519 signature is ${signature.length} bytes, expected 64`);
  inner.end("the ed25519 signature");
  const problem = signatureProblem(signature);
  if (problem) fail(problem);

  return {
    publicKey,
    namespace,
    hashAlgorithm,
    signature,
    reserved,
    canonicalArmor: armored === armor(LABEL, blob),
  };
}

/**
 * Does the parsed signature sign `message` in `namespace`? No parsing, no throwing:
 * the ledger's hot loop. A namespace mismatch is `false`.
 */
export function verifyParsed(
  parsed: ParsedSshsig,
  message: Uint8Array,
  namespace: string,
): boolean {
  if (parsed.namespace !== namespace) return false;
  return cryptoVerify(
    null,
    signedData(message, namespace, parsed.hashAlgorithm),
    parsed.publicKey.keyObject,
    parsed.signature,
  );
}

/**
 * Verify an armored signature over `message` in `namespace`, returning the signer's
 * public key. Malformed → SignatureFormatError; wrong namespace or not verifying →
 * BadSignatureError. The caller decides whether that key is allowed to sign.
 */
export function verifySshsig(options: {
  armored: string;
  message: Uint8Array;
  namespace: string;
  source?: string;
}): SshPublicKey {
  const source = options.source ?? "signature";
  const parsed = parseSshsig(options.armored, source);
  if (parsed.namespace !== options.namespace) {
    throw new BadSignatureError(
      source,
      `namespace is ${JSON.stringify(parsed.namespace)}, expected ${JSON.stringify(options.namespace)}`,
      { namespace: parsed.namespace, expectedNamespace: options.namespace },
    );
  }
  if (!verifyParsed(parsed, options.message, options.namespace)) {
    throw new BadSignatureError(
      source,
      `does not verify for key ${parsed.publicKey.fingerprint} (message or signature altered, or another key signed)`,
      { fingerprint: parsed.publicKey.fingerprint },
    );
  }
  return parsed.publicKey;
}
