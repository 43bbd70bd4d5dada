import { GdoError } from "./errors.ts";
import type { FileEdit } from "./tree-builder.ts";
import { diffTrees } from "./tree-diff.ts";
import type { TreeReader } from "./tree-reader.ts";

/** A path both sides changed differently since their common ancestor. */
export interface MergeConflict {
  path: string;
  /** Blob ids after each side's change (undefined: deleted). */
  ours: string | undefined;
  theirs: string | undefined;
}

export type MergePlan =
  | { clean: true; edits: FileEdit[]; paths: string[] }
  | { clean: false; conflicts: MergeConflict[] };

/** A merge was asked for where the ledger's merge rule cannot make one. */
export class MergeConflictError extends GdoError {
  constructor(conflicts: MergeConflict[]) {
    super(
      "merge-conflict",
      `cannot merge: ${conflicts.length} path(s) changed differently on both sides (${conflicts
        .slice(0, 3)
        .map((c) => c.path)
        .join(", ")}${conflicts.length > 3 ? ", …" : ""})`,
      { paths: conflicts.map((c) => c.path) },
    );
  }
}

/**
 * Which side of a path both sides changed since the best merge base wins
 * when there are several merge bases (criss-cross merges): if one side still
 * holds what another merge base holds, the other side changed it after that
 * base, which both descend from; that side's content is kept ("ours" /
 * "theirs"). Undefined: a real conflict.
 */
export async function supersededSide(
  reader: TreeReader,
  baseTrees: string[],
  path: string,
  ours: string | undefined,
  theirs: string | undefined,
): Promise<"ours" | "theirs" | undefined> {
  for (const tree of baseTrees.slice(1)) {
    const there = (await reader.entryAt(tree, path))?.oid;
    if (there === ours) return "theirs";
    if (there === theirs) return "ours";
  }
  return undefined;
}

/**
 * Plans the ledger's merge (RFC 3: a merge adds nothing of its own; its tree
 * is the clean three-way merge of its parents). Pure over the object reader:
 * returns the edits that turn `ours` into the merged tree — their side's
 * changes since the best merge base that ours lacks — to pass to
 * `Ledger.commit({ mergeWith: [theirHead], edits })`, or every conflicting
 * path. A path changed identically on both sides is not a conflict. A file on
 * one side where the other has a folder (or the reverse) is a conflict too,
 * reported at the file's path.
 */
export async function planMerge({
  reader,
  bases,
  ours,
  theirs,
}: {
  reader: TreeReader;
  /** Trees of the merge bases, best first (`Verifier.mergeBaseTrees`; empty: no common ancestor). */
  bases: string[];
  ours: string;
  theirs: string;
}): Promise<MergePlan> {
  const base = bases[0];
  const [oursChanges, theirsChanges] = await Promise.all([
    diffTrees(reader, base, ours),
    diffTrees(reader, base, theirs),
  ]);
  const oursAfter = new Map(oursChanges.map((c) => [c.path, c.after]));
  const conflicts: MergeConflict[] = [];
  const edits: FileEdit[] = [];
  const wanted: { path: string; after: string | undefined }[] = [];
  for (const c of theirsChanges) {
    if (oursAfter.has(c.path)) {
      const mine = oursAfter.get(c.path);
      if (mine === c.after) continue;
      const side = await supersededSide(reader, bases, c.path, mine, c.after);
      if (side === "theirs") wanted.push({ path: c.path, after: c.after });
      else if (side !== "ours") conflicts.push({ path: c.path, ours: mine, theirs: c.after });
      continue;
    }
    wanted.push({ path: c.path, after: c.after });
  }
  // File/folder clashes: their file where ours has a folder, or under a
  // path that is a file on our side.
  for (const w of wanted) {
    const here = await reader.entryAt(ours, w.path);
    if (here?.mode === "40000") {
      conflicts.push({ path: w.path, ours: undefined, theirs: w.after });
      continue;
    }
    if (w.after === undefined) continue;
    const parts = w.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      const entry = await reader.entryAt(ours, parent);
      if (entry && entry.mode !== "40000") {
        conflicts.push({ path: parent, ours: entry.oid, theirs: undefined });
        break;
      }
    }
  }
  if (conflicts.length > 0) return { clean: false, conflicts };
  for (const w of wanted) {
    if (w.after === undefined) {
      edits.push({ path: w.path, content: null });
      continue;
    }
    const object = await reader.objects.readObject(w.after);
    edits.push({ path: w.path, content: object.content });
  }
  return { clean: true, edits, paths: wanted.map((w) => w.path) };
}
