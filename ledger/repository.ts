import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { dirname, join } from "node:path";
import { inflateSync } from "node:zlib";
import git, { type PromiseFsClient } from "isomorphic-git";
import { GdoError, NotFoundError, VerificationError } from "./errors.ts";

export type ObjectType = "blob" | "tree" | "commit" | "tag";

export interface GitObject {
  type: ObjectType;
  content: Uint8Array;
}

/** Read side of a ledger repository: what verification needs, nothing more. */
export interface ObjectReader {
  readObject(oid: string): Promise<GitObject>;
  hasObject(oid: string): Promise<boolean>;
}

export class CorruptObjectError extends VerificationError {
  constructor(oid: string, reason: string) {
    super("corrupt-object", `object ${oid} is corrupt: ${reason}`, { oid, reason });
  }
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
function writeFileReplacing(path: string, data: Uint8Array | string, durable: boolean) {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = fs.openSync(tmp, "wx", 0o644);
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
 * The fs isomorphic-git writes through. Its calls are small and many (an
 * existence check, a mkdir and a write per object); running them as sync
 * calls behind promises avoids a thread-pool round trip each, which made block
 * appends I/O-latency bound.
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
 * A bare git repository holding the ledger. Objects are written through
 * isomorphic-git's plumbing (writeBlob/writeTree/writeObject) with an fs whose
 * writes are temp-file-and-rename, because isomorphic-git writes loose objects
 * in place and never rewrites one that exists — a torn object would stick.
 * Refs are updated by this class with a lock file and compare-and-swap.
 */
export class Repository implements ObjectReader {
  readonly gitdir: string;
  readonly durable: boolean;
  readonly #fs: PromiseFsClient;
  readonly #cache: object = {};
  /** `<gitdir>/objects/`, for the loose-object fast path. */
  readonly #objects: string;

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
    await git.init({ fs: repo.#fs, dir: gitdir, gitdir, bare: true, defaultBranch: "main" });
    return repo;
  }

  get fs() {
    return this.#fs;
  }

  async writeBlob(content: Uint8Array): Promise<string> {
    return git.writeBlob({ fs: this.#fs, gitdir: this.gitdir, blob: content });
  }

  async writeTree(entries: TreeEntry[]): Promise<string> {
    return git.writeTree({
      fs: this.#fs,
      gitdir: this.gitdir,
      tree: entries.map((e) => ({
        mode: e.mode,
        path: e.name,
        oid: e.oid,
        type: e.mode === "40000" ? ("tree" as const) : ("blob" as const),
      })),
    });
  }

  async writeObject(type: ObjectType, content: Uint8Array): Promise<string> {
    return git.writeObject({
      fs: this.#fs,
      gitdir: this.gitdir,
      type,
      object: content,
      format: "content",
    });
  }

  async hasObject(oid: string): Promise<boolean> {
    try {
      await this.readObject(oid);
      return true;
    } catch (error) {
      if (error instanceof MissingObjectError) return false;
      throw error;
    }
  }

  /**
   * Reads and checks an object. Loose objects (what gdo writes) take a fast
   * path — read, inflate, re-hash — because verification reads every object
   * of the ledger; packed objects go through isomorphic-git.
   */
  async readObject(oid: string): Promise<GitObject> {
    if (!OID.test(oid)) throw new CorruptObjectError(oid, "not a 40-hex object id");
    const deflated = readLoose(`${this.#objects}${oid.slice(0, 2)}/${oid.slice(2)}`);
    if (deflated) return parseLooseObject(oid, deflated);
    try {
      const result = await git.readObject({
        fs: this.#fs,
        gitdir: this.gitdir,
        oid,
        format: "content",
        cache: this.#cache,
      });
      return { type: result.type as ObjectType, content: result.object as Uint8Array };
    } catch (error) {
      if ((error as { code?: string }).code === "NotFoundError") throw new MissingObjectError(oid);
      throw new CorruptObjectError(oid, (error as Error).message);
    }
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

function parseLooseObject(oid: string, deflated: Buffer): GitObject {
  let raw: Buffer;
  try {
    raw = inflateSync(deflated);
  } catch (error) {
    throw new CorruptObjectError(oid, `cannot inflate: ${(error as Error).message}`);
  }
  const actual = createHash("sha1").update(raw).digest("hex");
  if (actual !== oid) throw new CorruptObjectError(oid, `content hashes to ${actual}`);
  const nul = raw.indexOf(0);
  const header = raw.subarray(0, nul).toString("latin1");
  const match = /^(blob|tree|commit|tag) (0|[1-9][0-9]*)$/.exec(header);
  if (nul < 0 || !match) throw new CorruptObjectError(oid, "bad object header");
  const content = raw.subarray(nul + 1);
  if (content.length !== Number(match[2])) {
    throw new CorruptObjectError(oid, `header says ${match[2]} bytes, has ${content.length}`);
  }
  return { type: match[1] as ObjectType, content };
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
