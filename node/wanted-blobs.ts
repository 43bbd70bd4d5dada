/**
 * Which blobs a node wants, and so which chunks it fetches: the `*.blob`
 * pointer files in main's tree whose path matches `config.replicate`.
 *
 * Kept from block to block, since main moves often (a door's log line, every
 * swipe) and nearly always names the same blobs: pointer files are listed
 * again only under the folders a block changed, manifests are read, parsed
 * and stored only when their pointer file changed, and a blob whose every
 * chunk was stored is left out until a full check (`FULL_CHECK_MS`).
 */
import type { BlobStore } from "../ledger/blobs/blob-store.ts";
import { BlobNotFoundError } from "../ledger/blobs/errors.ts";
import { type ManifestChunk, manifestId } from "../ledger/blobs/manifest.ts";
import { PointerFiles } from "../ledger/blobs/pointer-files.ts";
import { GdoError } from "../ledger/errors.ts";
import { matchesPattern } from "../ledger/policy.ts";
import type { TreeReader } from "../ledger/tree-reader.ts";
import type { Replica } from "./replica.ts";

/**
 * A blob whose every chunk the store held at the end of a pass is not looked
 * at again (a door's log line moves main every swipe; each move used to
 * look up every chunk of every wanted blob), except by a full check this
 * often, which catches a chunk lost since (one removed by `blob check`).
 */
const FULL_CHECK_MS = 10 * 60_000;

export interface WantedBlobsInit {
  replica: Replica;
  blobs: BlobStore;
  replicate: string[];
  log: (line: string) => void;
  /** Counted at every new main: the wanted blobs, and their chunks (complete blobs' too). */
  counts: { wantedBlobs: number; wantedChunks: number };
}

export class WantedBlobs {
  readonly #init: WantedBlobsInit;
  /** Main's head for which the wanted chunks were last worked out, and those chunks. */
  #wantedFor: string | undefined;
  #wanted: ManifestChunk[] = [];
  /**
   * The chunk lists of the wanted manifests, by the oid of their pointer
   * file: a new block (a door's log line) does not read, parse and store
   * again every manifest main names, only those it changed.
   */
  #manifests = new Map<string, readonly ManifestChunk[]>();
  /** Main's pointer files, listed again by the folders each block changed. */
  readonly #pointerFiles = new PointerFiles();
  /** Pointer oids of wanted blobs whose every chunk is stored (see `FULL_CHECK_MS`), and since when the set is kept. */
  #complete = new Set<string>();
  #completeSince = Date.now();
  /** The wanted blobs not yet complete, with their chunks: as of `#wantedFor`. */
  #incomplete: { oid: string; chunks: readonly ManifestChunk[] }[] = [];
  /** Stores of the manifests found since the last `settle`: the pointer oid of each that failed. */
  #manifestsStored: Promise<string | undefined>[] = [];

  constructor(init: WantedBlobsInit) {
    this.#init = init;
  }

  /** The chunks of every wanted blob not yet complete, each once, by main's pointer files and the replicate rules. */
  async chunks(signal: AbortSignal): Promise<ManifestChunk[]> {
    const { replica, blobs, replicate, counts } = this.#init;
    const main = await replica.mainBlock();
    if (!main) return [];
    if (Date.now() - this.#completeSince > FULL_CHECK_MS) {
      this.#complete.clear();
      this.#completeSince = Date.now();
      this.#wantedFor = undefined;
    }
    if (this.#wantedFor === main.oid) return this.#wanted;
    const me = main.charter.memberByKey(replica.key.publicKey)?.name ?? "";
    const reader = replica.verifier.reader;
    const seen = new Set<string>();
    const wanted: ManifestChunk[] = [];
    const manifests = new Map<string, readonly ManifestChunk[]>();
    const incomplete: { oid: string; chunks: readonly ManifestChunk[] }[] = [];
    let count = 0;
    let completeChunks = 0;
    for (const file of await this.#pointerFiles.list(reader, main.tree)) {
      signal.throwIfAborted();
      if (!replicate.some((p) => matchesPattern(p, file.path, me))) continue;
      let chunks = manifests.get(file.oid) ?? this.#manifests.get(file.oid);
      if (!chunks) {
        const bytes = (await reader.objects.readObject(file.oid)).content;
        try {
          // Stored while its chunks are fetched: its fsyncs need not hold up the first request.
          const added = blobs.startAddManifest({ bytes, source: file.path, signal });
          chunks = added.manifest.chunks;
          // This node put it: every chunk is here already.
          if (blobs.putComplete(added.id)) this.#complete.add(file.oid);
          this.#manifestsStored.push(
            added.stored.then(
              () => undefined,
              (error: Error) => {
                if (!signal.aborted) {
                  this.#init.log(
                    `chunks    cannot store the manifest of ${file.path}: ${error.message}`,
                  );
                }
                return file.oid;
              },
            ),
          );
        } catch (error) {
          if (!(error instanceof GdoError)) throw error;
          this.#init.log(`chunks    skipping ${file.path}: ${error.message}`);
          continue;
        }
      }
      manifests.set(file.oid, chunks);
      count++;
      if (this.#complete.has(file.oid)) {
        completeChunks += chunks.length;
        continue;
      }
      incomplete.push({ oid: file.oid, chunks });
      for (const c of chunks) {
        if (seen.has(c.id)) continue;
        seen.add(c.id);
        wanted.push(c);
      }
    }
    this.#wantedFor = main.oid;
    this.#wanted = wanted;
    this.#incomplete = incomplete;
    // Kept for the next block: only the manifests this one still names.
    this.#manifests = manifests;
    for (const oid of this.#complete) if (!manifests.has(oid)) this.#complete.delete(oid);
    counts.wantedBlobs = count;
    counts.wantedChunks = wanted.length + completeChunks;
    return wanted;
  }

  /** Marks the wanted blobs none of whose chunks is in `missing` complete. */
  markComplete(missing: { has(id: string): boolean }): void {
    let marked = false;
    for (const { oid, chunks } of this.#incomplete) {
      if (chunks.some((c) => missing.has(c.id))) continue;
      this.#complete.add(oid);
      marked = true;
    }
    // The next pass leaves their chunks out.
    if (marked) this.#wantedFor = undefined;
  }

  /**
   * Waits for the manifests found since the last call to be durable; one
   * that could not be stored is forgotten, so the next pass reads and
   * stores it again.
   */
  async settle(): Promise<void> {
    for (const failed of await Promise.all(this.#manifestsStored.splice(0))) {
      if (!failed) continue;
      this.#manifests.delete(failed);
      this.#complete.delete(failed);
      this.#wantedFor = undefined;
    }
  }
}

/**
 * Why blob `id` is not in this node's store, in words for the one who asked
 * for it: no pointer file in main names it; one does, outside the paths this
 * node keeps (`replicate`); or it is wanted and not fetched yet.
 */
export async function whyNotHere({
  id,
  reader,
  tree,
  replicate,
  member,
}: {
  id: string;
  reader: TreeReader;
  /** Main's tree. */
  tree: string;
  replicate: string[];
  /** This node's member name (for `{member}` in the patterns). */
  member: string;
}): Promise<string> {
  for (const file of await new PointerFiles().list(reader, tree)) {
    const bytes = (await reader.objects.readObject(file.oid)).content;
    if (manifestId(bytes) !== id) continue;
    if (!replicate.some((p) => matchesPattern(p, file.path, member)))
      return `main names it at ${file.path}, which this node does not keep: 'replicate' in its config.json (${replicate.join(", ")}) leaves that path out`;
    return `main names it at ${file.path}; this node keeps it but has not fetched all of it yet ('gdo node status' shows the chunks missing)`;
  }
  return "no pointer file in main names it";
}

/**
 * `error` with why the blob is not here added to it (see `whyNotHere`); as
 * it is if working that out fails: the store's own words stand.
 */
export async function explainMissing(
  error: BlobNotFoundError,
  where: Parameters<typeof whyNotHere>[0],
): Promise<BlobNotFoundError> {
  const reason = await whyNotHere(where).catch(() => undefined);
  return reason ? new BlobNotFoundError(`${error.message}: ${reason}`, { blob: where.id }) : error;
}
