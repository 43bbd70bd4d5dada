/**
 * The node's signing key on disk: an unencrypted OpenSSH ed25519 private key file
 * (mode 0600) and its `.pub` line next to it, readable and writable by ssh-keygen too.
 */
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { FileExistsError, writeFileAtomic } from "./atomic-file.ts";
import { GdoError, NotFoundError } from "./errors.ts";
import { KeyExistsError, KeyFormatError } from "./key-errors.ts";
import { bytesEqual } from "./ssh-wire.ts";
import { parsePrivateKey, type SshPrivateKey, serializePrivateKey } from "./sshkey.ts";

/** Key files are a few hundred bytes; anything far bigger is not one. */
const MAX_KEY_FILE = 64 * 1024;

/** `<dataDir>/key`. */
export function defaultKeyPath(dataDir: string): string {
  return join(dataDir, "key");
}

/**
 * Read and validate a private key file. Missing → NotFoundError (`not-found`);
 * encrypted → KeyEncryptedError; malformed → KeyFormatError; unreadable → `key-unreadable`.
 * Every message names the file.
 */
export async function readKeyFile(path: string): Promise<SshPrivateKey> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new NotFoundError(
        `${path}: no key file (create one with \`gdo key new\`, or give one with --key)`,
        { path },
      );
    }
    if (code === "EISDIR") throw new KeyFormatError(path, "is a folder, not a key file");
    throw new GdoError("key-unreadable", `${path}: cannot read the key file (${code})`, {
      path,
      errno: code,
    });
  }
  if (bytes.length > MAX_KEY_FILE)
    throw new KeyFormatError(path, `file is too large (${bytes.length} bytes)`);
  return parsePrivateKey(bytes.toString("utf8"), path);
}

/**
 * Write `key` to `path` (mode 0600, atomically) and its public line to `path.pub` (0644).
 * Refuses to replace an existing `path` (KeyExistsError, `key-exists`) unless
 * `overwrite: true`. `text` writes those exact bytes instead of a fresh serialization
 * (`gdo key import` keeps the user's file as it was); it must hold the same key.
 * The folder is created (0700) if missing.
 */
export async function writeKeyFile(options: {
  path: string;
  key: SshPrivateKey;
  overwrite?: boolean;
  text?: string;
}): Promise<void> {
  const { path, key, overwrite = false } = options;
  const text = options.text ?? serializePrivateKey(key);
  if (options.text !== undefined && !bytesEqual(parsePrivateKey(text, path).seed, key.seed)) {
    throw new TypeError("writeKeyFile: `text` does not hold `key`");
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFileAtomic({ path, data: text, mode: 0o600, overwrite });
  } catch (error) {
    if (error instanceof FileExistsError) throw new KeyExistsError(path);
    throw error;
  }
  await writeFileAtomic({
    path: `${path}.pub`,
    data: `${key.publicKey.toString()}\n`,
    mode: 0o644,
  });
}
