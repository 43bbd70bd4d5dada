import type { TreeView } from "./api.ts";

/**
 * A TreeView over an in-memory record of path → content (strings are UTF-8
 * encoded). For tests, and for validating planned content before it is written.
 */
export function memoryTree(files: Record<string, string | Uint8Array> = {}): TreeView {
  const encoder = new TextEncoder();
  const entries = new Map(
    Object.entries(files).map(([path, content]) => [
      path,
      typeof content === "string" ? encoder.encode(content) : content,
    ]),
  );
  return {
    async read(path) {
      return entries.get(path);
    },
    async list(prefix) {
      const folder = prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`;
      return [...entries.keys()].filter((p) => p.startsWith(folder)).sort();
    },
  };
}
