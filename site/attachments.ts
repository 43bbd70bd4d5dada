/**
 * Serves the archive's attachments with the site. Each file under
 * `rfcs/assets/` in the ledger is copied to the same path in the built site;
 * a pointer file `NAME.blob` (a blob manifest, see ledger/blobs/manifest.ts)
 * is replaced by the blob's bytes, read from the node's blob store and verified
 * chunk by chunk. Real archives are messy, so nothing here fails the build: a
 * missing blob, a corrupt one or an unsafe SVG is reported with the RFC file
 * and line that links to it, and skipped.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import { type BlobStore, openBlobStore } from "../ledger/blobs/blob-store.ts";
import { manifestId, POINTER_SUFFIX } from "../ledger/blobs/manifest.ts";
import type { Diagnostic } from "../plugins/api.ts";
import type { AttachmentUse } from "./archive.ts";
import type { Snapshot } from "./snapshot.ts";

export interface CopyResult {
  copied: number;
  bytes: number;
  diagnostics: Diagnostic[];
}

/** SVG content that could run script when the file is opened on its own. */
const SVG_ACTIVE = /<script[\s>]|\son[a-z]+\s*=|javascript:|<foreignObject[\s>]/i;

export async function copyAttachments({
  outDir,
  snapshot,
  uses,
  dataDir,
  signal,
}: {
  outDir: string;
  snapshot: Snapshot;
  uses: readonly AttachmentUse[];
  dataDir?: string;
  signal?: AbortSignal;
}): Promise<CopyResult> {
  const diagnostics: Diagnostic[] = [];
  const useOf = new Map(uses.map((u) => [u.stored, u]));
  const documents = new Map(snapshot.rfcs.map((r) => [r.number, r.path]));
  let store: BlobStore | undefined;
  let storeTried = false;
  let copied = 0;
  let bytes = 0;
  try {
    for (const file of snapshot.attachments) {
      signal?.throwIfAborted();
      const use = useOf.get(file.path);
      const owner = Number(/^rfcs\/assets\/(\d+)\//.exec(file.path)?.[1]);
      const where = use
        ? { file: use.file, line: use.line }
        : { file: documents.get(owner) ?? file.path, line: 1 };
      const report = (ruleId: string, reason: string) =>
        diagnostics.push({
          ...where,
          column: 1,
          ruleId,
          reason: `${file.path}: ${reason}`,
          severity: "warning",
          source: "site",
        });
      const pointer = file.path.endsWith(POINTER_SUFFIX);
      const served = pointer ? file.path.slice(0, -POINTER_SUFFIX.length) : file.path;
      const target = posix.normalize(served);
      if (!target.startsWith("rfcs/assets/")) continue;
      let content: Uint8Array;
      const stored = (await snapshot.ledger.repo.readObject(file.oid)).content;
      if (!pointer) content = stored;
      else {
        if (!storeTried) {
          storeTried = true;
          if (dataDir && existsSync(join(dataDir, "blobs")))
            store = await openBlobStore({ dataDir });
        }
        if (!store) {
          report(
            "attachment-unavailable",
            "is stored in the blob store, which this build cannot read (no data folder)",
          );
          continue;
        }
        try {
          content = await readBlob(store, stored, file.path);
        } catch (error) {
          report("attachment-unavailable", (error as Error).message);
          continue;
        }
      }
      if (served.toLowerCase().endsWith(".svg")) {
        const text = new TextDecoder().decode(content);
        if (SVG_ACTIVE.test(text)) {
          report("svg-unsafe", "SVG contains script, event handlers or foreignObject; not served");
          continue;
        }
        if (!/<svg[\s>]/i.test(text) || !/<\/svg>\s*$/i.test(`${text.trimEnd()}\n`)) {
          report("svg-malformed", "is not a well-formed SVG document (served as is)");
        }
      }
      const path = join(outDir, ...target.split("/"));
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
      copied++;
      bytes += content.length;
    }
  } finally {
    await store?.close();
  }
  return { copied, bytes, diagnostics };
}

async function readBlob(
  store: BlobStore,
  pointer: Uint8Array,
  source: string,
): Promise<Uint8Array> {
  const id = manifestId(pointer);
  try {
    await store.manifest({ id });
  } catch {
    await store.addManifest({ bytes: pointer, source });
  }
  const parts: Uint8Array[] = [];
  for await (const part of store.get({ id })) parts.push(part);
  return Buffer.concat(parts);
}
