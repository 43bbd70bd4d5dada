import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { FileEdit } from "../ledger/tree-builder.ts";

/**
 * The files of a local folder as edits under a ledger prefix (e.g. the
 * project's `rfcs/` becoming the genesis archive). Hidden files are skipped.
 */
export async function folderAsEdits(dir: string, prefix: string): Promise<FileEdit[]> {
  const edits: FileEdit[] = [];
  const walk = async (current: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith(".")) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        edits.push({
          path: `${prefix}/${relative(dir, path).split("\\").join("/")}`,
          content: await readFile(path),
        });
      }
    }
  };
  await walk(dir);
  return edits;
}
