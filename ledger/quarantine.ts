import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { GdoError } from "./errors.ts";
import type { GitObject, ObjectReader, ObjectType, Repository } from "./repository.ts";

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

/** The git object id of content of a type: SHA-1 of `<type> <len>\0<content>`. */
export function objectId(type: ObjectType, content: Uint8Array): string {
  return createHash("sha1").update(`${type} ${content.length}\0`).update(content).digest("hex");
}

/**
 * Objects received from a peer, held in memory until the blocks that name them
 * verify. It reads as an overlay over the repository (quarantined objects
 * first), so `new Verifier({ objects: quarantine })` judges the received
 * history exactly as it would once stored, while nothing has touched the
 * repository yet. `flush` then writes them as loose objects; a quarantine that
 * fails verification is simply dropped.
 *
 * Ids are computed here from the bytes, never taken from the peer, so an
 * object cannot be smuggled in under another object's name.
 */
export class Quarantine implements ObjectReader {
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
   * Writes every held object into the repository as a loose object (the
   * layout git and `Repository` read), skipping ones already there, then
   * forgets them. Each file is temp-then-rename, so a crash leaves whole
   * objects or none; with a durable repository every file and touched folder
   * is fsynced before this returns, i.e. before any ref may name them.
   */
  async flush(repo: Repository): Promise<{ written: number; bytes: number }> {
    let written = 0;
    let bytes = 0;
    const entries = [...this.#objects];
    // One syncfs for a large batch instead of an fsync per object (thousands
    // of fsyncs dominate a first sync); objects are still durable before any
    // ref names them. Where `sync -f` is missing, every file is fsynced.
    const bulkSync = repo.durable && entries.length > 64 && canSyncFs();
    // Which objects exist is read once per fan-out folder (at most 256
    // listings) instead of one access(2) per object.
    const present = new Map<string, Set<string>>();
    const listed = (dir: string): Set<string> => {
      let names = present.get(dir);
      if (!names) {
        try {
          names = new Set(fs.readdirSync(dir));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
          fs.mkdirSync(dir, { recursive: true });
          names = new Set();
        }
        present.set(dir, names);
      }
      return names;
    };
    const touched = new Set<string>();
    const tag = `${process.pid}.${randomBytes(4).toString("hex")}`;
    // Synchronous calls: a loose object is a few small syscalls, and going
    // through the thread pool per call cost more than the calls themselves.
    // The event loop gets a turn every YIELD_EVERY objects.
    const YIELD_EVERY = 256;
    for (let i = 0; i < entries.length; i++) {
      if (i > 0 && i % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
      const [oid, object] = entries[i]!;
      const dir = join(repo.gitdir, "objects", oid.slice(0, 2));
      const names = listed(dir);
      const name = oid.slice(2);
      if (names.has(name)) continue;
      const deflated = looseBytes(object.type, object.content);
      const path = join(dir, name);
      const tmp = `${path}.${tag}.${i}.tmp`;
      const fd = fs.openSync(tmp, "wx", 0o444);
      try {
        fs.writeFileSync(fd, deflated);
        if (repo.durable && !bulkSync) fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, path);
      names.add(name);
      touched.add(dir);
      written++;
      bytes += deflated.length;
    }
    if (bulkSync) syncFs(repo.gitdir);
    else if (repo.durable) {
      for (const dir of touched) {
        const handle = await fsp.open(dir, "r");
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
    }
    this.clear();
    return { written, bytes };
  }
}

/** Below this size an object is stored (zlib stored blocks), not compressed. */
const STORE_BELOW = 4096;

/**
 * A loose object's file: zlib of `<type> <len>\0<content>`. Small objects (a
 * ledger's blocks, trees and most files) are written as zlib *stored* blocks:
 * valid zlib any git inflates, without a deflate stream's setup cost, which
 * dominated writing tens of thousands of tiny objects; they would shrink
 * little anyway. Larger ones are deflated.
 */
export function looseBytes(type: ObjectType, content: Uint8Array): Buffer {
  const header = Buffer.from(`${type} ${content.length}\0`, "latin1");
  const raw = header.length + content.length;
  if (raw >= STORE_BELOW) {
    return deflateSync(Buffer.concat([header, content]), { level: 1 });
  }
  // zlib header (deflate, 32K window, no dictionary, check bits) | one final
  // stored block: BFINAL=1 BTYPE=00, LEN, ~LEN | data | Adler-32 of data.
  const out = Buffer.allocUnsafe(2 + 5 + raw + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  out[2] = 0x01;
  out.writeUInt16LE(raw, 3);
  out.writeUInt16LE(~raw & 0xffff, 5);
  header.copy(out, 7);
  out.set(content, 7 + header.length);
  let a = 1;
  let b = 0;
  for (let i = 7; i < 7 + raw; i++) {
    a = (a + out[i]!) % 65521;
    b = (b + a) % 65521;
  }
  out.writeUInt32BE(((b << 16) | a) >>> 0, 7 + raw);
  return out;
}

let syncFsAvailable: boolean | undefined;

/** Whether coreutils' `sync -f` (syncfs(2): flush one filesystem) is available. */
function canSyncFs(): boolean {
  if (syncFsAvailable === undefined) {
    syncFsAvailable =
      process.platform === "linux" &&
      // Probed on a filesystem with nothing to write: syncing "/" to find
      // out flushed the whole disk first.
      spawnSync("sync", ["-f", "/dev/null"], { stdio: "ignore", timeout: 30_000 }).status === 0;
  }
  return syncFsAvailable;
}

function syncFs(path: string): void {
  const result = spawnSync("sync", ["-f", path], { stdio: "ignore", timeout: 120_000 });
  if (result.status !== 0) throw new Error(`sync -f ${path} failed (status ${result.status})`);
}
