import { VerificationError } from "./errors.ts";
import type { TreeEntry } from "./repository.ts";

export class UnsafePathError extends VerificationError {
  constructor(path: string, reason: string) {
    super("unsafe-path", `path '${path}' is not allowed: ${reason}`, { path, reason });
  }
}

export class MalformedTreeError extends VerificationError {
  constructor(oid: string, reason: string) {
    super("malformed-tree", `tree ${oid} is malformed: ${reason}`, { oid, reason });
  }
}

/** Only plain files and folders: no symlinks or submodules can point outside the ledger. */
const MODES = new Set(["100644", "100755", "40000"]);

/**
 * A path component gdo accepts. Names come from peers and from users, and are
 * later written to disk (site build, checkouts), so anything that could escape
 * a folder or confuse a filesystem is refused: `.`, `..`, `.git` in any case,
 * separators, control characters.
 */
export function checkName(name: string, where: string): void {
  if (name.length === 0) throw new UnsafePathError(where, "empty name");
  if (name.length > 255) throw new UnsafePathError(where, "name longer than 255 bytes");
  if (name === "." || name === "..") throw new UnsafePathError(where, `'${name}' component`);
  if (name.toLowerCase() === ".git") throw new UnsafePathError(where, "'.git' component");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[/\\\u0000-\u001f\u007f]/.test(name)) {
    throw new UnsafePathError(where, "separator or control character in a name");
  }
}

/** Checks a slash-separated ledger path given by a user or a peer. */
export function checkPath(path: string): string[] {
  if (path.startsWith("/")) throw new UnsafePathError(path, "absolute path");
  const parts = path.split("/");
  for (const part of parts) checkName(part, path);
  return parts;
}

/**
 * Parses a tree object strictly: valid modes, safe names, git's sort order and
 * no duplicates (which is also what `git fsck --strict` demands).
 */
export function parseTree(oid: string, content: Uint8Array): TreeEntry[] {
  const entries: TreeEntry[] = [];
  const buffer = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  let offset = 0;
  let previousKey: string | undefined;
  while (offset < buffer.length) {
    const space = buffer.indexOf(0x20, offset);
    const nul = space < 0 ? -1 : buffer.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 21 > buffer.length)
      throw new MalformedTreeError(oid, "truncated entry");
    const mode = buffer.toString("latin1", offset, space);
    const name = buffer.toString("utf8", space + 1, nul);
    if (!MODES.has(mode)) throw new MalformedTreeError(oid, `entry '${name}' has mode ${mode}`);
    try {
      checkName(name, name);
    } catch (error) {
      throw new MalformedTreeError(oid, (error as Error).message);
    }
    // git sorts folders as if their name ended in '/'.
    const key = mode === "40000" ? `${name}/` : name;
    if (
      previousKey !== undefined &&
      Buffer.compare(Buffer.from(previousKey), Buffer.from(key)) >= 0
    ) {
      throw new MalformedTreeError(oid, `entries out of order or duplicated at '${name}'`);
    }
    previousKey = key;
    entries.push({
      mode: mode as TreeEntry["mode"],
      name,
      oid: buffer.toString("hex", nul + 1, nul + 21),
    });
    offset = nul + 21;
  }
  const names = new Set(entries.map((e) => e.name));
  if (names.size !== entries.length) throw new MalformedTreeError(oid, "duplicate names");
  return entries;
}
