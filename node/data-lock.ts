/**
 * One node per data folder. Two nodes on one folder would both move its
 * ledger's refs, write its blob store and claim its runtime file; the second
 * used to get as far as opening the ledger before failing on the port.
 *
 * `<dataDir>/node.lock` is created exclusively and holds the owner's pid. A
 * lock whose pid no longer runs (a node killed with -9, a power cut) is
 * stale and taken over. Taking over is not atomic against another node
 * starting at the same instant on the same folder; it guards against the
 * usual mistake (a second `npm run node`), not against a race by design.
 */
import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { pidAlive } from "../ledger/blobs/store-lock.ts";
import { NodeAlreadyRunningError } from "./errors.ts";

export function lockPath(dataDir: string): string {
  return join(dataDir, "node.lock");
}

/** Takes the data folder for this process; resolves with the function that gives it back. */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  await mkdir(dataDir, { recursive: true });
  const path = lockPath(dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx", 0o644);
      try {
        await handle.writeFile(`${process.pid}\n`);
      } finally {
        await handle.close();
      }
      return async () => {
        // Only our own: a lock taken over after ours went stale is another node's.
        if ((await ownerOf(path)) === process.pid) await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = await ownerOf(path);
      if (owner !== undefined && pidAlive(owner)) {
        throw new NodeAlreadyRunningError(dataDir, owner, path);
      }
      await rm(path, { force: true });
    }
  }
  throw new NodeAlreadyRunningError(dataDir, await ownerOf(path), path);
}

async function ownerOf(path: string): Promise<number | undefined> {
  const text = await readFile(path, "utf8").catch(() => "");
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
