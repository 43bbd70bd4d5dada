import * as fsp from "node:fs/promises";

/**
 * The slice of `node:fs/promises` the blob store uses. The store takes it as an
 * argument (default: the real one) so tests can inject faults such as ENOSPC
 * in the middle of a write, the way a full disk really fails.
 */
export type StoreFs = Pick<
  typeof fsp,
  "open" | "rename" | "unlink" | "mkdir" | "readdir" | "stat" | "readFile" | "utimes"
>;

export const nodeStoreFs: StoreFs = fsp;

/** The errno code of a failed fs call (`ENOENT`, `ENOSPC`…), or undefined. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}
