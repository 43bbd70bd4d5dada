/**
 * Keeps gc from deleting a chunk that a put in flight has decided to reuse.
 *
 * The race: a put finds chunk X already stored, so it does not write it; gc,
 * which cannot see the put's manifest yet, deletes X; the put then publishes a
 * manifest that names a missing chunk. Both sides therefore announce
 * themselves with a file under `locks/` and then look for the other, in that
 * order (a Dekker-style handshake; create and readdir are atomic on a local
 * filesystem, so at least one side always sees the other):
 *
 *     put:  create locks/put.<pid>.<rand>  → gc.lock present? → withdraw, wait, retry
 *     gc:   create locks/gc.lock (O_EXCL)  → any put.* present? → wait for them to end
 *
 * Files left by a dead process (its pid no longer exists) are removed as stale.
 * Writers that span several calls (a peer fetching chunk by chunk) are covered
 * by gc's grace period on chunk mtime instead; see RFC 0004.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { StoreBusyError } from "./errors.ts";
import { errnoCode, type StoreFs } from "./store-fs.ts";

const PUT_FILE = /^put\.(\d+)\.[0-9a-f]{16}$/;
const GC_FILE = "gc.lock";
const POLL_MS = 25;

/** True if a process with this pid exists (EPERM: it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoCode(error) === "EPERM";
  }
}

/** How long a process keeps its writer registration after its last writer leaves. */
const LINGER_MS = 200;

export class StoreLock {
  private readonly fs: StoreFs;
  private readonly dir: string;
  // One registration file per process, shared by all its writers in flight
  // (a peer storing thousands of chunks must not pay three syscalls each),
  // kept a moment after the last one leaves for the same reason.
  private writers = 0;
  private registration: Promise<string> | undefined;
  private linger: NodeJS.Timeout | undefined;

  constructor({ fs, dir }: { fs: StoreFs; dir: string }) {
    this.fs = fs;
    this.dir = dir;
  }

  /**
   * Announces a writer (put, received manifest or chunk) and returns its
   * release function; waits while a gc holds the store. While this process
   * already has a registration, gc is waiting for it or not running, so a
   * new writer can join it without looking for gc.lock again.
   */
  async enterWriter({
    signal,
    waitMs = 10 * 60_000,
  }: {
    signal?: AbortSignal;
    waitMs?: number;
  } = {}): Promise<() => Promise<void>> {
    clearTimeout(this.linger);
    this.linger = undefined;
    this.writers++;
    try {
      this.registration ??= this.register(signal, waitMs).catch((error) => {
        this.registration = undefined;
        throw error;
      });
      await this.registration;
    } catch (error) {
      this.leaveWriter();
      throw error;
    }
    let left = false;
    return async () => {
      if (left) return;
      left = true;
      this.leaveWriter();
    };
  }

  /** Removes this process's writer registration now (the store is closing). */
  async close(): Promise<void> {
    clearTimeout(this.linger);
    this.linger = undefined;
    if (this.writers === 0) await this.dropRegistration();
  }

  private leaveWriter(): void {
    if (--this.writers > 0) return;
    this.linger = setTimeout(() => {
      this.linger = undefined;
      if (this.writers === 0) void this.dropRegistration().catch(() => {});
    }, LINGER_MS);
    this.linger.unref();
  }

  private async dropRegistration(): Promise<void> {
    const registration = this.registration;
    this.registration = undefined;
    if (registration) await this.remove(await registration.catch(() => ""));
  }

  private async register(signal: AbortSignal | undefined, waitMs: number): Promise<string> {
    const started = Date.now();
    for (;;) {
      signal?.throwIfAborted();
      const path = join(this.dir, `put.${process.pid}.${randomBytes(8).toString("hex")}`);
      await this.create(path);
      const gc = await this.gcHolder();
      if (gc === undefined) return path;
      await this.remove(path);
      if (Date.now() - started > waitMs) {
        throw new StoreBusyError(`blob store ${this.dir}: gc (pid ${gc}) still running`, {
          store: this.dir,
          holder: `gc pid ${gc}`,
        });
      }
      await sleep(POLL_MS, undefined, { signal });
    }
  }

  /**
   * Takes the gc lock, then waits until no writer is in flight. Refuses at once
   * if another live gc holds the lock; gives up after `waitMs` if writers stay.
   */
  async enterGc({
    signal,
    waitMs = 60_000,
  }: {
    signal?: AbortSignal;
    waitMs?: number;
  } = {}): Promise<() => Promise<void>> {
    const path = join(this.dir, GC_FILE);
    for (;;) {
      try {
        await this.create(path);
        break;
      } catch (error) {
        if (errnoCode(error) !== "EEXIST") throw error;
        const holder = await this.gcHolder();
        if (holder !== undefined) {
          const who = holder < 0 ? "pid unknown" : `pid ${holder}`;
          throw new StoreBusyError(`blob store ${this.dir}: another gc (${who}) is running`, {
            store: this.dir,
            holder: `gc pid ${holder}`,
          });
        }
      }
    }
    const release = () => this.remove(path);
    const started = Date.now();
    try {
      for (;;) {
        signal?.throwIfAborted();
        const writers = await this.liveWriters();
        if (writers.length === 0) return release;
        if (Date.now() - started > waitMs) {
          throw new StoreBusyError(
            `blob store ${this.dir}: ${writers.length} put(s) still in flight (pids ${[...new Set(writers)].join(", ")}); gc not run`,
            { store: this.dir, holder: `put pids ${writers.join(",")}` },
          );
        }
        await sleep(POLL_MS, undefined, { signal });
      }
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** Pid of the live gc holding the lock, or undefined (a dead holder's lock is removed). */
  private async gcHolder(): Promise<number | undefined> {
    let text: string;
    try {
      text = await this.fs.readFile(join(this.dir, GC_FILE), "utf8");
    } catch (error) {
      if (errnoCode(error) === "ENOENT") return undefined;
      throw error;
    }
    const pid = Number.parseInt(text, 10);
    // An empty file is a gc between create and write: treat it as live.
    if (text === "" || pidAlive(pid)) return text === "" ? -1 : pid;
    await this.remove(join(this.dir, GC_FILE));
    return undefined;
  }

  private async liveWriters(): Promise<number[]> {
    const live: number[] = [];
    for (const name of await this.fs.readdir(this.dir)) {
      const m = PUT_FILE.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pidAlive(pid)) live.push(pid);
      else await this.remove(join(this.dir, name));
    }
    return live;
  }

  private async create(path: string): Promise<void> {
    const handle = await this.fs.open(path, "wx", 0o644);
    try {
      await handle.write(`${process.pid}\n`);
    } finally {
      await handle.close();
    }
  }

  private async remove(path: string): Promise<void> {
    if (!path) return;
    try {
      await this.fs.unlink(path);
    } catch (error) {
      if (errnoCode(error) !== "ENOENT") throw error;
    }
  }
}
