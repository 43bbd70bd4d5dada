/**
 * Everything the site shows, read once from the ledger: the branch's history
 * verified from the genesis, the charter at its head, every RFC document in
 * its tree, the blocks that touched each one, the decisions, open proposals
 * and divergent decisions on other branches. Nothing is read from loose files,
 * so readers see exactly what was signed and merged.
 *
 * A snapshot is memoised per (ledger, branch head) on `globalThis`, so the
 * content loader (run inside Astro's Vite runner) and the integration's build
 * hooks (run in the host process) share one read of the ledger.
 */

import { approvalText } from "../ledger/approval.ts";
import { NotFoundError } from "../ledger/errors.ts";
import { Ledger, MAIN, toRef } from "../ledger/ledger.ts";
import { type ProposalStatus, proposalStatus } from "../ledger/proposal.ts";
import type { FileEntry } from "../ledger/tree-reader.ts";
import type { VerifiedBlock } from "../ledger/verify.ts";
import type { Diagnostic } from "../plugins/api.ts";
import {
  attachApprovals,
  type Decision,
  decisionsOfBlock,
  historyOf,
  signerKey,
} from "../plugins/rfc/decisions.ts";
import type { RfcFrontMatter, RfcStatus } from "../plugins/rfc/format.ts";
import { lintRfc } from "../plugins/rfc/lint.ts";
import { isDocumentPath } from "../plugins/rfc/validate.ts";
import { pluginValidator } from "../plugins/validator.ts";
import { LedgerUnreadableError } from "./errors.ts";
import { globalRegistry } from "./global-registry.ts";

export interface RfcSource {
  path: string;
  number: number;
  /** The document as committed (UTF-8 decoded). */
  text: string;
  fields: Partial<RfcFrontMatter>;
  /** Lint findings (file:line:column, field): shown in the build report, never fatal. */
  diagnostics: Diagnostic[];
}

export interface BlockSummary {
  oid: string;
  signer: string;
  timestamp: number;
  subject: string;
  kind: "add" | "modify" | "delete";
  merge: boolean;
}

export interface MemberView {
  name: string;
  key: string;
  fingerprint: string;
  roles: string[];
  added: string;
  revoked?: string;
  revokedReason?: string;
}

/** A signed review of a proposal head (an approval record, SSHSIG namespace gdo-approval). */
export interface ReviewView {
  reviewer: string;
  verdict: "approve" | "reject";
  head: string;
  message: string;
  /** For the proposal's current head (older reviews no longer count). */
  current: boolean;
  payload: string;
  signature: string;
}

export interface ProposalView {
  id: string;
  ref: string;
  head: string;
  signer: string;
  timestamp: number;
  subject: string;
  /** RFC documents the proposal changes relative to the branch it would merge into. */
  paths: string[];
  decisions: Decision[];
  /** What the proposal still needs, in words ("2 approvals from editor for the status change of RFC 7"). */
  needs: string[];
  reviews: ReviewView[];
  /** Content problems a merge would be refused for, and merge conflicts. */
  problems: string[];
  /** The proposal is not signed by a member any more, or its history does not verify. */
  problem?: string;
}

export interface Conflict {
  rfc: number;
  path: string;
  /** The main branch's status of the RFC. */
  current?: RfcStatus;
  /** Decisions on other branches, not merged, that disagree with each other or with main. */
  decisions: Array<{ ref: string; decision: Decision }>;
  reason: string;
}

export interface Snapshot {
  gitdir: string;
  ref: string;
  head: string;
  ledgerId: string;
  name: string;
  roles: Array<{ name: string; description: string }>;
  members: MemberView[];
  rfcs: RfcSource[];
  /** Blocks that touched each RFC document (by path), oldest first. */
  history: Map<string, BlockSummary[]>;
  /** Decisions on the branch, oldest first. */
  decisions: Decision[];
  proposals: ProposalView[];
  conflicts: Conflict[];
  /** Files under `rfcs/assets/` at the head (pointer files `*.blob` included). */
  attachments: FileEntry[];
  /** Blocks on the branch (the whole history was verified). */
  blockCount: number;
  ledger: Ledger;
  treeOid: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });
const PROPOSALS = "refs/heads/proposals/";
const REVIEWS = "refs/heads/reviews/";

type Memo = Map<string, Promise<Snapshot>>;
const memo: Memo = globalRegistry("snapshots");

/** Reads (or returns the memoised) snapshot of `ref` in the ledger at `gitdir`. */
export async function readSnapshot({
  gitdir,
  ref = MAIN,
  signal,
}: {
  gitdir: string;
  ref?: string;
  signal?: AbortSignal;
}): Promise<Snapshot> {
  let ledger: Ledger;
  let head: string;
  try {
    ledger = await Ledger.open({ gitdir });
    head = await ledger.requireHead(ref);
  } catch (error) {
    if (error instanceof NotFoundError) throw new LedgerUnreadableError(gitdir, ref, error);
    throw error;
  }
  const key = `${gitdir}\0${toRef(ref)}\0${head}`;
  let snapshot = memo.get(key);
  if (!snapshot) {
    snapshot = buildSnapshot({ ledger, gitdir, ref: toRef(ref), head, signal });
    for (const old of memo.keys())
      if (old.startsWith(`${gitdir}\0${toRef(ref)}\0`)) memo.delete(old);
    memo.set(key, snapshot);
    snapshot.catch(() => memo.delete(key));
  }
  return snapshot;
}

/** Forgets memoised snapshots (a long-running node rebuilding after main moved keeps memory flat). */
export function forgetSnapshots(): void {
  memo.clear();
}

async function buildSnapshot({
  ledger,
  gitdir,
  ref,
  head,
  signal,
}: {
  ledger: Ledger;
  gitdir: string;
  ref: string;
  head: string;
  signal: AbortSignal | undefined;
}): Promise<Snapshot> {
  const reader = ledger.reader;
  const blocks = await historyOf({ ledger, head, ...(signal ? { signal } : {}) });
  const tip = blocks[blocks.length - 1]!;
  const onBranch = new Set(blocks.map((b) => b.oid));

  const history = new Map<string, BlockSummary[]>();
  const decisions: Decision[] = [];
  for (const block of blocks) {
    signal?.throwIfAborted();
    for (const change of block.changes) {
      if (!isDocumentPath(change.path)) continue;
      const list = history.get(change.path) ?? [];
      list.push(summary(block, change.kind));
      history.set(change.path, list);
    }
    if (block.parents.length <= 1 && block.changes.some((c) => isDocumentPath(c.path))) {
      const key = await signerKey(ledger, block);
      decisions.push(...(await decisionsOfBlock({ block, reader, key })));
    }
  }

  await attachApprovals({ ledger, blocks, decisions });

  const rfcs: RfcSource[] = [];
  for (const file of await reader.listFiles(tip.tree, "rfcs")) {
    if (!isDocumentPath(file.path)) continue;
    signal?.throwIfAborted();
    const bytes = (await reader.objects.readObject(file.oid)).content;
    const linted = lintRfc({ file: file.path, content: bytes });
    const text = linted.text ?? utf8.decode(bytes);
    const number = linted.fields.rfc ?? Number(/\/(\d+)-/.exec(file.path)?.[1] ?? Number.NaN);
    if (!Number.isSafeInteger(number)) continue;
    rfcs.push({
      path: file.path,
      number,
      text,
      fields: linted.fields,
      diagnostics: linted.diagnostics,
    });
  }
  rfcs.sort((a, b) => a.number - b.number || (a.path < b.path ? -1 : 1));

  const charter = tip.charter;
  const members: MemberView[] = [...charter.members.values()]
    .map((m) => ({
      name: m.name,
      key: m.key.keyText,
      fingerprint: m.key.fingerprint,
      roles: m.roles,
      added: m.added,
      ...(m.revoked ? { revoked: m.revoked } : {}),
      ...(m.revokedReason ? { revokedReason: m.revokedReason } : {}),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));

  const statusNow = new Map<string, RfcStatus | undefined>(
    rfcs.map((r) => [r.path, r.fields.status]),
  );
  const { proposals, branchDecisions } = await readBranches({
    ledger,
    gitdir,
    ref,
    onBranch,
    tip,
    signal,
  });
  const conflicts = findConflicts(branchDecisions, statusNow);

  return {
    gitdir,
    ref,
    head,
    ledgerId: charter.id,
    name: charter.name,
    roles: [...charter.roles].map(([name, description]) => ({ name, description })),
    members,
    rfcs,
    history,
    decisions,
    proposals,
    conflicts,
    attachments: await reader.listFiles(tip.tree, "rfcs/assets"),
    blockCount: blocks.length,
    ledger,
    treeOid: tip.tree,
  };
}

function summary(block: VerifiedBlock, kind: BlockSummary["kind"]): BlockSummary {
  return {
    oid: block.oid,
    signer: block.signer,
    timestamp: block.commit.committer.timestamp,
    subject: block.commit.message.split("\n", 1)[0] ?? "",
    kind,
    merge: block.parents.length > 1,
  };
}

/**
 * Every other branch: its blocks not on the site's branch, their decisions,
 * and for `proposals/<id>` branches what they still need.
 */
async function readBranches({
  ledger,
  gitdir,
  ref,
  onBranch,
  tip,
  signal,
}: {
  ledger: Ledger;
  gitdir: string;
  ref: string;
  onBranch: Set<string>;
  tip: VerifiedBlock;
  signal: AbortSignal | undefined;
}) {
  const proposals: ProposalView[] = [];
  const branchDecisions: Array<{ ref: string; decision: Decision }> = [];
  const refs = await ledger.repo.listRefs("refs/heads/");
  for (const [name, oid] of [...refs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (name === ref || onBranch.has(oid) || name.startsWith(REVIEWS)) continue;
    signal?.throwIfAborted();
    let own: VerifiedBlock[];
    try {
      // The blocks not on the site's branch, oldest first.
      own = await historyOf({
        ledger,
        head: oid,
        exclude: onBranch,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (name.startsWith(PROPOSALS)) {
        proposals.push({
          id: name.slice(PROPOSALS.length),
          ref: name,
          head: oid,
          signer: "",
          timestamp: 0,
          subject: "",
          paths: [],
          decisions: [],
          needs: [],
          reviews: [],
          problems: [],
          problem: `does not verify: ${(error as Error).message}`,
        });
      }
      continue;
    }
    const decisions: Decision[] = [];
    const paths = new Set<string>();
    for (const block of own) {
      for (const change of block.changes) if (isDocumentPath(change.path)) paths.add(change.path);
      if (block.parents.length > 1) continue;
      const key = await signerKey(ledger, block);
      decisions.push(...(await decisionsOfBlock({ block, reader: ledger.reader, key })));
    }
    for (const decision of decisions) branchDecisions.push({ ref: name, decision });
    if (!name.startsWith(PROPOSALS)) continue;
    const headBlock = await ledger.verifiedBlock(oid);
    const policy = tip.charter.policy;
    const needs: string[] = [];
    for (const decision of decisions) {
      const approval = policy.requirements["status-change"];
      if (decision.from && approval && approval.count !== 0) {
        const how =
          approval.count === "majority"
            ? `approval by a majority of ${approval.role}s`
            : `${approval.count} approval${approval.count === 1 ? "" : "s"} from ${approval.role}`;
        needs.push(`${how} for RFC ${decision.rfc}: ${decision.from} → ${decision.to}`);
      }
    }
    const id = name.slice(PROPOSALS.length);
    const status = await proposalStatusOf(gitdir, id);
    if (status) {
      needs.splice(
        0,
        needs.length,
        ...status.needs.map(
          (n) =>
            `${n.needed - n.have} more approval${n.needed - n.have === 1 ? "" : "s"} from ${n.role}${n.kind ? ` (${n.kind})` : ""}: ${n.have} of ${n.needed}`,
        ),
      );
    }
    if (needs.length === 0) needs.push("nothing: a member can merge it now");
    proposals.push({
      id: name.slice(PROPOSALS.length),
      ref: name,
      head: oid,
      signer: headBlock.signer,
      timestamp: headBlock.commit.committer.timestamp,
      subject: headBlock.commit.message.split("\n", 1)[0] ?? "",
      paths: [...paths].sort(),
      decisions,
      needs,
      reviews: (status?.reviews ?? []).map((r) => ({
        reviewer: r.reviewer,
        verdict: r.verdict,
        head: r.head,
        message: r.message,
        current: r.current,
        payload: approvalText(r.approval, r.verdict),
        signature: r.approval.signature,
      })),
      problems: [
        ...(status?.problems ?? []),
        ...(status?.conflicts ?? []).map((c) => `merge conflict: ${c.path}`),
      ],
    });
  }
  await closeStatusLedger();
  return { proposals, branchDecisions };
}

/**
 * Where a proposal stands, from the ledger's proposal module (RFC 6), judged
 * with the plugins' validators so that requirements such as status-change
 * approvals are counted. Undefined when it cannot tell (e.g. a branch made
 * by hand, without proposal trailers): the caller's estimate stands.
 */
let statusLedger: { gitdir: string; ledger: Ledger; close: () => Promise<void> } | undefined;

async function proposalStatusOf(gitdir: string, id: string): Promise<ProposalStatus | undefined> {
  try {
    if (!statusLedger) {
      const { validate, host } = await pluginValidator();
      statusLedger = {
        gitdir,
        ledger: await Ledger.open({ gitdir, validate }),
        close: () => host.close(),
      };
    }
    return await proposalStatus(statusLedger.ledger, id);
  } catch {
    return undefined;
  }
}

async function closeStatusLedger() {
  const open = statusLedger;
  statusLedger = undefined;
  await open?.close();
}

/**
 * Unmerged decisions that diverge: two branches deciding different statuses for
 * the same RFC, or a branch deciding from a status main has already left.
 */
function findConflicts(
  branchDecisions: Array<{ ref: string; decision: Decision }>,
  statusNow: Map<string, RfcStatus | undefined>,
): Conflict[] {
  const byPath = new Map<string, Array<{ ref: string; decision: Decision }>>();
  for (const entry of branchDecisions) {
    const list = byPath.get(entry.decision.path) ?? [];
    list.push(entry);
    byPath.set(entry.decision.path, list);
  }
  const conflicts: Conflict[] = [];
  for (const [path, entries] of byPath) {
    const current = statusNow.get(path);
    // The last decision per branch is what that branch would bring.
    const last = new Map<string, Decision>();
    for (const e of entries) last.set(e.ref, e.decision);
    const outcomes = new Set([...last.values()].map((d) => d.to));
    const firstOfRef = new Map<string, Decision>();
    for (const e of entries) if (!firstOfRef.has(e.ref)) firstOfRef.set(e.ref, e.decision);
    const stale = [...last].filter(([ref]) => firstOfRef.get(ref)!.from !== current);
    const rfc = entries[0]!.decision.rfc;
    if (outcomes.size > 1) {
      conflicts.push({
        rfc,
        path,
        ...(current ? { current } : {}),
        decisions: [...last].map(([ref, decision]) => ({ ref, decision })),
        reason: `${last.size} branches decide different statuses (${[...outcomes].join(", ")})`,
      });
    } else if (stale.length > 0 && current !== undefined) {
      conflicts.push({
        rfc,
        path,
        current,
        decisions: stale.map(([ref, decision]) => ({ ref, decision })),
        reason: `decided from a status the main branch has left (main says ${current})`,
      });
    }
  }
  return conflicts.sort((a, b) => a.rfc - b.rfc);
}
