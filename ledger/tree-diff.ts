import type { TreeEntry } from "./repository.ts";
import type { TreeReader } from "./tree-reader.ts";

export interface Change {
  path: string;
  kind: "add" | "modify" | "delete";
  /** Blob ids before and after (undefined where the file does not exist). */
  before?: string;
  after?: string;
}

/**
 * File-level differences between two trees. Only folders whose ids differ are
 * opened, so a one-file block costs a handful of tree reads however large the
 * ledger is. Every entry of an added folder is visited, so each new name has
 * passed the tree parser's path checks.
 */
export async function diffTrees(
  reader: TreeReader,
  before: string | undefined,
  after: string | undefined,
): Promise<Change[]> {
  const changes: Change[] = [];
  await diffInto(reader, before, after, "", changes);
  // Verified blocks keep their changes for the node's life; a copy has no
  // spare capacity (a one-change array grown by push held 150 bytes).
  return changes.slice();
}

async function diffInto(
  reader: TreeReader,
  before: string | undefined,
  after: string | undefined,
  base: string,
  out: Change[],
) {
  if (before === after) return;
  const a = before ? await reader.readTree(before) : [];
  const b = after ? await reader.readTree(after) : [];
  // Most entries are unchanged: match identical entries by position first
  // (both lists are in git order), and pair only the rest by name.
  const changedA: TreeEntry[] = [];
  const changedB: TreeEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x && y && x.name === y.name && x.oid === y.oid && x.mode === y.mode) {
      i++;
      j++;
    } else if (y === undefined || (x !== undefined && gitKey(x) < gitKey(y))) {
      changedA.push(x!);
      i++;
    } else if (x === undefined || gitKey(y) < gitKey(x)) {
      changedB.push(y);
      j++;
    } else {
      changedA.push(x);
      changedB.push(y);
      i++;
      j++;
    }
  }
  const byName = new Map<string, [TreeEntry | undefined, TreeEntry | undefined]>();
  for (const e of changedA) byName.set(e.name, [e, undefined]);
  for (const e of changedB) byName.set(e.name, [byName.get(e.name)?.[0], e]);
  for (const [name, [x, y]] of [...byName].sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0))) {
    if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
    const path = base ? `${base}/${name}` : name;
    const xTree = x?.mode === "40000" ? x.oid : undefined;
    const yTree = y?.mode === "40000" ? y.oid : undefined;
    const xFile = x && x.mode !== "40000" ? x.oid : undefined;
    const yFile = y && y.mode !== "40000" ? y.oid : undefined;
    if (xTree || yTree) await diffInto(reader, xTree, yTree, path, out);
    if (xFile || yFile) {
      if (xFile && yFile) out.push({ path, kind: "modify", before: xFile, after: yFile });
      else if (yFile) out.push({ path, kind: "add", after: yFile });
      else out.push({ path, kind: "delete", before: xFile });
    }
  }
}

/** The key git sorts tree entries by (a folder as if its name ended in '/'). */
function gitKey(entry: TreeEntry): string {
  return entry.mode === "40000" ? `${entry.name}/` : entry.name;
}
