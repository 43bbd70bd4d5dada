/**
 * Decisions: the verified blocks on a branch's history that add an RFC or
 * change its `status`. Each decision carries what a reader needs to check it
 * without trusting whoever serves it: the exact signed commit payload, the
 * armored SSHSIG signature and the signer's key as the charter recorded it.
 *
 * ```
 *   block (non-merge) ──changes──► rfcs/NNNN-slug.md
 *        │                          before: status A   (absent for an added RFC)
 *        │                          after:  status B   (A ≠ B, or added)
 *        └─► Decision { rfc, path, from: A, to: B, block, signer, key, payload, signature }
 * ```
 *
 * A merge block introduces nothing of its own (RFC 3), so it is never a
 * decision: the decision is the block that wrote the change, on whichever
 * branch. Merges carry approvals instead (filled in by the proposal module).
 */
import { parse as parseYaml } from "yaml";
import type { Ledger } from "../../ledger/ledger.ts";
import type { TreeReader } from "../../ledger/tree-reader.ts";
import type { VerifiedBlock } from "../../ledger/verify.ts";
import { FILE_NAME, isRfcStatus, type RfcStatus } from "./format.ts";
import { findFrontMatter } from "./front-matter.ts";
import { isDocumentPath } from "./validate.ts";

/** One signed approval of a decision (from a merge block); same shape as the decision's own proof. */
export interface Approval {
  block: string;
  signer: string;
  key: string;
  timestamp: number;
  payload: string;
  signature: string;
}

export interface Decision {
  rfc: number;
  /** The RFC document's ledger path. */
  path: string;
  /** Status before; absent when the block added the RFC. */
  from?: RfcStatus;
  to: RfcStatus;
  /** The deciding block's id. */
  block: string;
  /** Member name of the signer. */
  signer: string;
  /** The signer's public key as the charter records it (`ssh-ed25519 AAAA…`). */
  key: string;
  /** Committer time, seconds since the epoch (recorded for people, not for ordering). */
  timestamp: number;
  /** The block's message (subject and body, trailers included). */
  message: string;
  /** The exact signed commit payload (the commit without its gpgsig header), as text. */
  payload: string;
  /** The armored SSHSIG signature over `payload` (namespace "git"). */
  signature: string;
  approvals: Approval[];
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** The `rfc` and `status` fields of a document's front matter, leniently (no lint). */
export function statusOf(text: string): { rfc?: number; status?: RfcStatus } {
  const found = findFrontMatter(text);
  if (!found.found) return {};
  let value: unknown;
  try {
    value = parseYaml(found.yaml, { schema: "core" });
  } catch {
    return {};
  }
  if (value === null || typeof value !== "object") return {};
  const fields = value as Record<string, unknown>;
  return {
    ...(Number.isSafeInteger(fields.rfc) ? { rfc: fields.rfc as number } : {}),
    ...(isRfcStatus(fields.status) ? { status: fields.status } : {}),
  };
}

function numberOfPath(path: string): number | undefined {
  const match = FILE_NAME.exec(path.slice(path.lastIndexOf("/") + 1));
  return match ? Number(match[1]) : undefined;
}

async function readText(reader: TreeReader, oid: string): Promise<string> {
  return utf8.decode((await reader.objects.readObject(oid)).content);
}

/**
 * The decisions one block makes. `keyOf` gives the signer's key line as
 * recorded by the charter the block was judged by (its first parent's; the
 * genesis's own).
 */
export async function decisionsOfBlock({
  block,
  reader,
  key,
}: {
  block: VerifiedBlock;
  reader: TreeReader;
  key: string;
}): Promise<Decision[]> {
  if (block.parents.length > 1) return [];
  const decisions: Decision[] = [];
  for (const change of block.changes) {
    if (!isDocumentPath(change.path) || change.after === undefined) continue;
    const after = statusOf(await readText(reader, change.after));
    if (!after.status) continue;
    const before = change.before ? statusOf(await readText(reader, change.before)) : undefined;
    if (before && before.status === after.status) continue;
    const rfc = after.rfc ?? numberOfPath(change.path);
    if (rfc === undefined) continue;
    decisions.push({
      rfc,
      path: change.path,
      ...(before?.status ? { from: before.status } : {}),
      to: after.status,
      block: block.oid,
      signer: block.signer,
      key,
      timestamp: block.commit.committer.timestamp,
      message: block.commit.message,
      payload: utf8.decode(block.commit.payload),
      signature: block.commit.signature ?? "",
      approvals: [],
    });
  }
  return decisions;
}

/**
 * Every block reachable from `head`, verified, oldest first (by generation,
 * then id, so the order is the same on every peer).
 */
export async function historyOf({
  ledger,
  head,
  signal,
}: {
  ledger: Ledger;
  head: string;
  signal?: AbortSignal;
}): Promise<VerifiedBlock[]> {
  const blocks: VerifiedBlock[] = [];
  const seen = new Set<string>([head]);
  const stack = [head];
  while (stack.length > 0) {
    signal?.throwIfAborted();
    const block = await ledger.verifiedBlock(stack.pop()!);
    blocks.push(block);
    for (const parent of block.parents) {
      if (!seen.has(parent)) {
        seen.add(parent);
        stack.push(parent);
      }
    }
  }
  return blocks.sort((a, b) => a.generation - b.generation || (a.oid < b.oid ? -1 : 1));
}

/** The signer's key line of `block`, as the charter it was judged by records it. */
export async function signerKey(ledger: Ledger, block: VerifiedBlock): Promise<string> {
  const charter =
    block.parents.length === 0
      ? block.charter
      : (await ledger.verifiedBlock(block.parents[0]!)).charter;
  return charter.members.get(block.signer)?.key.keyText ?? "";
}

/**
 * The decisions on a branch's history, oldest first. Verifies the history
 * (from the genesis, once per ledger instance) as it goes.
 */
export async function listDecisions({
  ledger,
  ref,
  signal,
}: {
  ledger: Ledger;
  ref?: string;
  signal?: AbortSignal;
}): Promise<Decision[]> {
  const head = await ledger.requireHead(ref);
  const decisions: Decision[] = [];
  for (const block of await historyOf({ ledger, head, ...(signal ? { signal } : {}) })) {
    if (block.parents.length > 1) continue;
    const key = await signerKey(ledger, block);
    decisions.push(...(await decisionsOfBlock({ block, reader: ledger.reader, key })));
  }
  return decisions;
}
