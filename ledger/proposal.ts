import YAML from "yaml";
import {
  approvalTrailer,
  PROPOSAL_ID,
  type SignedApproval,
  signApproval,
  type Verdict,
  verifyApproval,
} from "./approval.ts";
import { GdoError, NotFoundError, UsageError } from "./errors.ts";
import { type Ledger, MAIN } from "./ledger.ts";
import { type MergeConflict, MergeConflictError, planMerge } from "./merge.ts";
import { type UnmetApproval, unmetApprovals } from "./policy.ts";
import { Quarantine } from "./quarantine.ts";
import type { SshPrivateKey } from "./sshkey.ts";
import type { FileEdit } from "./tree-builder.ts";
import { applyEdits } from "./tree-builder.ts";
import { diffTrees } from "./tree-diff.ts";
import { TreeReader } from "./tree-reader.ts";
import { treeView, type ValidationVerdict } from "./validator.ts";
import {
  APPROVAL_TRAILER,
  MERGE_TRAILER,
  PROPOSAL_TRAILER,
  VALIDATED_TRAILER,
  type VerifiedBlock,
} from "./verify.ts";

/**
 * Proposals (RFC 6). A proposal is a branch `proposals/<id>` of blocks that
 * carry `Gdo-Proposal: <id>`; they are checked like any block, except that
 * approvals are owed at the merge. Reviews are signed approval records
 * (approval.ts) kept on a branch `reviews/<id>`, one file per reviewer and
 * head. A merge copies the approvals for the proposal's exact head into its
 * own trailers, so the merge block alone proves it may land.
 */
export const PROPOSALS = "refs/heads/proposals/";
export const REVIEWS = "refs/heads/reviews/";

export class ProposalRejectedError extends GdoError {
  constructor(proposal: string, by: string[]) {
    super(
      "proposal-rejected",
      `proposal ${proposal} was rejected at its current head by ${by.join(", ")}; revise it (new head) or ask them to review again`,
      {
        proposal,
        by,
      },
    );
  }
}

export interface Review {
  reviewer: string;
  verdict: Verdict;
  head: string;
  message: string;
  /** True when the review is for the proposal's current head (older ones no longer count). */
  current: boolean;
  approval: SignedApproval;
}

export interface ProposalStatus {
  id: string;
  head: string;
  author: string;
  subject: string;
  /** Files the merge would change on main. */
  paths: string[];
  reviews: Review[];
  /** Approvals still missing for a merge (empty when it could land now). */
  needs: UnmetApproval[];
  /** Content problems the merge would be refused for. */
  problems: string[];
  conflicts: MergeConflict[];
  merged: boolean;
}

function proposalRef(id: string): string {
  if (!PROPOSAL_ID.test(id)) throw new UsageError(`'${id}' is not a proposal id`);
  return `${PROPOSALS}${id}`;
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 28)
      .replace(/-+$/, "") || "proposal"
  );
}

/**
 * Records changes as a signed block on a proposal branch: a new proposal
 * (branching from main) or a new head of an existing one.
 */
export async function propose(
  ledger: Ledger,
  input: {
    key: SshPrivateKey;
    edits: FileEdit[];
    message: string;
    body?: string;
    proposal?: string;
    now?: Date;
  },
): Promise<{ proposal: string; head: string }> {
  if (input.proposal) {
    const ref = proposalRef(input.proposal);
    if (!(await ledger.repo.readRef(ref)))
      throw new NotFoundError(`no proposal '${input.proposal}'`, { proposal: input.proposal });
    const head = await ledger.commit({
      ...input,
      ref,
      trailers: [[PROPOSAL_TRAILER, input.proposal]],
    });
    return { proposal: input.proposal, head };
  }
  const id = `${slug(input.message)}-${Math.random().toString(16).slice(2, 6)}`;
  const head = await ledger.commit({
    ...input,
    ref: MAIN,
    trailers: [[PROPOSAL_TRAILER, id]],
    noRef: true,
  });
  await ledger.repo.updateRef({ ref: proposalRef(id), oid: head, expected: undefined });
  return { proposal: id, head };
}

/** Signs a review of the proposal's current head and records it on `reviews/<id>`. */
export async function review(
  ledger: Ledger,
  input: { key: SshPrivateKey; proposal: string; verdict: Verdict; message: string; now?: Date },
): Promise<{ head: string; block: string }> {
  const head = await requireProposal(ledger, input.proposal);
  const charter = await ledger.charter();
  const member = charter.memberByKey(input.key.publicKey);
  if (!member || member.revoked)
    throw new GdoError(
      "not-a-member",
      `key ${input.key.publicKey.fingerprint} is not an active member`,
    );
  const approval = signApproval(
    input.key,
    { ledgerId: charter.id, proposal: input.proposal, head },
    input.verdict,
  );
  const record = YAML.stringify({
    proposal: input.proposal,
    head,
    verdict: input.verdict,
    reviewer: member.name,
    message: input.message,
    signature: approval.signature,
  });
  const reviewsRef = `${REVIEWS}${input.proposal}`;
  if (!(await ledger.repo.readRef(reviewsRef))) {
    await ledger.repo.updateRef({
      ref: reviewsRef,
      oid: await ledger.requireHead(MAIN),
      expected: undefined,
    });
  }
  const block = await ledger.commit({
    key: input.key,
    ref: reviewsRef,
    message: `${input.verdict === "approve" ? "Approve" : "Reject"} proposal ${input.proposal}`,
    body: input.message,
    edits: [
      {
        path: `reviews/${input.proposal}/${head}/${member.name}.yaml`,
        content: new TextEncoder().encode(record),
      },
    ],
    now: input.now,
  });
  return { head, block };
}

async function requireProposal(ledger: Ledger, id: string): Promise<string> {
  const head = await ledger.repo.readRef(proposalRef(id));
  if (!head) throw new NotFoundError(`no proposal '${id}' (see 'gdo proposals')`, { proposal: id });
  return head;
}

/** Every signed review of a proposal that verifies, newest head first. */
export async function reviewsOf(ledger: Ledger, id: string, head: string): Promise<Review[]> {
  const reviewsHead = await ledger.repo.readRef(`${REVIEWS}${id}`);
  if (!reviewsHead) return [];
  const state = await ledger.verifiedBlock(reviewsHead);
  const charter = await ledger.charter();
  const reviews: Review[] = [];
  for (const file of await ledger.reader.listFiles(state.tree, `reviews/${id}`)) {
    const record = YAML.parse(
      new TextDecoder().decode((await ledger.repo.readObject(file.oid)).content),
    ) as Record<string, string>;
    const approval: SignedApproval = {
      ledgerId: charter.id,
      proposal: id,
      head: record.head ?? "",
      verdict: record.verdict === "reject" ? "reject" : "approve",
      signature: record.signature ?? "",
    };
    try {
      const key = verifyApproval(approval, {
        ledgerId: charter.id,
        proposal: id,
        head: approval.head,
      });
      const member = charter.memberByKey(key);
      if (!member) continue;
      reviews.push({
        reviewer: member.name,
        verdict: approval.verdict,
        head: approval.head,
        message: record.message ?? "",
        current: approval.head === head,
        approval,
      });
    } catch {
      // A review that does not verify counts for nothing; `gdo verify` reports bad blocks.
    }
  }
  return reviews;
}

interface MergePreparation {
  head: VerifiedBlock;
  main: VerifiedBlock;
  edits: FileEdit[];
  conflicts: MergeConflict[];
  approvals: SignedApproval[];
  rejectedBy: string[];
  reviews: Review[];
}

async function prepare(ledger: Ledger, id: string): Promise<MergePreparation> {
  const headOid = await requireProposal(ledger, id);
  const head = await ledger.verifiedBlock(headOid);
  const main = await ledger.verifiedBlock(await ledger.requireHead(MAIN));
  const verifier = ledger.verifier;
  const plan = await planMerge({
    reader: ledger.reader,
    bases: verifier.mergeBaseTrees(main.oid, head.oid),
    ours: main.tree,
    theirs: head.tree,
  });
  const reviews = await reviewsOf(ledger, id, headOid);
  const current = reviews.filter((r) => r.current);
  return {
    head,
    main,
    edits: plan.clean ? plan.edits : [],
    conflicts: plan.clean ? [] : plan.conflicts,
    approvals: current.filter((r) => r.verdict === "approve").map((r) => r.approval),
    rejectedBy: current.filter((r) => r.verdict === "reject").map((r) => r.reviewer),
    reviews,
  };
}

/** What the content validators say of the merged tree (as a peer will re-check it). */
async function judgeMerge(
  ledger: Ledger,
  p: MergePreparation,
): Promise<{ paths: string[]; verdict: ValidationVerdict }> {
  // The merged tree is only looked at: built in memory, nothing is stored.
  const merged = new Quarantine({ base: ledger.repo, maxBytes: Number.POSITIVE_INFINITY });
  const reader = new TreeReader(merged);
  const tree = await applyEdits(merged, ledger.reader, p.main.tree, p.edits);
  const changes = await diffTrees(reader, p.main.tree, tree);
  const paths = changes.map((c) => c.path);
  if (!ledger.rules.validate || changes.length === 0) {
    return { paths, verdict: { problems: [], requirements: [], validators: [] } };
  }
  const verdict = await ledger.rules.validate({
    before: treeView(ledger.reader, p.main.tree),
    after: treeView(reader, tree),
    changes: changes.map((c) => ({ path: c.path, kind: c.kind })),
  });
  return { paths, verdict };
}

/** Where a proposal stands: its reviews, and what a merge would still need. */
export async function proposalStatus(ledger: Ledger, id: string): Promise<ProposalStatus> {
  const p = await prepare(ledger, id);
  const merged = ledger.verifier.mergeBase(p.main.oid, p.head.oid) === p.head.oid;
  const status: ProposalStatus = {
    id,
    head: p.head.oid,
    author: p.head.signer,
    subject: p.head.commit.message.split("\n")[0] ?? "",
    paths: [],
    reviews: p.reviews,
    needs: [],
    problems: [],
    conflicts: p.conflicts,
    merged,
  };
  if (merged || p.conflicts.length > 0) return status;
  const { paths, verdict } = await judgeMerge(ledger, p);
  status.paths = paths;
  const requirements = verdict.requirements;
  status.problems = verdict.problems.map(
    (x) => `${x.file}${x.line ? `:${x.line}` : ""}: ${x.reason} [${x.ruleId}]`,
  );
  const base = ledger.verifier.mergeBase(p.main.oid, p.head.oid);
  const charter = base ? (await ledger.verifiedBlock(base)).charter : p.main.charter;
  const approvers = p.reviews
    .filter((r) => r.current && r.verdict === "approve")
    .map((r) => r.reviewer);
  status.needs = unmetApprovals(charter.policy, charter, {
    signer: p.head.signer,
    approvers,
    paths: status.paths,
    requirements,
  });
  return status;
}

export async function listProposals(ledger: Ledger): Promise<ProposalStatus[]> {
  const refs = await ledger.repo.listRefs(PROPOSALS);
  const out: ProposalStatus[] = [];
  for (const ref of [...refs.keys()].sort())
    out.push(await proposalStatus(ledger, ref.slice(PROPOSALS.length)));
  return out;
}

/** Lands a proposal on main with its proof of merge (refused if it does not hold). */
export async function mergeProposal(
  ledger: Ledger,
  input: { key: SshPrivateKey; proposal: string; now?: Date },
): Promise<string> {
  const p = await prepare(ledger, input.proposal);
  if (p.conflicts.length > 0) throw new MergeConflictError(p.conflicts);
  if (p.rejectedBy.length > 0) throw new ProposalRejectedError(input.proposal, p.rejectedBy);
  const { verdict } = await judgeMerge(ledger, p);
  const validated = verdict.validators?.length ? verdict.validators.join(" ") : "none";
  return ledger.commit({
    key: input.key,
    ref: MAIN,
    mergeWith: [p.head.oid],
    edits: p.edits,
    message: `Merge proposal ${input.proposal}: ${p.head.commit.message.split("\n")[0]}`,
    trailers: [
      [MERGE_TRAILER, `${input.proposal} ${p.head.oid}`],
      [VALIDATED_TRAILER, verdict.problems.length === 0 ? `${validated} passed` : "failed"],
      ...p.approvals.map((a): [string, string] => [APPROVAL_TRAILER, approvalTrailer(a)]),
    ],
    now: input.now,
  });
}
