import { randomBytes } from "node:crypto";
import { basename, join } from "node:path";
import { BlobWriteError } from "./errors.ts";
import { canSyncFilesystem, syncFilesystem } from "./filesystem-sync.ts";
import { errnoCode, nodeStoreFs, type StoreFs } from "./store-fs.ts";

/** From this many files a batch is made durable by one filesystem flush. */
const SYNCFS_FROM = 8;

/**
 * Temp files are named `<pid>.<16 hex>.tmp` so a later open can tell a dead
 * writer's leftovers (pid gone) from a live writer's file in flight.
 */
export const TEMP_NAME = /^(\d+)\.[0-9a-f]{16}\.tmp$/;

export function tempName(): string {
  return `${process.pid}.${randomBytes(8).toString("hex")}.tmp`;
}

/**
 * Writes `data` so that `path` either keeps its old state or holds all of
 * `data`, never a prefix, even across kill -9 or power loss:
 *
 *     open tmpDir/<pid>.<rand>.tmp (O_EXCL) → write all → fsync → close → rename onto path
 *
 * `tmpDir` must be on the same filesystem as `path` (rename is atomic only
 * there). The rename itself becomes durable when the caller fsyncs the
 * directory of `path` (`syncDir`); the store does that once per directory per
 * put, before it publishes a manifest that depends on the files. On failure the
 * temp file is removed and a `BlobWriteError` carries the errno code.
 */
export async function writeFileAtomic({
  fs,
  tmpDir,
  path,
  data,
  mode = 0o444,
  chunk,
  what,
  sync = true,
}: {
  fs: StoreFs;
  tmpDir: string;
  path: string;
  /** The bytes, or parts written in order (one gathered write). */
  data: Uint8Array | Uint8Array[];
  mode?: number;
  /** Named in the error, when the file is a chunk. */
  chunk?: string;
  /** What the error calls the file (default: the chunk, or the file's name). */
  what?: string;
  /**
   * fsync the temp file before the rename (default). Only a caller that makes
   * the bytes durable itself before any rename can depend on them may pass
   * false (`BlobStore.writeVerifiedChunks` renames only after its batch sync).
   */
  sync?: boolean;
}): Promise<void> {
  const tmp = await writeTemp({ fs, tmpDir, path, data, mode, chunk, what, sync });
  try {
    await fs.rename(tmp, path);
  } catch (error) {
    await fs.unlink(tmp).catch(() => {});
    throw writeError(path, chunk, error, what);
  }
}

export function writeError(
  path: string,
  chunk: string | undefined,
  error: unknown,
  label?: string,
): BlobWriteError {
  const reason = errnoCode(error) ?? "EIO";
  const what = label ?? (chunk ? `chunk ${chunk}` : basename(path));
  return new BlobWriteError(
    `cannot write ${what} to ${path}: ${reason} (${(error as Error).message})`,
    { path, reason, ...(chunk ? { chunk } : {}) },
    { cause: error },
  );
}

/** Writes `data` to a new temp file (fsynced if `sync`); returns its path. Cleans up on failure. */
async function writeTemp({
  fs,
  tmpDir,
  path,
  data,
  mode,
  chunk,
  what,
  sync,
}: {
  fs: StoreFs;
  tmpDir: string;
  path: string;
  data: Uint8Array | Uint8Array[];
  mode: number;
  chunk: string | undefined;
  what?: string | undefined;
  sync: boolean;
}): Promise<string> {
  const tmp = join(tmpDir, tempName());
  let handle: Awaited<ReturnType<StoreFs["open"]>> | undefined;
  try {
    handle = await fs.open(tmp, "wx", mode);
    if (Array.isArray(data)) await writeParts(handle, data);
    else await writeRest(handle, data, 0);
    if (sync) await handle.sync();
    await handle.close();
    return tmp;
  } catch (error) {
    await handle?.close().catch(() => {});
    await fs.unlink(tmp).catch(() => {});
    throw writeError(path, chunk, error, what);
  }
}

/** Writes `data` from `offset` on, at the file's position, until all of it is written. */
export async function writeRest(
  handle: Awaited<ReturnType<StoreFs["open"]>>,
  data: Uint8Array,
  offset: number,
): Promise<void> {
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    if (bytesWritten <= 0) throw Object.assign(new Error("short write"), { code: "EIO" });
    offset += bytesWritten;
  }
}

/** Writes `parts` in order: one gathered write (a call per part costs more than its bytes), then the rest of a short write. */
async function writeParts(
  handle: Awaited<ReturnType<StoreFs["open"]>>,
  parts: Uint8Array[],
): Promise<void> {
  let written = (await handle.writev(parts)).bytesWritten;
  for (const part of parts) {
    if (written >= part.length) {
      written -= part.length;
      continue;
    }
    await writeRest(handle, part, written);
    written = 0;
  }
}

/** fsync a directory so renames into it survive a crash. */
export async function syncDir(fs: StoreFs, dir: string): Promise<void> {
  const handle = await fs.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `writeFileAtomic` for a batch: every file is written to its own temp file,
 * then all temp files are made durable together (one syncfs of their
 * filesystem, or fsyncs issued at once), and only then is each renamed onto
 * its path. A crash leaves every path with its old
 * state or all of its new bytes, as for one file. The caller fsyncs the
 * directories afterwards (once per directory, not per file). On failure every
 * temp file is removed and a `BlobWriteError` names the file that failed;
 * files renamed before the failure stay (each is whole).
 */
export async function writeFilesAtomic({
  fs,
  tmpDir,
  files,
  mode = 0o444,
}: {
  fs: StoreFs;
  tmpDir: string;
  files: { path: string; data: Uint8Array; chunk?: string }[];
  mode?: number;
}): Promise<void> {
  const temps: { tmp: string; handle?: Awaited<ReturnType<StoreFs["open"]>>; renamed: boolean }[] =
    files.map(() => ({ tmp: join(tmpDir, tempName()), renamed: false }));
  let failing = 0;
  try {
    await Promise.all(
      files.map(async ({ data }, k) => {
        const temp = temps[k]!;
        failing = k;
        temp.handle = await fs.open(temp.tmp, "wx", mode);
        let offset = 0;
        while (offset < data.length) {
          const { bytesWritten } = await temp.handle.write(data, offset, data.length - offset);
          if (bytesWritten <= 0) throw Object.assign(new Error("short write"), { code: "EIO" });
          offset += bytesWritten;
        }
      }),
    );
    // Many files: one filesystem flush for all of them (the real fs only;
    // an injected one is a test's, and gets its fsyncs).
    if (files.length >= SYNCFS_FROM && fs === nodeStoreFs && canSyncFilesystem())
      await syncFilesystem(tmpDir);
    else await Promise.all(temps.map((t) => t.handle!.sync()));
    await Promise.all(
      temps.map(async (t) => {
        const handle = t.handle!;
        t.handle = undefined;
        await handle.close();
      }),
    );
    for (let k = 0; k < files.length; k++) {
      failing = k;
      await fs.rename(temps[k]!.tmp, files[k]!.path);
      temps[k]!.renamed = true;
    }
  } catch (error) {
    await Promise.all(
      temps.map(async (t) => {
        await t.handle?.close().catch(() => {});
        if (!t.renamed) await fs.unlink(t.tmp).catch(() => {});
      }),
    );
    const file = files[failing]!;
    const reason = errnoCode(error) ?? "EIO";
    const what = file.chunk ? `chunk ${file.chunk}` : basename(file.path);
    throw new BlobWriteError(
      `cannot write ${what} to ${file.path}: ${reason} (${(error as Error).message})`,
      { path: file.path, reason, ...(file.chunk ? { chunk: file.chunk } : {}) },
      { cause: error },
    );
  }
}
