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

// Only plain files and folders (100644, 100755, 40000): no symlinks or
// submodules can point outside the ledger.

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
 * git's entry order: names compared as bytes, a folder's name as if it ended
 * in '/'. Compares in place in the object's bytes (no allocation): trees are
 * parsed once per new folder version, which for a large archive is most of the
 * work of verification.
 */
function compareKeys(
  buf: Uint8Array,
  aStart: number,
  aEnd: number,
  aTree: boolean,
  bStart: number,
  bEnd: number,
  bTree: boolean,
): number {
  const aLen = aEnd - aStart + (aTree ? 1 : 0);
  const bLen = bEnd - bStart + (bTree ? 1 : 0);
  const n = Math.min(aLen, bLen);
  for (let i = 0; i < n; i++) {
    const x = aStart + i < aEnd ? buf[aStart + i]! : 0x2f;
    const y = bStart + i < bEnd ? buf[bStart + i]! : 0x2f;
    if (x !== y) return x - y;
  }
  return aLen - bLen;
}

const MODE_FILE = [0x31, 0x30, 0x30, 0x36, 0x34, 0x34]; // "100644"
const MODE_EXEC = [0x31, 0x30, 0x30, 0x37, 0x35, 0x35]; // "100755"
const MODE_TREE = [0x34, 0x30, 0x30, 0x30, 0x30]; // "40000"

function modeAt(buf: Uint8Array, start: number, end: number): TreeEntry["mode"] | undefined {
  const is = (bytes: number[]) =>
    end - start === bytes.length && bytes.every((b, i) => buf[start + i] === b);
  if (is(MODE_FILE)) return "100644";
  if (is(MODE_TREE)) return "40000";
  if (is(MODE_EXEC)) return "100755";
  return undefined;
}

/** Printable ASCII without separators and not starting with '.': needs no further checks. */
function plainName(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start > 255 || buf[start] === 0x2e) return false;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x20 || c > 0x7e || c === 0x2f || c === 0x5c) return false;
  }
  return true;
}

/**
 * A tree object's bytes, as git writes them: entries in git's order (see
 * `compareKeys`), each `mode name\0` and its 20-byte id.
 */
export function encodeTree(entries: readonly TreeEntry[]): Uint8Array {
  const key = (e: TreeEntry) => Buffer.from(e.mode === "40000" ? `${e.name}/` : e.name, "utf8");
  const sorted = entries.map((entry) => ({ entry, key: key(entry) }));
  sorted.sort((a, b) => Buffer.compare(a.key, b.key));
  return Buffer.concat(
    sorted.flatMap(({ entry }) => [
      Buffer.from(`${entry.mode} ${entry.name}\0`, "utf8"),
      Buffer.from(entry.oid, "hex"),
    ]),
  );
}

/**
 * Parses a tree object strictly: valid modes, safe names, git's sort order and
 * no duplicates (which is also what `git fsck --strict` demands).
 */
export function parseTree(oid: string, content: Uint8Array): TreeEntry[] {
  const entries: TreeEntry[] = [];
  const buffer = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  let offset = 0;
  let prevStart = -1;
  let prevEnd = -1;
  let prevTree = false;
  while (offset < buffer.length) {
    const space = buffer.indexOf(0x20, offset);
    const nul = space < 0 ? -1 : buffer.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 21 > buffer.length)
      throw new MalformedTreeError(oid, "truncated entry");
    const mode = modeAt(buffer, offset, space);
    const name = buffer.toString("utf8", space + 1, nul);
    if (!mode) {
      throw new MalformedTreeError(
        oid,
        `entry '${name}' has mode ${buffer.toString("latin1", offset, space)}`,
      );
    }
    if (!plainName(buffer, space + 1, nul) || name.length === 0) {
      try {
        checkName(name, name);
      } catch (error) {
        throw new MalformedTreeError(oid, (error as Error).message);
      }
    }
    const isTree = mode === "40000";
    if (
      prevStart >= 0 &&
      compareKeys(buffer, prevStart, prevEnd, prevTree, space + 1, nul, isTree) >= 0
    ) {
      throw new MalformedTreeError(oid, `entries out of order or duplicated at '${name}'`);
    }
    prevStart = space + 1;
    prevEnd = nul;
    prevTree = isTree;
    entries.push({ mode, name, oid: buffer.toString("hex", nul + 1, nul + 21) });
    offset = nul + 21;
  }
  // A file and a folder of the same name sort apart ("a" < "a-b" < "a/"):
  // the file comes first, and every entry between them starts with the name.
  // A few steps back settle it; a tree built to make the walk long is
  // checked against a set of its file names instead (no quadratic walk).
  let fileNames: Set<string> | undefined;
  for (let k = 1; k < entries.length; k++) {
    const folder = entries[k]!;
    if (folder.mode !== "40000") continue;
    let j = k - 1;
    for (let steps = 0; j >= 0 && entries[j]!.name.startsWith(folder.name); j--, steps++) {
      if (entries[j]!.name === folder.name)
        throw new MalformedTreeError(oid, `duplicate name '${folder.name}'`);
      if (steps === 8) {
        fileNames ??= new Set(entries.filter((e) => e.mode !== "40000").map((e) => e.name));
        if (fileNames.has(folder.name))
          throw new MalformedTreeError(oid, `duplicate name '${folder.name}'`);
        break;
      }
    }
  }
  return entries;
}
