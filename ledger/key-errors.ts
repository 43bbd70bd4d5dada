import { GdoError, VerificationError } from "./errors.ts";

/**
 * Errors of the key and signature modules (`sshkey.ts`, `sshsig.ts`, `keyfile.ts`).
 * Messages name the source (a file path, "signature", "public key") and the reason;
 * `data.source` and `data.reason` carry the same facts for programs. No error ever
 * carries private key material.
 */

/** A public or private key (line, file, blob) is malformed or not an ed25519 key gdo accepts. */
export class KeyFormatError extends GdoError {
  constructor(source: string, reason: string, options?: ErrorOptions) {
    super(
      "key-format",
      `${source}: not a usable OpenSSH ed25519 key: ${reason}`,
      {
        source,
        reason,
      },
      options,
    );
  }
}

/** The private key is protected by a passphrase; gdo signs unattended and cannot use it. */
export class KeyEncryptedError extends GdoError {
  constructor(source: string, data: { cipher: string; kdf: string }) {
    const file = source.includes(" ") ? JSON.stringify(source) : source;
    super(
      "key-encrypted",
      `${source}: the private key is protected by a passphrase (cipher ${data.cipher}, kdf ${data.kdf}); ` +
        `gdo needs an unencrypted key: remove the passphrase with \`ssh-keygen -p -N "" -f ${file}\`, ` +
        "or make a new key with `gdo key new`",
      { source, ...data },
    );
  }
}

/** A key file already exists where a new key would be written. */
export class KeyExistsError extends GdoError {
  constructor(path: string) {
    super(
      "key-exists",
      `${path}: a key already exists; refusing to overwrite it (use --force to replace it)`,
      { path },
    );
  }
}

/** An armored SSH signature (SSHSIG) is malformed or not in the one canonical form gdo accepts. */
export class SignatureFormatError extends VerificationError {
  constructor(source: string, reason: string, options?: ErrorOptions) {
    super(
      "signature-format",
      `${source}: malformed SSH signature: ${reason}`,
      {
        source,
        reason,
      },
      options,
    );
  }
}

/** A well-formed signature that does not verify (wrong key, wrong message, wrong namespace). */
export class BadSignatureError extends VerificationError {
  constructor(source: string, reason: string, data: Record<string, unknown> = {}) {
    super("bad-signature", `${source}: bad signature: ${reason}`, { source, reason, ...data });
  }
}
