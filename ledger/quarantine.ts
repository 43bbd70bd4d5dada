import { GdoError } from "./errors.ts";
import { objectId } from "./object-codec.ts";
import type { PackedObject } from "./pack.ts";
import type { GitObject, ObjectReader, ObjectType, Repository, TreeEntry } from "./repository.ts";
import { encodeTree } from "./tree.ts";
import type { ObjectWriter } from "./tree-builder.ts";

/** A peer sent more than the quarantine may hold before verification. */
export class QuarantineFullError extends GdoError {
  constructor(limit: number) {
    super(
      "quarantine-full",
      `received objects exceed the quarantine limit of ${limit} bytes; fetch in smaller batches`,
      { limit },
    );
  }
}

/** A received object whose type gdo never stores (tags) or that is malformed. */
export class UnacceptableObjectError extends GdoError {
  constructor(reason: string) {
    super("unacceptable-object", `received object refused: ${reason}`, { reason });
  }
}

const ACCEPTED = new Set<ObjectType>(["blob", "tree", "commit"]);

/**
 * Objects held in memory until the blocks that name them verify: those
 * received from a peer, and those of a block being written here. It reads as
 * an overlay over the repository (quarantined objects first), so a verifier
 * reading it judges the new blocks exactly as it would once stored, while
 * nothing has touched the repository yet. `flush` then stores them (a pack or
 * loose objects); a quarantine that fails verification is simply dropped,
 * and leaves nothing behind: a refused block's files would otherwise stay in
 * the repository for good (a door that keeps writing where policy forbids
 * would grow its ledger at every try).
 *
 * Ids are computed here from the bytes, never taken from the peer, so an
 * object cannot be smuggled in under another object's name.
 */
export class Quarantine implements ObjectReader, ObjectWriter {
  readonly base: ObjectReader;
  readonly maxBytes: number;
  readonly #objects = new Map<string, GitObject>();
  #bytes = 0;

  constructor({ base, maxBytes = 512 * 1024 * 1024 }: { base: ObjectReader; maxBytes?: number }) {
    this.base = base;
    this.maxBytes = maxBytes;
  }

  /** Bytes of object content held. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#objects.size;
  }

  /** Adds a received object; returns its id. Duplicates are kept once. */
  add(type: ObjectType, content: Uint8Array): string {
    if (!ACCEPTED.has(type)) throw new UnacceptableObjectError(`type '${type}' is not accepted`);
    const oid = objectId(type, content);
    if (this.#objects.has(oid)) return oid;
    if (this.#bytes + content.length > this.maxBytes) throw new QuarantineFullError(this.maxBytes);
    this.#objects.set(oid, { type, content });
    this.#bytes += content.length;
    return oid;
  }

  async writeBlob(content: Uint8Array): Promise<string> {
    return this.add("blob", content);
  }

  async writeTree(entries: TreeEntry[]): Promise<string> {
    return this.add("tree", encodeTree(entries));
  }

  holds(oid: string): boolean {
    return this.#objects.has(oid);
  }

  oids(): IterableIterator<string> {
    return this.#objects.keys();
  }

  async readObject(oid: string): Promise<GitObject> {
    return this.#objects.get(oid) ?? this.base.readObject(oid);
  }

  async hasObject(oid: string): Promise<boolean> {
    return this.#objects.has(oid) || this.base.hasObject(oid);
  }

  /** Forgets everything (a failed verification). */
  clear(): void {
    this.#objects.clear();
    this.#bytes = 0;
  }

  /**
   * Writes every held object the repository lacks, then forgets them. A large
   * batch (a first sync) becomes one pack: thousands of small files cost more
   * to write, and later to read, than the objects themselves. A small one
   * becomes loose objects, which `Repository.packIfDue` packs later. Either
   * way a crash leaves whole objects or none, and with a durable repository
   * they are on disk before this returns, i.e. before any ref may name them.
   */
  async flush(repo: Repository): Promise<{ written: number; bytes: number }> {
    const fresh: PackedObject[] = [];
    let bytes = 0;
    for (const [oid, object] of this.#objects) {
      if (repo.storesObject(oid)) continue;
      fresh.push({ oid, type: object.type, content: object.content });
      bytes += object.content.length;
    }
    if (fresh.length >= PACK_FROM) repo.writePack(fresh);
    else {
      repo.writeLoose(fresh);
      repo.packIfDue();
    }
    this.clear();
    return { written: fresh.length, bytes };
  }
}

/** Batches of at least this many objects are stored as a pack. */
const PACK_FROM = 64;
