import { IdleRelease } from "./idle-release.ts";
import type { ObjectReader, TreeEntry } from "./repository.ts";
import { MalformedTreeError, parseTree } from "./tree.ts";

export interface FileEntry {
  path: string;
  oid: string;
  mode: TreeEntry["mode"];
}

/**
 * Reads trees and files out of an object store, keeping parsed trees in a
 * cache: verification walks the same folders block after block. The cache is
 * bounded by entries, not trees (a folder of daily logs holds hundreds), and
 * keeps the most recently read: a long-running node verifies block after
 * block for months, and its memory must not grow with the history (measured
 * before: about 10 KiB per block of a ledger whose logs sit 100 to a folder).
 * The cache is emptied once unused for `idleMs`: it serves bursts (a start-up
 * verifying the history, a sync), and an idle node should not hold the last
 * burst's 100,000 entries (about 13 MB) until the next.
 */
export class TreeReader {
  readonly objects: ObjectReader;
  readonly #trees = new Map<string, TreeEntry[]>();
  readonly #maxEntries: number;
  readonly #idle: IdleRelease;
  /** See `staging`: trees not staged are read through this reader (and its cache). */
  readonly #stored: { reader: TreeReader; staged: (oid: string) => boolean } | undefined;
  #entries = 0;

  constructor(
    objects: ObjectReader,
    {
      maxEntries = 100_000,
      idleMs = 5_000,
      stored,
    }: {
      maxEntries?: number;
      idleMs?: number;
      stored?: { reader: TreeReader; staged: (oid: string) => boolean };
    } = {},
  ) {
    this.objects = objects;
    this.#stored = stored;
    this.#maxEntries = maxEntries;
    this.#idle = new IdleRelease(idleMs, () => {
      this.#trees.clear();
      this.#entries = 0;
    });
  }

  /** How many parsed trees the cache holds (for tests). */
  get cachedTrees(): number {
    return this.#trees.size;
  }

  /**
   * A reader of `staged` objects (a block being written, not stored yet)
   * over this one: trees that are stored come from this reader's cache, the
   * staged ones are parsed and kept apart, so a block that is refused leaves
   * nothing in this reader's cache.
   */
  staging(staged: ObjectReader & { holds(oid: string): boolean }): TreeReader {
    return new TreeReader(staged, {
      stored: { reader: this, staged: (oid) => staged.holds(oid) },
    });
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    if (this.#stored && !this.#stored.staged(oid)) return this.#stored.reader.readTree(oid);
    this.#idle.touch();
    const cached = this.#trees.get(oid);
    if (cached) {
      // Most recently used last: eviction takes from the front.
      this.#trees.delete(oid);
      this.#trees.set(oid, cached);
      return cached;
    }
    const object = await this.objects.readObject(oid);
    if (object.type !== "tree")
      throw new MalformedTreeError(oid, `expected a tree, found a ${object.type}`);
    const entries = parseTree(oid, object.content);
    // A tree may have been read meanwhile by another caller.
    if (!this.#trees.has(oid)) {
      this.#trees.set(oid, entries);
      this.#entries += entries.length;
    }
    for (const [old, list] of this.#trees) {
      if (this.#entries <= this.#maxEntries || this.#trees.size === 1) break;
      this.#trees.delete(old);
      this.#entries -= list.length;
    }
    return entries;
  }

  /** The entry at a slash-separated path, or undefined. */
  async entryAt(treeOid: string, path: string): Promise<TreeEntry | undefined> {
    const parts = path.split("/");
    let current = treeOid;
    for (let i = 0; i < parts.length; i++) {
      const entry = (await this.readTree(current)).find((e) => e.name === parts[i]);
      if (!entry) return undefined;
      if (i === parts.length - 1) return entry;
      if (entry.mode !== "40000") return undefined;
      current = entry.oid;
    }
    return undefined;
  }

  async readFile(treeOid: string, path: string): Promise<Uint8Array | undefined> {
    const entry = await this.entryAt(treeOid, path);
    if (!entry || entry.mode === "40000") return undefined;
    const object = await this.objects.readObject(entry.oid);
    if (object.type !== "blob") throw new MalformedTreeError(treeOid, `'${path}' is not a blob`);
    return object.content;
  }

  /** Every file under a folder (recursively), as paths relative to the root. */
  async listFiles(treeOid: string, prefix = ""): Promise<FileEntry[]> {
    const start = prefix
      ? await this.entryAt(treeOid, prefix.replace(/\/$/, ""))
      : { oid: treeOid, mode: "40000" as const, name: "" };
    if (start?.mode !== "40000") return [];
    const files: FileEntry[] = [];
    const walk = async (oid: string, base: string) => {
      for (const entry of await this.readTree(oid)) {
        const path = base ? `${base}/${entry.name}` : entry.name;
        if (entry.mode === "40000") await walk(entry.oid, path);
        else files.push({ path, oid: entry.oid, mode: entry.mode });
      }
    };
    await walk(start.oid, prefix.replace(/\/$/, ""));
    return files;
  }

  async readFiles(treeOid: string, prefix: string): Promise<Map<string, Uint8Array>> {
    const files = new Map<string, Uint8Array>();
    for (const file of await this.listFiles(treeOid, prefix)) {
      const object = await this.objects.readObject(file.oid);
      files.set(file.path, object.content);
    }
    return files;
  }
}
