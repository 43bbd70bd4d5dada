/**
 * The blob pointer files (`*.blob`) in a ledger tree, listed again for
 * another tree (the next block, another branch's head) by walking only the
 * folders that differ from the last one listed.
 *
 * Git trees are named by their content, so a folder whose tree id is the
 * one seen last time holds the same pointer files as then. A door's log
 * line changes the handful of trees on its path; listing every file of a
 * 10,000-file tree after each swipe cost a door node the whole walk, and
 * after the first pass of an idle node, 13 MB of resident memory that
 * stayed (the walk's garbage grew V8's young generation).
 */
import type { FileEntry, TreeReader } from "../tree-reader.ts";
import { POINTER_SUFFIX } from "./manifest.ts";

const NONE: readonly FileEntry[] = Object.freeze([]);

export class PointerFiles {
  /** Pointer files below each tree walked last time, by tree id (paths relative to it). */
  #byTree = new Map<string, readonly FileEntry[]>();

  /** Every pointer file in the tree `root`, with its path from the root. */
  async list(reader: Pick<TreeReader, "readTree">, root: string): Promise<readonly FileEntry[]> {
    // Only trees under this root are kept, so the memo never outgrows one tree.
    const seen = new Map<string, readonly FileEntry[]>();
    const walk = async (oid: string): Promise<readonly FileEntry[]> => {
      const known = seen.get(oid) ?? this.#byTree.get(oid);
      if (known) {
        seen.set(oid, known);
        return known;
      }
      const found: FileEntry[] = [];
      for (const entry of await reader.readTree(oid)) {
        if (entry.mode === "40000") {
          for (const below of await walk(entry.oid)) {
            found.push({ ...below, path: `${entry.name}/${below.path}` });
          }
        } else if (entry.name.endsWith(POINTER_SUFFIX)) {
          found.push({ path: entry.name, oid: entry.oid, mode: entry.mode });
        }
      }
      const files = found.length > 0 ? found : NONE;
      seen.set(oid, files);
      return files;
    };
    const files = await walk(root);
    this.#byTree = seen;
    return files;
  }
}
