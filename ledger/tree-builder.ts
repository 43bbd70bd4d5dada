import type { TreeEntry } from "./repository.ts";
import { checkPath, UnsafePathError } from "./tree.ts";
import type { TreeReader } from "./tree-reader.ts";

/** Where new files and folders go: the repository, or a quarantine until their block verifies. */
export interface ObjectWriter {
  writeBlob(content: Uint8Array): Promise<string>;
  writeTree(entries: TreeEntry[]): Promise<string>;
}

/** A file to write (content) or remove (null) at a ledger path. */
export interface FileEdit {
  path: string;
  content: Uint8Array | null;
}

/**
 * Applies file edits to a tree and writes only the folders that changed.
 * Empty folders disappear, as in git. Paths are checked before anything is
 * written, so a bad name never reaches the object store.
 */
export async function applyEdits(
  writer: ObjectWriter,
  reader: TreeReader,
  base: string | undefined,
  edits: FileEdit[],
): Promise<string> {
  const byPath = new Map<string, FileEdit>();
  for (const edit of edits) {
    checkPath(edit.path);
    if (byPath.has(edit.path)) throw new UnsafePathError(edit.path, "edited twice in one block");
    byPath.set(edit.path, edit);
  }
  const oid = await rebuild(
    writer,
    reader,
    base,
    [...byPath.values()].map((e) => ({ parts: e.path.split("/"), edit: e })),
    "",
  );
  return oid ?? (await writer.writeTree([]));
}

interface PendingEdit {
  parts: string[];
  edit: FileEdit;
}

async function rebuild(
  writer: ObjectWriter,
  reader: TreeReader,
  treeOid: string | undefined,
  edits: PendingEdit[],
  where: string,
): Promise<string | undefined> {
  const entries = new Map<string, TreeEntry>();
  if (treeOid) for (const e of await reader.readTree(treeOid)) entries.set(e.name, e);
  const groups = new Map<string, PendingEdit[]>();
  for (const pending of edits) {
    const [head, ...rest] = pending.parts;
    const name = head!;
    if (rest.length === 0) {
      const existing = entries.get(name);
      if (existing?.mode === "40000")
        throw new UnsafePathError(pending.edit.path, "a folder is in the way");
      if (pending.edit.content === null) entries.delete(name);
      else
        entries.set(name, {
          mode: "100644",
          name,
          oid: await writer.writeBlob(pending.edit.content),
        });
    } else {
      groups.set(name, [...(groups.get(name) ?? []), { parts: rest, edit: pending.edit }]);
    }
  }
  for (const [name, group] of groups) {
    const existing = entries.get(name);
    if (existing && existing.mode !== "40000")
      throw new UnsafePathError(`${where}${name}`, "a file is in the way");
    const sub = await rebuild(writer, reader, existing?.oid, group, `${where}${name}/`);
    if (sub) entries.set(name, { mode: "40000", name, oid: sub });
    else entries.delete(name);
  }
  if (entries.size === 0) return undefined;
  return writer.writeTree([...entries.values()]);
}
