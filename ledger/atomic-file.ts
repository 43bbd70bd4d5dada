import { randomBytes } from "node:crypto";
import { closeSync, constants, fsyncSync, openSync } from "node:fs";
import { link, lstat, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { GdoError } from "./errors.ts";

/** fsync a file or folder by path (a folder: so renames into it survive a crash). */
export function fsyncPathSync(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** `writeFileAtomic({ overwrite: false })` found a file already at the path. */
export class FileExistsError extends GdoError {
  constructor(path: string) {
    super("file-exists", `${path}: already exists; refusing to overwrite it`, { path });
  }
}

/**
 * Write a file so that readers (and a crash) see either the old content or the new,
 * never a mix: a temp file in the same folder, created with `mode` (so a private file is
 * never readable by others, not even briefly), written, fsynced, renamed over `path`, and
 * the folder fsynced so the rename itself is durable.
 *
 * - `mode` (e.g. 0o600) is applied exactly, whatever the umask. Without it a replaced file
 *   keeps its old mode and a new file gets 0o666 minus the umask, as with `writeFile`.
 * - `overwrite: false` never replaces an existing file, even one created concurrently
 *   (the temp file is hard-linked into place, which fails if the name exists); it throws
 *   FileExistsError (code `file-exists`).
 */
export async function writeFileAtomic(options: {
  path: string;
  data: Uint8Array | string;
  mode?: number;
  overwrite?: boolean;
}): Promise<void> {
  const { path, data, overwrite = true } = options;
  const dir = dirname(path);
  let mode = options.mode;
  if (mode === undefined && overwrite) {
    mode = await stat(path).then(
      (s) => s.mode & 0o7777,
      () => undefined,
    );
  }
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
    mode ?? 0o666,
  );
  let placed = false;
  try {
    try {
      await handle.writeFile(data);
      if (mode !== undefined) await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (overwrite) {
      await rename(temp, path);
      placed = true;
    } else {
      await placeWithoutOverwrite(temp, path);
    }
    await syncDir(dir);
  } finally {
    if (!placed) await unlink(temp).catch(() => {});
  }
}

async function placeWithoutOverwrite(temp: string, path: string): Promise<void> {
  try {
    await link(temp, path);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new FileExistsError(path);
    // Some file systems (FAT, some network mounts) have no hard links: check, then rename.
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") {
      throw error;
    }
  }
  const exists = await lstat(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new FileExistsError(path);
  await rename(temp, path);
}

/** fsync a folder so a rename in it survives a crash (a no-op where folders cannot be opened). */
export async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF") throw error;
  } finally {
    await handle?.close();
  }
}
