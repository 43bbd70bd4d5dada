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
import { approvalText, parseApprovalTrailer, verifyApproval } from "../../ledger/approval.ts";
import { type ParsedCommit, parseTrailers } from "../../ledger/commit.ts";
import type { Ledger } from "../../ledger/ledger.ts";
import type { TreeReader } from "../../ledger/tree-reader.ts";
import {
  APPROVAL_TRAILER,
  MERGE_TRAILER,
  PROPOSAL_TRAILER,
  readSignedCommit,
  type VerifiedBlock,
} from "../../ledger/verify.ts";
import { FILE_NAME, isRfcStatus, type RfcStatus } from "./format.ts";
import { findFrontMatter } from "./front-matter.ts";
import { isDocumentPath } from "./validate.ts";

/**
 * One signed approval of a decision, carried by the merge block that landed
 * it (RFC 6). `payload` is the approval record the reviewer signed (SSHSIG
 * namespace `gdo-approval`); `block` is the merge; `timestamp` is the merge's.
 */
export interface Approval {
  block: string;
  signer: string;
  key: string;
  timestamp: number;
  payload: string;
  signature: string;
  /** The proposal and the head the reviewer approved. */
  proposal: string;
  head: string;
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
  let signed: ParsedCommit | undefined;
  for (const change of block.changes) {
    if (!isDocumentPath(change.path) || change.after === undefined) continue;
    const after = statusOf(await readText(reader, change.after));
    if (!after.status) continue;
    const before = change.before ? statusOf(await readText(reader, change.before)) : undefined;
    if (before && before.status === after.status) continue;
    const rfc = after.rfc ?? numberOfPath(change.path);
    if (rfc === undefined) continue;
    signed ??= await readSignedCommit(reader.objects, block.oid);
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
      payload: utf8.decode(signed.payload),
      signature: signed.signature ?? "",
      approvals: [],
    });
  }
  return decisions;
}

/**
 * Every block reachable from `head`, verified, oldest first (by generation,
 * then id, so the order is the same on every peer). The walk does not enter
 * blocks in `exclude` (e.g. a branch's history already shown).
 */
export async function historyOf({
  ledger,
  head,
  exclude,
  signal,
}: {
  ledger: Ledger;
  head: string;
  exclude?: ReadonlySet<string>;
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
      if (!seen.has(parent) && !exclude?.has(parent)) {
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
 * Fills in `approvals`: a decision made on proposal branch X (its block carries
 * `Gdo-Proposal: X`) is approved by the approvals that the first later merge
 * of X (`Gdo-Merge: X <head>`) carries. Each approval is checked against the
 * merged head and its signer found in the charter the merge was judged by;
 * one that does not verify is left out (the verifier has already refused
 * merges whose approvals do not hold, so this only happens for foreign data).
 */
export async function attachApprovals({
  ledger,
  blocks,
  decisions,
}: {
  ledger: Ledger;
  blocks: readonly VerifiedBlock[];
  decisions: Decision[];
}): Promise<void> {
  const byBlock = new Map<string, Decision[]>();
  for (const d of decisions) byBlock.set(d.block, [...(byBlock.get(d.block) ?? []), d]);
  const waiting = new Map<string, Decision[]>();
  for (const block of blocks) {
    const trailers = parseTrailers(block.commit.message);
    const proposal = trailers.get(PROPOSAL_TRAILER)?.[0];
    if (proposal && byBlock.has(block.oid)) {
      waiting.set(proposal, [...(waiting.get(proposal) ?? []), ...byBlock.get(block.oid)!]);
    }
    const merge = trailers.get(MERGE_TRAILER)?.[0];
    if (!merge || block.parents.length < 2) continue;
    const [id, head] = merge.split(" ");
    const pending = id ? waiting.get(id) : undefined;
    if (!id || !head || !pending) continue;
    waiting.delete(id);
    const charter = (await ledger.verifiedBlock(block.parents[0]!)).charter;
    const target = { ledgerId: charter.id, proposal: id, head };
    const approvals: Approval[] = [];
    for (const value of trailers.get(APPROVAL_TRAILER) ?? []) {
      try {
        const approval = parseApprovalTrailer(value, target);
        if (approval.verdict !== "approve") continue;
        const member = charter.memberByKey(verifyApproval(approval, target));
        if (!member) continue;
        approvals.push({
          block: block.oid,
          signer: member.name,
          key: member.key.keyText,
          timestamp: block.commit.committer.timestamp,
          payload: approvalText(target, approval.verdict),
          signature: approval.signature,
          proposal: id,
          head,
        });
      } catch {
        // Not a valid approval of this merge: not shown as one.
      }
    }
    for (const d of pending) d.approvals = approvals;
  }
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
  const blocks = await historyOf({ ledger, head, ...(signal ? { signal } : {}) });
  for (const block of blocks) {
    if (block.parents.length > 1) continue;
    const key = await signerKey(ledger, block);
    decisions.push(...(await decisionsOfBlock({ block, reader: ledger.reader, key })));
  }
  await attachApprovals({ ledger, blocks, decisions });
  return decisions;
}
