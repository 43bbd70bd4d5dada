import type { Ledger } from "../ledger.ts";
import { type Manifest, parseManifest } from "./manifest.ts";
import { PointerFiles } from "./pointer-files.ts";

/**
 * Every blob manifest the ledger references: the `*.blob` pointer files in
 * the head tree of every branch (main, proposals, peers' remote-tracking
 * refs). This is gc's live set: a chunk no branch points at may go.
 */
export async function* ledgerManifests(ledger: Ledger): AsyncGenerator<Manifest> {
  const seen = new Set<string>();
  // Branch heads share most of their trees: each is walked only where it differs from the last.
  const pointers = new PointerFiles();
  for (const [ref, head] of await ledger.repo.listRefs("refs/")) {
    const block = await ledger.verifiedBlock(head);
    for (const file of await pointers.list(ledger.reader, block.tree)) {
      if (seen.has(file.oid)) continue;
      seen.add(file.oid);
      const object = await ledger.repo.readObject(file.oid);
      yield parseManifest(object.content, `${ref}:${file.path}`);
    }
  }
}
