import { randomBytes } from "node:crypto";
import { basename, join } from "node:path";
import { BlobWriteError } from "./errors.ts";
import { errnoCode, type StoreFs } from "./store-fs.ts";

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
  sync = true,
}: {
  fs: StoreFs;
  tmpDir: string;
  path: string;
  data: Uint8Array;
  mode?: number;
  /** Named in the error, when the file is a chunk. */
  chunk?: string;
  /**
   * fsync the temp file before the rename (default). Only a caller that makes
   * the bytes durable itself before any rename can depend on them may pass
   * false (`BlobStore.writeVerifiedChunks` renames only after its batch sync).
   */
  sync?: boolean;
}): Promise<void> {
  const tmp = join(tmpDir, tempName());
  let handle: Awaited<ReturnType<StoreFs["open"]>> | undefined;
  try {
    handle = await fs.open(tmp, "wx", mode);
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset);
      if (bytesWritten <= 0) throw Object.assign(new Error("short write"), { code: "EIO" });
      offset += bytesWritten;
    }
    if (sync) await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, path);
  } catch (error) {
    await handle?.close().catch(() => {});
    await fs.unlink(tmp).catch(() => {});
    const reason = errnoCode(error) ?? "EIO";
    const what = chunk ? `chunk ${chunk}` : basename(path);
    throw new BlobWriteError(
      `cannot write ${what} to ${path}: ${reason} (${(error as Error).message})`,
      { path, reason, ...(chunk ? { chunk } : {}) },
      { cause: error },
    );
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
 * then all temp files are fsynced together (issued at once, so the filesystem
 * commits them in one journal transaction instead of one per file), and only
 * then is each renamed onto its path. A crash leaves every path with its old
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
    await Promise.all(temps.map((t) => t.handle!.sync()));
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
