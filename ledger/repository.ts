import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { dirname, join } from "node:path";
import type { PromiseFsClient } from "isomorphic-git";
import { fsyncPathSync } from "./atomic-file.ts";
import { GdoError, NotFoundError, VerificationError } from "./errors.ts";
import {
  CorruptObjectError,
  decodeLoose,
  encodeLoose,
  type GitObject,
  type ObjectType,
  objectId,
} from "./object-codec.ts";
import { type PackedObject, PackFile, writePack } from "./pack.ts";
import { encodeTree } from "./tree.ts";

export { CorruptObjectError, type GitObject, type ObjectType };

/** Read side of a ledger repository: what verification needs, nothing more. */
export interface ObjectReader {
  readObject(oid: string): Promise<GitObject>;
  hasObject(oid: string): Promise<boolean>;
}

export class MissingObjectError extends VerificationError {
  constructor(oid: string, context?: string) {
    super("missing-object", `object ${oid} is missing${context ? ` (${context})` : ""}`, {
      oid,
      context,
    });
  }
}

/** Another writer moved the ref between our read and our update. */
export class RefConflictError extends GdoError {
  constructor(ref: string, expected: string | undefined, actual: string | undefined) {
    super(
      "ref-conflict",
      `ref ${ref} moved concurrently (expected ${expected ?? "none"}, found ${actual ?? "none"}); retry`,
      { ref, expected, actual },
    );
  }
}

const OID = /^[0-9a-f]{40}$/;

export function isOid(value: string): boolean {
  return OID.test(value);
}

/**
 * Writes a file so that a crash (or kill -9) leaves either the old file or the
 * new one, never a partial one: temp file in the same folder, optional fsync,
 * rename over the target.
 */
function writeFileReplacing(
  path: string,
  data: Uint8Array | string,
  durable: boolean,
  mode = 0o644,
) {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = fs.openSync(tmp, "wx", mode);
  try {
    fs.writeFileSync(fd, data);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, path);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

/**
 * isomorphic-git, loaded only to create a repository: a node that opens one
 * never needs it (2.5 MiB of heap, 18 MB of RSS to load).
 */
let isomorphicGit: Promise<typeof import("isomorphic-git").default> | undefined;
function git(): Promise<typeof import("isomorphic-git").default> {
  isomorphicGit ??= import("isomorphic-git").then((module) => module.default);
  return isomorphicGit;
}

/**
 * The fs isomorphic-git writes through when it creates a repository: sync
 * calls behind promises (no thread-pool round trip each), each write
 * temp-file-and-rename.
 */
function ledgerFs(durable: boolean): PromiseFsClient {
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => R) =>
    async (...args: A): Promise<R> =>
      fn(...args);
  return {
    promises: {
      readFile: wrap(fs.readFileSync),
      writeFile: wrap((path: string, data: Uint8Array | string) =>
        writeFileReplacing(path, data, durable),
      ),
      unlink: wrap(fs.unlinkSync),
      readdir: wrap(fs.readdirSync),
      mkdir: wrap(fs.mkdirSync),
      rmdir: wrap(fs.rmdirSync),
      stat: wrap(fs.statSync),
      lstat: wrap(fs.lstatSync),
      readlink: wrap(fs.readlinkSync),
      symlink: wrap(fs.symlinkSync),
      chmod: wrap(fs.chmodSync),
    },
  };
}

/**
 * A bare git repository holding the ledger. Objects are written as loose
 * files, each to a temp file renamed into place (`writeLoose`), or as packs;
 * isomorphic-git only creates the repository. Refs are updated by this class
 * with a lock file and compare-and-swap.
 */
export class Repository implements ObjectReader {
  readonly gitdir: string;
  readonly durable: boolean;
  readonly #fs: PromiseFsClient;
  /** `<gitdir>/objects/`, for the loose-object fast path. */
  readonly #objects: string;
  /** Packs in `objects/pack`, opened lazily; rescanned when a lookup misses. */
  #packs: PackFile[] | undefined;
  /** Loose objects this process wrote since it last packed (see `packIfDue`). */
  #looseWritten = 0;
  /** Estimated loose objects present when first asked (git's sampling of one fan-out folder). */
  #looseAtOpen: number | undefined;

  private constructor(gitdir: string, durable: boolean) {
    this.gitdir = gitdir;
    this.durable = durable;
    this.#fs = ledgerFs(durable);
    this.#objects = join(gitdir, "objects", "/");
  }

  /** Opens an existing bare repository; `durable: false` skips fsync (benchmarks, tests). */
  static async open({ gitdir, durable = true }: { gitdir: string; durable?: boolean }) {
    try {
      await fsp.access(join(gitdir, "HEAD"));
      await fsp.access(join(gitdir, "objects"));
    } catch {
      throw new NotFoundError(`no ledger repository at ${gitdir}`, { gitdir });
    }
    return new Repository(gitdir, durable);
  }

  static async init({ gitdir, durable = true }: { gitdir: string; durable?: boolean }) {
    await fsp.mkdir(gitdir, { recursive: true });
    const repo = new Repository(gitdir, durable);
    await (await git()).init({
      fs: repo.#fs,
      dir: gitdir,
      gitdir,
      bare: true,
      defaultBranch: "main",
    });
    return repo;
  }

  get fs() {
    return this.#fs;
  }

  async writeBlob(content: Uint8Array): Promise<string> {
    return this.writeObject("blob", content);
  }

  async writeTree(entries: TreeEntry[]): Promise<string> {
    return this.writeObject("tree", encodeTree(entries));
  }

  /** Stores one object as a loose file (see `writeLoose`); returns its id. */
  async writeObject(type: ObjectType, content: Uint8Array): Promise<string> {
    const oid = objectId(type, content);
    this.writeLoose([{ oid, type, content }]);
    return oid;
  }

  async hasObject(oid: string): Promise<boolean> {
    if (!OID.test(oid)) throw new CorruptObjectError(oid, "not a 40-hex object id");
    if (this.#packed(oid)) return true;
    // A loose object is read and re-hashed: a damaged one is an error, not "present".
    if (this.#fromLoose(oid)) return true;
    // A concurrent repack may have just moved it from loose into a new pack.
    return this.#rescanPacks() && this.#packed(oid);
  }

  /**
   * Reads and checks an object: packed or loose, inflated and re-hashed
   * against its id. Synchronous underneath (a positioned read or a small
   * file), because verification reads every object of the ledger and a
   * thread-pool round trip per object cost more than the read.
   */
  async readObject(oid: string): Promise<GitObject> {
    return this.readObjectSync(oid);
  }

  readObjectSync(oid: string): GitObject {
    if (!OID.test(oid)) throw new CorruptObjectError(oid, "not a 40-hex object id");
    const found = this.#fromPacks(oid) ?? this.#fromLoose(oid);
    if (found) return found;
    // A concurrent repack may have just moved it from loose into a new pack.
    if (this.#rescanPacks()) {
      const again = this.#fromPacks(oid) ?? this.#fromLoose(oid);
      if (again) return again;
    }
    throw new MissingObjectError(oid);
  }

  #fromLoose(oid: string): GitObject | undefined {
    const deflated = readLoose(this.#loosePath(oid));
    return deflated ? decodeLoose(oid, deflated) : undefined;
  }

  #baseDepth = 0;

  /** A REF_DELTA's base, by id; a chain that loops back on itself is corrupt, not a stack overflow. */
  readonly #baseLookup = (oid: string): GitObject => {
    if (this.#baseDepth > MAX_BASE_DEPTH)
      throw new CorruptObjectError(oid, "delta bases refer to each other in a loop");
    this.#baseDepth++;
    try {
      return this.readObjectSync(oid);
    } finally {
      this.#baseDepth--;
    }
  };

  #fromPacks(oid: string): GitObject | undefined {
    for (const pack of this.#packList()) {
      const object = pack.read(oid, this.#baseLookup);
      if (object) return object;
    }
    return undefined;
  }

  #packed(oid: string): boolean {
    return this.#packList().some((pack) => pack.has(oid));
  }

  #packList(): PackFile[] {
    if (!this.#packs) this.#rescanPacks();
    return this.#packs!;
  }

  /**
   * Picks up packs added or removed by other writers; true if anything
   * changed. The folder is listed each time: its mtime cannot tell, since two
   * packs written within one clock tick leave it unchanged.
   */
  #rescanPacks(): boolean {
    const dir = join(this.#objects, "pack");
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      names = [];
    }
    const wanted = new Set(
      names.filter((n) => n.endsWith(".idx") && n.startsWith("pack-")).map((n) => n.slice(0, -4)),
    );
    const kept: PackFile[] = [];
    let changed = this.#packs === undefined;
    for (const pack of this.#packs ?? []) {
      if (wanted.has(pack.name)) {
        kept.push(pack);
        wanted.delete(pack.name);
      } else {
        pack.close();
        changed = true;
      }
    }
    for (const name of wanted) {
      const pack = PackFile.open(dir, name);
      if (pack) {
        kept.push(pack);
        changed = true;
      }
    }
    // The largest pack holds most objects: ask it first.
    this.#packs = kept.sort((a, b) => b.count - a.count);
    return changed;
  }

  /**
   * Stores objects (with ids the caller computed from their bytes) as one
   * pack. The pack is complete and, when durable, on disk before this
   * returns, i.e. before any ref may name its objects.
   */
  writePack(objects: PackedObject[]): string {
    const name = writePack(join(this.#objects, "pack"), objects, {
      durable: this.durable,
      count: objects.length,
    });
    this.#rescanPacks();
    return name;
  }

  #loosePath(oid: string): string {
    return loosePath(this.#objects, oid);
  }

  /**
   * Stores objects (with ids the caller computed from their bytes) as loose
   * files, temp-then-rename each; with a durable repository every file and
   * touched folder is fsynced before this returns. Synchronous calls: a
   * loose object is a few small syscalls, and a thread-pool round trip per
   * call cost more.
   */
  writeLoose(objects: PackedObject[]): void {
    const touched = new Set<string>();
    for (const { oid, type, content } of objects) {
      const path = this.#loosePath(oid);
      const dir = dirname(path);
      fs.mkdirSync(dir, { recursive: true });
      writeFileReplacing(path, encodeLoose(type, content), this.durable, 0o444);
      touched.add(dir);
    }
    if (this.durable) for (const dir of touched) fsyncPathSync(dir);
    this.#looseWritten += objects.length;
  }

  /** Whether an object is stored, packed or loose (without reading it). */
  storesObject(oid: string): boolean {
    if (this.#packed(oid)) return true;
    return fs.existsSync(this.#loosePath(oid));
  }

  /**
   * Packs loose objects once enough have piled up (as `git gc --auto` does),
   * and merges the packs into one when there are many. Called when a ledger
   * is opened and after received objects are stored; cheap when nothing is due.
   */
  packIfDue({
    looseLimit = 2048,
    packLimit = 16,
  }: {
    looseLimit?: number;
    packLimit?: number;
  } = {}): void {
    if (this.#looseAtOpen === undefined) this.#looseAtOpen = estimateLoose(this.#objects);
    if (this.#looseAtOpen + this.#looseWritten < looseLimit) return;
    this.repack({ all: this.#packList().length >= packLimit });
  }

  /**
   * Moves every loose object (and with `all`, every pack) into one new pack,
   * then removes what it replaced. Readers that miss an object rescan the
   * packs, so a concurrent reader never sees it vanish. Another process
   * repacking at the same time makes this one a no-op.
   */
  repack({ all = false }: { all?: boolean } = {}): { objects: number; removedPacks: number } {
    const packDir = join(this.#objects, "pack");
    fs.mkdirSync(packDir, { recursive: true });
    const lock = join(packDir, "gdo-repack.lock");
    const fd = takeRepackLock(lock);
    if (fd === undefined) return { objects: 0, removedPacks: 0 };
    try {
      const loose = inWriteOrder(this.#objects, listLoose(this.#objects));
      // Oldest pack first, each in its own order: history stays in the order
      // it was written, so reading it in order goes through a pack front to back.
      const old = all ? this.#packList().toSorted((a, b) => a.written - b.written) : [];
      const fromPacks: string[] = [];
      const seen = new Set<string>();
      for (const pack of old) {
        for (const oid of pack.oids()) {
          if (!seen.has(oid)) fromPacks.push(oid);
          seen.add(oid);
        }
      }
      // Objects are read one at a time as the pack is written: holding them
      // all would take a long history's size in memory at once.
      const damaged = new Set<string>();
      let name: string | undefined;
      let packedLoose: string[] = [];
      let plan: string[] = [];
      while (name === undefined) {
        packedLoose = loose.filter((oid) => !damaged.has(oid));
        plan = [...fromPacks, ...packedLoose.filter((oid) => !seen.has(oid))];
        if (plan.length === 0) return { objects: 0, removedPacks: 0 };
        const read = this.#readForPack(plan, fromPacks.length, damaged);
        try {
          name = writePack(join(this.#objects, "pack"), read, {
            durable: this.durable,
            count: plan.length,
          });
        } catch (error) {
          // A damaged loose object stays where `gdo verify` will report it;
          // the pack is written again without the damaged ones (two passes at most).
          if (!(error instanceof DamagedLooseObject)) throw error;
        }
      }
      this.#rescanPacks();
      for (const oid of packedLoose) fs.rmSync(this.#loosePath(oid), { force: true });
      let removedPacks = 0;
      for (const pack of old) {
        if (pack.name === name) continue;
        // Index first: without it no reader looks at the pack.
        fs.rmSync(join(packDir, `${pack.name}.idx`), { force: true });
        fs.rmSync(join(packDir, `${pack.name}.pack`), { force: true });
        removedPacks++;
      }
      this.#rescanPacks();
      this.#looseAtOpen = 0;
      this.#looseWritten = 0;
      return { objects: plan.length, removedPacks };
    } finally {
      fs.closeSync(fd);
      fs.rmSync(lock, { force: true });
    }
  }

  /**
   * Reads the objects of `plan` in order for a pack; the first `fromPacks`
   * come from packs, the rest are loose. A damaged loose object is added to
   * `damaged` and skipped; the pass reads on, so that every damaged one is
   * found, and then fails (`DamagedLooseObject`): the pack's header already
   * counted them, and the next pass leaves them all out.
   */
  *#readForPack(plan: string[], fromPacks: number, damaged: Set<string>): Generator<PackedObject> {
    let first: string | undefined;
    for (let i = 0; i < plan.length; i++) {
      const oid = plan[i]!;
      let object: GitObject;
      try {
        object = this.readObjectSync(oid);
      } catch (error) {
        if (i < fromPacks || !(error instanceof CorruptObjectError)) throw error;
        damaged.add(oid);
        first ??= oid;
        continue;
      }
      if (first === undefined) yield { oid, ...object };
    }
    if (first !== undefined) throw new DamagedLooseObject(first);
  }

  async readRef(ref: string): Promise<string | undefined> {
    assertRefName(ref);
    try {
      const value = (await fsp.readFile(join(this.gitdir, ref), "utf8")).trim();
      if (!OID.test(value)) throw new CorruptObjectError(ref, `ref file holds '${value}'`);
      return value;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const packed = await this.#packedRefs();
    return packed.get(ref);
  }

  /** All refs under a prefix such as `refs/heads/`, as name → oid. */
  async listRefs(prefix = "refs/"): Promise<Map<string, string>> {
    if (prefix !== "refs/") assertRefName(prefix.replace(/\/$/, ""));
    const refs = new Map<string, string>();
    for (const [name, oid] of await this.#packedRefs())
      if (name.startsWith(prefix)) refs.set(name, oid);
    const walk = async (dir: string) => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(join(this.gitdir, dir), { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
        throw error;
      }
      for (const entry of entries) {
        const name = `${dir}/${entry.name}`;
        if (entry.isDirectory()) await walk(name);
        else if (!entry.name.endsWith(".lock") && !entry.name.endsWith(".tmp")) {
          const value = (await fsp.readFile(join(this.gitdir, name), "utf8")).trim();
          if (OID.test(value)) refs.set(name, value);
        }
      }
    };
    await walk(prefix.replace(/\/$/, ""));
    return refs;
  }

  /**
   * Moves a ref atomically if it still points at `expected` (undefined: must
   * not exist). The lock file is git's own convention, so stock git and gdo
   * never move the same ref at once.
   */
  async updateRef({
    ref,
    oid,
    expected,
  }: {
    ref: string;
    oid: string;
    expected: string | undefined;
  }) {
    assertRefName(ref);
    if (!OID.test(oid)) throw new CorruptObjectError(oid, "not a 40-hex object id");
    const path = join(this.gitdir, ref);
    await fsp.mkdir(dirname(path), { recursive: true });
    const lock = `${path}.lock`;
    const handle = await acquireLock(lock, () => new RefConflictError(ref, expected, "locked"));
    try {
      const actual = await this.readRef(ref);
      if (actual !== expected) throw new RefConflictError(ref, expected, actual);
      await handle.writeFile(`${oid}\n`);
      if (this.durable) await handle.sync();
      await handle.close();
      await fsp.rename(lock, path);
    } catch (error) {
      await handle.close().catch(() => {});
      await fsp.rm(lock, { force: true });
      throw error;
    }
  }

  async #packedRefs(): Promise<Map<string, string>> {
    const refs = new Map<string, string>();
    let text: string;
    try {
      text = await fsp.readFile(join(this.gitdir, "packed-refs"), "utf8");
    } catch {
      return refs;
    }
    for (const line of text.split("\n")) {
      const match = /^([0-9a-f]{40}) (refs\/\S+)$/.exec(line);
      if (match) refs.set(match[2]!, match[1]!);
    }
    return refs;
  }
}

/** A live writer holds a ref lock for milliseconds; one older than this was left by a crash. */
const STALE_LOCK_MS = 2_000;

/**
 * Takes git's `<ref>.lock`. A writer killed while holding it leaves it behind,
 * which would block every later write, so a lock that stays untouched past
 * STALE_LOCK_MS is removed and taken over.
 */
async function acquireLock(lock: string, busy: () => Error): Promise<fsp.FileHandle> {
  const deadline = Date.now() + STALE_LOCK_MS * 2;
  for (;;) {
    try {
      return await fsp.open(lock, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const stat = await fsp.stat(lock).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > STALE_LOCK_MS) {
      await fsp.rm(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw busy();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface TreeEntry {
  mode: "100644" | "100755" | "40000" | "120000" | "160000";
  name: string;
  oid: string;
}

let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads a loose object file into a reused buffer (no stat, no allocation per
 * object; verification reads every object of the ledger). Undefined when the
 * object is not loose. The bytes are valid until the next call.
 */
function readLoose(path: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    let length = 0;
    for (;;) {
      if (length === scratch.length) {
        const bigger = Buffer.allocUnsafe(scratch.length * 2);
        scratch.copy(bigger, 0, 0, length);
        scratch = bigger;
      }
      const n = fs.readSync(fd, scratch, length, scratch.length - length, null);
      if (n === 0) return scratch.subarray(0, length);
      length += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Ends a repack pass that met a damaged loose object; the next pass leaves it out. */
class DamagedLooseObject extends Error {
  constructor(oid: string) {
    super(`loose object ${oid} is damaged`);
  }
}

/** How many REF_DELTA bases one read may follow. */
const MAX_BASE_DEPTH = 1000;

/** A repack lock older than this was left by a crash. */
const STALE_REPACK_MS = 10 * 60_000;

/** The repack lock's descriptor, or undefined while another live repack holds it. */
function takeRepackLock(lock: string): number | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      return fs.openSync(lock, "wx", 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0);
    if (age <= STALE_REPACK_MS) return undefined;
    // Left by a repack that crashed: take it over.
    fs.rmSync(lock, { force: true });
  }
  return undefined;
}

/** Loose object ids under `objects/` (not in packs). */
function listLoose(objects: string): string[] {
  const oids: string[] = [];
  for (let b = 0; b < 256; b++) {
    const dir = b.toString(16).padStart(2, "0");
    let names: string[];
    try {
      names = fs.readdirSync(`${objects}${dir}`);
    } catch {
      continue;
    }
    for (const name of names) if (name.length === 38 && OID.test(dir + name)) oids.push(dir + name);
  }
  return oids;
}

/**
 * Loose objects ordered by when they were written: a block's objects are
 * written together, so a pack in this order keeps each block's objects side by
 * side, as readers walking the history want them.
 */
function inWriteOrder(objects: string, oids: string[]): string[] {
  const written = new Map<string, bigint>();
  for (const oid of oids) {
    const stat = fs.statSync(loosePath(objects, oid), {
      bigint: true,
      throwIfNoEntry: false,
    });
    written.set(oid, stat?.mtimeNs ?? 0n);
  }
  return oids.toSorted((a, b) => {
    const d = written.get(a)! - written.get(b)!;
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
}

/** `objects/ab/cdef…`: where git keeps a loose object. */
function loosePath(objects: string, oid: string): string {
  return `${objects}${oid.slice(0, 2)}/${oid.slice(2)}`;
}

/** git's estimate: the loose objects in one fan-out folder times 256. */
function estimateLoose(objects: string): number {
  try {
    return fs.readdirSync(`${objects}17`).filter((n) => n.length === 38).length * 256;
  } catch {
    return 0;
  }
}

const REF = /^(HEAD|refs(\/[A-Za-z0-9._-]+)+)$/;

/** Ref names come from peers and the command line: no `..`, no escaping gitdir. */
export function assertRefName(ref: string): void {
  if (
    !REF.test(ref) ||
    ref
      .split("/")
      .some(
        (part) => part === "." || part === ".." || part.startsWith(".") || part.endsWith(".lock"),
      )
  ) {
    throw new GdoError("bad-ref-name", `'${ref}' is not an acceptable ref name`, { ref });
  }
}
