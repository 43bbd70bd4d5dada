import { GdoError } from "./errors.ts";
import { type Ledger, MAIN } from "./ledger.ts";
import { type MergeConflict, MergeConflictError, planMerge } from "./merge.ts";
import type { SshPrivateKey } from "./sshkey.ts";
import type { FileEdit } from "./tree-builder.ts";

/** A conflict that taking one side's file cannot settle: a file on one side, a folder on the other. */
export class FolderClashError extends GdoError {
  constructor(paths: string[]) {
    super(
      "folder-clash",
      `cannot take one side: a file on one side is a folder on the other at ${paths.join(", ")}; move or remove one of them by hand, then merge`,
      { paths },
    );
  }
}

export interface Resolution {
  /** The block main now points at. */
  head: string;
  /** The blocks written, oldest first. */
  blocks: string[];
  /** The files whose conflict was settled. */
  paths: string[];
}

/**
 * Merges `theirs` into main when both changed the same files differently,
 * taking one side's version of every such file. The ledger's merge rule
 * (RFC 3) stays as it is — a merge adds nothing of its own and a conflict
 * makes it invalid — so the choice is made in plain blocks, signed by the
 * member who makes it and readable by anyone:
 *   1. a block that takes their version of each conflicting file;
 *   2. the merge, clean now;
 *   3. with `take: "ours"`, a block that puts main's versions back.
 * The blocks are written off main and land together (main moves once, by
 * compare-and-swap), so a node syncing meanwhile never sees half of it. Each
 * block is judged by policy as any other: taking a version that changes an
 * RFC's status, say, needs that change's approvals (a proposal) instead.
 */
export async function mergeTaking(
  ledger: Ledger,
  {
    key,
    theirs,
    take,
    name,
  }: { key: SshPrivateKey; theirs: string; take: "ours" | "theirs"; name: string },
): Promise<Resolution> {
  const main = await ledger.verifiedBlock(await ledger.requireHead(MAIN));
  const other = await ledger.verifiedBlock(theirs);
  const plan = await planMerge({
    reader: ledger.reader,
    bases: ledger.verifier.mergeBaseTrees(main.oid, other.oid),
    ours: main.tree,
    theirs: other.tree,
  });
  const conflicts = plan.clean ? [] : plan.conflicts;
  const paths = conflicts.map((c) => c.path);
  const blocks: string[] = [];
  let tip = main.oid;
  if (conflicts.length > 0) {
    await refuseFolderClashes(ledger, conflicts, main.tree, other.tree);
    tip = await ledger.commit({
      key,
      noRef: true,
      after: tip,
      edits: await versionsIn(ledger, other.tree, paths),
      message: `Take ${name}'s version of ${listed(paths)} (resolving a merge conflict)`,
      body: `To merge ${name}'s ${other.oid}; conflicting: ${paths.join(", ")}.`,
    });
    blocks.push(tip);
  }
  // Planned again only if a block was added: both sides now hold the same
  // version of every file that conflicted.
  const merge =
    tip === main.oid
      ? plan
      : await planMerge({
          reader: ledger.reader,
          bases: ledger.verifier.mergeBaseTrees(tip, other.oid),
          ours: (await ledger.verifiedBlock(tip)).tree,
          theirs: other.tree,
        });
  if (!merge.clean) throw new MergeConflictError(merge.conflicts);
  tip = await ledger.commit({
    key,
    noRef: true,
    after: tip,
    mergeWith: [other.oid],
    edits: merge.edits,
    message: `Merge ${name}`,
  });
  blocks.push(tip);
  if (take === "ours" && conflicts.length > 0) {
    tip = await ledger.commit({
      key,
      noRef: true,
      after: tip,
      edits: await versionsIn(ledger, main.tree, paths),
      message: `Keep main's version of ${listed(paths)} over ${name}'s (resolving a merge conflict)`,
    });
    blocks.push(tip);
  }
  await ledger.advance({ oid: tip, expected: main.oid });
  return { head: tip, blocks, paths };
}

/** Edits that make each of `paths` what it is in `tree` (a file's bytes, or gone). */
async function versionsIn(ledger: Ledger, tree: string, paths: string[]): Promise<FileEdit[]> {
  const edits: FileEdit[] = [];
  for (const path of paths) {
    const entry = await ledger.reader.entryAt(tree, path);
    const content = entry ? (await ledger.repo.readObject(entry.oid)).content : null;
    edits.push({ path, content });
  }
  return edits;
}

/** A clash is reported at the file's path, where the other side has a folder. */
async function refuseFolderClashes(
  ledger: Ledger,
  conflicts: MergeConflict[],
  ours: string,
  theirs: string,
): Promise<void> {
  const clashes: string[] = [];
  for (const { path } of conflicts) {
    for (const tree of [ours, theirs]) {
      if ((await ledger.reader.entryAt(tree, path))?.mode === "40000") {
        clashes.push(path);
        break;
      }
    }
  }
  if (clashes.length > 0) throw new FolderClashError(clashes);
}

function listed(paths: string[]): string {
  return paths.length <= 3
    ? paths.join(", ")
    : `${paths.slice(0, 3).join(", ")} and ${paths.length - 3} more`;
}
