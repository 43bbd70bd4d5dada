import { parseCommit } from "./commit.ts";
import type { GitObject, ObjectReader, TreeEntry } from "./repository.ts";
import { parseTree } from "./tree.ts";

export interface WalkedObject extends GitObject {
  oid: string;
}

export interface MissingHistory {
  /** Commits to send, parents first (every commit comes after all its parents in the list). */
  commits: string[];
  /** The newest commits of `commits` (named by no other commit in it). */
  tips: string[];
  /** True when more commits were missing than `maxCommits` allowed. */
  truncated: boolean;
}

/**
 * Which commits a peer lacks to reach `want`, given commits it says it has.
 * The walk goes back from each wanted commit and stops at a `have` (the peer
 * holds all of its history: git history is all-or-nothing). Haves the peer
 * made up or that we do not know cost nothing: they are only stop marks.
 * With `maxCommits` the oldest ones come first, so every batch is closed under
 * ancestry and verifies on its own.
 */
export async function missingHistory({
  objects,
  want,
  have,
  maxCommits = Number.POSITIVE_INFINITY,
  signal,
}: {
  objects: ObjectReader;
  want: string[];
  have: Iterable<string>;
  maxCommits?: number;
  signal?: AbortSignal;
}): Promise<MissingHistory> {
  const stop = new Set(have);
  const parentsOf = new Map<string, string[]>();
  const order: string[] = [];
  const seen = new Set<string>();
  const stack: [string, boolean][] = want.map((oid) => [oid, false]);
  stack.reverse();
  while (stack.length > 0) {
    signal?.throwIfAborted();
    const [oid, expanded] = stack.pop()!;
    if (expanded) {
      order.push(oid);
      continue;
    }
    if (seen.has(oid) || stop.has(oid)) continue;
    seen.add(oid);
    const object = await objects.readObject(oid);
    if (object.type !== "commit") continue;
    stack.push([oid, true]);
    const { parents } = parseCommit(oid, object.content);
    parentsOf.set(oid, parents);
    for (const parent of [...parents].reverse()) {
      if (!seen.has(parent) && !stop.has(parent)) stack.push([parent, false]);
    }
  }
  const truncated = order.length > maxCommits;
  const commits = truncated ? order.slice(0, maxCommits) : order;
  const named = new Set<string>();
  const inBatch = new Set(commits);
  for (const oid of commits) for (const p of parentsOf.get(oid)!) if (inBatch.has(p)) named.add(p);
  return { commits, tips: commits.filter((c) => !named.has(c)), truncated };
}

/**
 * The objects of `commits` (parents-first, as `missingHistory` returns them)
 * that a peer holding their parents lacks: each commit, then every tree and
 * file of its tree that differs from what any of its parents holds at the same
 * path. Unchanged folders are never opened, so a block that touches one file
 * costs a few tree reads however large the ledger is.
 */
export async function* objectsOf({
  objects,
  commits,
  signal,
}: {
  objects: ObjectReader;
  commits: string[];
  signal?: AbortSignal;
}): AsyncGenerator<WalkedObject> {
  const sent = new Set<string>();
  const treeOf = new Map<string, string>();
  // Trees just sent are the parent trees of the next commit: read each once.
  const reader = recentTrees(objects);
  const commitTree = async (oid: string): Promise<string | undefined> => {
    const known = treeOf.get(oid);
    if (known) return known;
    const object = await objects.readObject(oid).catch(() => undefined);
    if (object?.type !== "commit") return undefined;
    return parseCommit(oid, object.content).tree;
  };
  for (const oid of commits) {
    signal?.throwIfAborted();
    const object = await objects.readObject(oid);
    const commit = parseCommit(oid, object.content);
    treeOf.set(oid, commit.tree);
    // Bounded: trees of blocks long past are not needed again.
    if (treeOf.size > 4096) treeOf.delete(treeOf.keys().next().value!);
    sent.add(oid);
    yield { oid, ...object };
    const parentTrees: string[] = [];
    for (const p of commit.parents) {
      const tree = await commitTree(p);
      if (tree) parentTrees.push(tree);
    }
    yield* newObjects(reader, commit.tree, parentTrees, sent);
    if (sent.size > 200_000) sent.clear();
  }
}

/** Reads trees through a small cache of parsed entries (bounded); other objects pass through. */
interface TreeCache {
  objects: ObjectReader;
  tree(oid: string): Promise<{ object: GitObject; entries: TreeEntry[] }>;
}

function recentTrees(objects: ObjectReader, limit = 1024): TreeCache {
  const cache = new Map<string, { object: GitObject; entries: TreeEntry[] }>();
  return {
    objects,
    async tree(oid) {
      const hit = cache.get(oid);
      if (hit) return hit;
      const object = await objects.readObject(oid);
      const value = { object, entries: parseTree(oid, object.content) };
      cache.set(oid, value);
      if (cache.size > limit) cache.delete(cache.keys().next().value!);
      return value;
    },
  };
}

async function* newObjects(
  reader: TreeCache,
  tree: string,
  parentTrees: string[],
  sent: Set<string>,
): AsyncGenerator<WalkedObject> {
  if (parentTrees.includes(tree) || sent.has(tree)) return;
  const { object, entries } = await reader.tree(tree);
  sent.add(tree);
  yield { oid: tree, ...object };
  const parents: Map<string, TreeEntry>[] = [];
  for (const p of parentTrees) {
    const { entries: before } = await reader.tree(p);
    parents.push(new Map(before.map((e) => [e.name, e])));
  }
  for (const entry of entries) {
    const before = parents.map((m) => m.get(entry.name)).filter((e) => e !== undefined);
    if (before.some((e) => e.oid === entry.oid) || sent.has(entry.oid)) continue;
    if (entry.mode === "40000") {
      yield* newObjects(
        reader,
        entry.oid,
        before.filter((e) => e.mode === "40000").map((e) => e.oid),
        sent,
      );
    } else {
      sent.add(entry.oid);
      yield { oid: entry.oid, ...(await reader.objects.readObject(entry.oid)) };
    }
  }
}

/**
 * Reads through `objects`, keeping up to `limit` commit objects once read:
 * serving a fetch walks the commits (`missingHistory`) and then reads each
 * again (`objectsOf`); with this the second pass costs no disk read.
 */
export function commitCache(objects: ObjectReader, limit = 20_000): ObjectReader {
  const cache = new Map<string, GitObject>();
  return {
    async readObject(oid) {
      const hit = cache.get(oid);
      if (hit) return hit;
      const object = await objects.readObject(oid);
      if (object.type === "commit" && cache.size < limit) cache.set(oid, object);
      return object;
    },
    async hasObject(oid) {
      return cache.has(oid) || objects.hasObject(oid);
    },
  };
}
