import { execFile, spawnSync } from "node:child_process";

let available: boolean | undefined;

/**
 * Whether coreutils' `sync -f` (syncfs(2): flush one filesystem) can be used.
 * Probed once, on a filesystem with nothing to write (syncing "/" to find out
 * would flush the whole disk first).
 */
export function canSyncFilesystem(): boolean {
  available ??=
    process.platform === "linux" &&
    spawnSync("sync", ["-f", "/dev/null"], { stdio: "ignore", timeout: 30_000 }).status === 0;
  return available;
}

/**
 * Flushes every written file of the filesystem holding `path` to disk: one
 * call for a whole batch of files instead of an fsync each, which made
 * durable writes of thousands of chunk files several times slower. Node has
 * no binding for syncfs(2), hence the `sync -f` process.
 */
export function syncFilesystem(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("sync", ["-f", path], { timeout: 120_000 }, (error) =>
      error ? reject(new Error(`sync -f ${path} failed: ${error.message}`)) : resolve(),
    );
  });
}
