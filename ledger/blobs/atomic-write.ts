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
}: {
  fs: StoreFs;
  tmpDir: string;
  path: string;
  data: Uint8Array;
  mode?: number;
  /** Named in the error, when the file is a chunk. */
  chunk?: string;
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
    await handle.sync();
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
