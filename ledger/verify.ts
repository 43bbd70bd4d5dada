import { BadApprovalError, PROPOSAL_ID, parseApprovalTrailer, verifyApproval } from "./approval.ts";
import { CHARTER_DIR, type Charter, checkCharterTransition, parseCharter } from "./charter.ts";
import {
  type CommitFields,
  fieldsOf,
  type ParsedCommit,
  parseCommit,
  parseTrailers,
} from "./commit.ts";
import { GdoError, VerificationError } from "./errors.ts";
import { BadSignatureError, SignatureFormatError } from "./key-errors.ts";
import { supersededSide } from "./merge.ts";
import { authorize } from "./policy.ts";
import type { ObjectReader } from "./repository.ts";
import type { SignatureJob, SignaturePool } from "./signature-pool.ts";
import type { SshPublicKey } from "./sshkey.ts";
import { type ParsedSshsig, parseSshsig, signedData, verifyParsed } from "./sshsig.ts";
import { type Change, diffTrees } from "./tree-diff.ts";
import { TreeReader } from "./tree-reader.ts";
import { type ChangeValidator, treeView, type ValidationVerdict } from "./validator.ts";

export const LEDGER_TRAILER = "Gdo-Ledger";
/** On every block of a proposal branch: `Gdo-Proposal: <id>`. */
export const PROPOSAL_TRAILER = "Gdo-Proposal";
/** On the merge that lands a proposal: `Gdo-Merge: <id> <head>`. */
export const MERGE_TRAILER = "Gdo-Merge";
/** On a proposal's merge: the content validators whose verdict it rests on (a record; every peer re-runs them). */
export const VALIDATED_TRAILER = "Gdo-Validated";
/** One per approval the merge rests on (see approval.ts). */
export const APPROVAL_TRAILER = "Gdo-Approval";
export const GIT_NAMESPACE = "git";

function single(oid: string, trailers: Map<string, string[]>, key: string): string | undefined {
  const values = trailers.get(key) ?? [];
  if (values.length > 1)
    throw new InvalidBlockError(oid, "duplicate-trailer", `has ${values.length} '${key}' trailers`);
  return values[0];
}

/**
 * A branch other than a proposal's may not end on a pending proposal block:
 * that would land it without its proof of merge.
 */
export function assertLandable(ref: string, block: VerifiedBlock): void {
  if (block.proposal && !ref.startsWith("refs/heads/proposals/")) {
    throw new InvalidBlockError(
      block.oid,
      "unmerged-proposal",
      `is a block of proposal '${block.proposal}'; ${ref} may only reach it through a proof of merge`,
      {
        ref,
        proposal: block.proposal,
      },
    );
  }
}

/** A block that failed verification: the cause's code, prefixed by the block id. */
export class InvalidBlockError extends VerificationError {
  readonly oid: string;
  constructor(oid: string, code: string, reason: string, data: Record<string, unknown> = {}) {
    super(code, `block ${oid}: ${reason}`, { ...data, oid, reason });
    this.oid = oid;
  }
}

/** What verification knows about a valid block. */
export interface VerifiedBlock {
  oid: string;
  tree: string;
  parents: string[];
  /** Member name of the signer, as recorded in the parent's charter. */
  signer: string;
  /**
   * The commit's fields. Its signature and signed bytes are not kept: a node
   * holds every block of its history, and those were 1.3 KiB of each. Read
   * them back with `readSignedCommit` where a proof is shown.
   */
  commit: CommitFields;
  /** The charter in force after this block (what its children are judged by). */
  charter: Charter;
  /** Longest parent chain to the genesis, plus one. Orders blocks without clocks. */
  generation: number;
  changes: Change[];
  /** Set on blocks of a proposal branch: they land only through a proof of merge. */
  proposal?: string;
  /** Set on a proposal's merge: what it landed and whose approvals it rests on. */
  merged?: { proposal: string; head: string; approvers: string[] };
}

/** Hook for the layers above the core (proof of merge, plugin validators). */
export type BlockCheck = (input: {
  block: VerifiedBlock;
  parentBlocks: VerifiedBlock[];
  reader: TreeReader;
}) => Promise<void> | void;

/**
 * Verifies blocks as a pure function of the object graph: give it any object
 * reader (the repository, or objects received from a peer and not yet stored)
 * and the heads to check; no ref is read or moved. Results are memoised per
 * block, so checking a new head after a sync re-checks only the new blocks.
 *
 * Rules (RFC 3):
 *  - every block is a canonical commit, signed (SSHSIG, namespace "git") by a
 *    key that is an active member in its first parent's charter, with the
 *    committer name equal to that member's name;
 *  - every block names its ledger (`Gdo-Ledger: <id>` trailer) and all share
 *    one genesis;
 *  - the files a block changes are allowed to its signer by the parent's policy;
 *  - a charter change leaves a valid charter and keeps its invariants;
 *  - a merge introduces nothing of its own: its tree is the clean three-way
 *    merge of its parents, and a conflict makes it invalid.
 */
export class Verifier {
  readonly reader: TreeReader;
  readonly #blocks = new Map<string, VerifiedBlock>();
  readonly #charters = new Map<string, Charter>();
  readonly #checks: BlockCheck[];
  readonly #pool: SignaturePool | undefined;
  readonly #validate: ChangeValidator | undefined;
  /** Blocks per signature batch sent to the pool; 4 batches go ahead of the sequential pass. */
  readonly #signatureBatch: number;
  /** Signature verdicts computed ahead on the pool, by block id. */
  readonly #signatureVerdicts = new Map<
    string,
    { parsed: ParsedSshsig; valid: Promise<boolean> }
  >();
  #genesis: string | undefined;
  /** The verifier this one was forked from (see `fork`): its blocks count as verified. */
  #base: Verifier | undefined;

  constructor({
    objects,
    checks = [],
    pool,
    validate,
    signatureBatch = 256,
    reader,
  }: {
    objects: ObjectReader;
    /** Reads trees; by default a new reader of `objects`. */
    reader?: TreeReader;
    checks?: BlockCheck[];
    pool?: SignaturePool;
    validate?: ChangeValidator;
    signatureBatch?: number;
  }) {
    this.#signatureBatch = signatureBatch;
    this.reader = reader ?? new TreeReader(objects);
    this.#checks = checks;
    this.#pool = pool;
    this.#validate = validate;
  }

  get genesis(): string | undefined {
    return this.#genesis;
  }

  known(oid: string): VerifiedBlock | undefined {
    return this.#blocks.get(oid) ?? this.#base?.known(oid);
  }

  /**
   * A verifier for new blocks whose objects are not stored yet (`staged`
   * holds them and reads through to the repository): it takes what this one
   * has verified as known and remembers the new blocks apart. A block it
   * refuses leaves no trace here; one it accepts is taken in with `adopt`
   * once its objects are stored.
   */
  fork(staged: ObjectReader & { holds(oid: string): boolean }): Verifier {
    const fork = new Verifier({
      objects: staged,
      reader: this.reader.staging(staged),
      checks: this.#checks,
      ...(this.#pool ? { pool: this.#pool } : {}),
      ...(this.#validate ? { validate: this.#validate } : {}),
      signatureBatch: this.#signatureBatch,
    });
    fork.#base = this;
    fork.#genesis = this.#genesis;
    return fork;
  }

  /** Takes in the blocks `fork` verified (their objects now stored where this one reads). */
  adopt(fork: Verifier): void {
    if (fork.#base !== this) throw new Error("Verifier.adopt: not a fork of this verifier");
    for (const [oid, block] of fork.#blocks) this.#blocks.set(oid, block);
    this.#genesis ??= fork.#genesis;
  }

  /** Verifies a head and all its ancestors; throws the first invalid block (oldest first). */
  async verify(head: string, { signal }: { signal?: AbortSignal } = {}): Promise<VerifiedBlock> {
    const order = await this.#unverifiedAncestry(head);
    const pool = order.length >= 64 ? this.#pool : undefined;
    let sent = 0;
    try {
      for (let i = 0; i < order.length; i++) {
        signal?.throwIfAborted();
        // Signatures go to the pool a window ahead of the sequential pass,
        // not all at once: a long history's parsed commits and pending
        // checks would otherwise all be held at the same time.
        const batch = this.#signatureBatch;
        for (; pool && sent < order.length && sent < i + 4 * batch; sent += batch)
          await this.#checkSignaturesAhead(order.slice(sent, sent + batch), pool);
        await this.#verifyOne(order[i]!);
      }
    } finally {
      for (const oid of order) this.#signatureVerdicts.delete(oid);
    }
    return this.known(head)!;
  }

  /** Parents-first order of the blocks reachable from `head` not yet verified. */
  async #unverifiedAncestry(head: string): Promise<string[]> {
    const order: string[] = [];
    const seen = new Set<string>();
    const stack: [string, boolean][] = [[head, false]];
    while (stack.length > 0) {
      const [oid, expanded] = stack.pop()!;
      if (expanded) {
        order.push(oid);
        continue;
      }
      if (seen.has(oid) || this.known(oid)) continue;
      seen.add(oid);
      stack.push([oid, true]);
      const commit = await this.#readCommit(oid);
      for (const parent of [...commit.parents].reverse()) {
        if (!seen.has(parent) && !this.known(parent)) stack.push([parent, false]);
      }
    }
    return order;
  }

  /**
   * Sends the signatures of a batch of blocks to the pool at once; the
   * sequential pass then awaits each verdict in turn. A signature that does
   * not parse is left for the sequential pass, which reports it in order.
   */
  async #checkSignaturesAhead(batch: string[], pool: SignaturePool): Promise<void> {
    const ahead: { oid: string; parsed: ParsedSshsig }[] = [];
    const jobs: SignatureJob[] = [];
    for (const oid of batch) {
      try {
        const commit = await this.#readCommit(oid);
        if (!commit.signature) continue;
        const parsed = parseSshsig(commit.signature, `block ${oid}`);
        if (parsed.namespace !== GIT_NAMESPACE) continue;
        jobs.push({
          signedData: signedData(commit.payload, GIT_NAMESPACE, parsed.hashAlgorithm),
          key: parsed.publicKey.raw,
          signature: parsed.signature,
        });
        ahead.push({ oid, parsed });
      } catch {
        // Reported by the sequential pass.
      }
    }
    const results = pool.check(jobs);
    ahead.forEach(({ oid, parsed }, i) => {
      const valid = results.then((r) => r[i] === true);
      valid.catch(() => {});
      this.#signatureVerdicts.set(oid, { parsed, valid });
    });
  }

  readonly #parsed = new Map<string, ParsedCommit>();

  async #readCommit(oid: string): Promise<ParsedCommit> {
    const cached = this.#parsed.get(oid);
    if (cached) return cached;
    const commit = await readSignedCommit(this.reader.objects, oid);
    this.#parsed.set(oid, commit);
    // The ancestry walk reads every commit; keeping them all would hold a
    // long history twice. The last walked are the first verified, so the
    // oldest entries go (read again when their turn comes).
    if (this.#parsed.size > 8 * this.#signatureBatch)
      this.#parsed.delete(this.#parsed.keys().next().value!);
    return commit;
  }

  async #verifyOne(oid: string): Promise<void> {
    try {
      const block = await this.#check(oid);
      for (const check of this.#checks) {
        await check({
          block,
          parentBlocks: block.parents.map((p) => this.known(p)!),
          reader: this.reader,
        });
      }
      this.#blocks.set(oid, block);
      this.#parsed.delete(oid);
    } catch (error) {
      if (error instanceof InvalidBlockError) throw error;
      if (error instanceof GdoError)
        throw new InvalidBlockError(oid, error.code, error.message, error.data);
      throw error;
    }
  }

  async #check(oid: string): Promise<VerifiedBlock> {
    const commit = await this.#readCommit(oid);
    if (commit.signature === undefined)
      throw new InvalidBlockError(oid, "unsigned-block", "has no signature");
    // Parsed already when the pool checked it ahead; parsed here otherwise.
    const ahead = this.#signatureVerdicts.get(oid);
    const parsed = ahead?.parsed ?? parseSshsig(commit.signature, `block ${oid}`);
    if (!parsed.canonicalArmor)
      throw new SignatureFormatError(`block ${oid}`, "signature armor is not in canonical form");
    if (parsed.namespace !== GIT_NAMESPACE) {
      throw new BadSignatureError(
        `block ${oid}`,
        `namespace '${parsed.namespace}', expected '${GIT_NAMESPACE}'`,
      );
    }
    const valid = ahead ? await ahead.valid : verifyParsed(parsed, commit.payload, GIT_NAMESPACE);
    if (!valid) {
      throw new BadSignatureError(
        `block ${oid}`,
        "the signature does not match the block's bytes",
        {
          key: parsed.publicKey.fingerprint,
        },
      );
    }
    const trailers = parseTrailers(commit.message);
    const ledgerIds = trailers.get(LEDGER_TRAILER) ?? [];
    if (ledgerIds.length !== 1) {
      throw new InvalidBlockError(
        oid,
        "missing-ledger-id",
        `must carry exactly one '${LEDGER_TRAILER}' trailer`,
      );
    }
    const ledgerId = ledgerIds[0]!;
    const parents = commit.parents.map((p) => this.known(p)!);

    if (parents.length === 0) return this.#checkGenesis(oid, commit, ledgerId, parsed.publicKey);

    const first = parents[0]!;
    if (ledgerId !== first.charter.id) {
      throw new InvalidBlockError(
        oid,
        "cross-ledger",
        `names ledger ${ledgerId} but its parent belongs to ${first.charter.id}`,
      );
    }
    const signer = first.charter.memberByKey(parsed.publicKey);
    if (!signer) {
      throw new InvalidBlockError(
        oid,
        "unknown-signer",
        `signed by ${parsed.publicKey.fingerprint}, which is not a member`,
        {
          key: parsed.publicKey.fingerprint,
        },
      );
    }
    if (signer.revoked) {
      throw new InvalidBlockError(
        oid,
        "revoked-signer",
        `signed by '${signer.name}', revoked on ${signer.revoked}`,
        {
          member: signer.name,
        },
      );
    }
    if (commit.committer.name !== signer.name) {
      throw new InvalidBlockError(
        oid,
        "identity-mismatch",
        `committer '${commit.committer.name}' but signed by member '${signer.name}'`,
      );
    }
    const generation = 1 + Math.max(...parents.map((p) => p.generation));
    const proposal = single(oid, trailers, PROPOSAL_TRAILER);
    if (proposal !== undefined && !PROPOSAL_ID.test(proposal)) {
      throw new InvalidBlockError(
        oid,
        "bad-proposal-id",
        `proposal id '${proposal}' is not allowed`,
      );
    }
    const mergeOf = single(oid, trailers, MERGE_TRAILER);
    // A proposal's blocks are pending: only their own proposal extends them,
    // and only a proof of merge (as second parent) lands them.
    parents.forEach((parent, i) => {
      if (!parent.proposal || parent.proposal === proposal) return;
      if (i === 1 && mergeOf === `${parent.proposal} ${parent.oid}`) return;
      throw new InvalidBlockError(
        oid,
        "unmerged-proposal",
        `builds on block ${parent.oid} of proposal '${parent.proposal}' without a proof of merge`,
        { proposal: parent.proposal },
      );
    });
    if (parents.length === 1) {
      const changes = await diffTrees(this.reader, first.tree, commit.tree);
      const verdict = await this.#validateChanges(first.tree, commit.tree, changes);
      authorize(first.charter.policy, first.charter, {
        signer: signer.name,
        approvers: [],
        paths: changes.map((c) => c.path),
        requirements: verdict.requirements,
        mode: proposal ? "writers" : "full",
      });
      const charter = await this.#charterAfter(first.charter, commit.tree, changes);
      return {
        oid,
        tree: commit.tree,
        parents: commit.parents,
        signer: signer.name,
        commit: fieldsOf(commit),
        charter,
        generation,
        changes,
        ...(proposal ? { proposal } : {}),
      };
    }
    if (parents.length > 2)
      throw new InvalidBlockError(
        oid,
        "unsupported-merge",
        "merges of more than two branches are not accepted",
      );
    const block = await this.#checkMerge(
      oid,
      commit,
      trailers,
      signer.name,
      parents as [VerifiedBlock, VerifiedBlock],
      generation,
    );
    if (proposal) block.proposal = proposal;
    return block;
  }

  /** Runs the injected content checks; any problem refuses the block. */
  async #validateChanges(
    before: string | undefined,
    after: string,
    changes: Change[],
    genesis = false,
  ): Promise<ValidationVerdict> {
    if (!this.#validate || changes.length === 0) return { problems: [], requirements: [] };
    const verdict = await this.#validate({
      before: treeView(this.reader, before),
      after: treeView(this.reader, after),
      changes: changes.map((c) => ({ path: c.path, kind: c.kind })),
      genesis,
    });
    if (verdict.problems.length > 0) {
      const first = verdict.problems[0]!;
      const where = `${first.file}${first.line ? `:${first.line}${first.column ? `:${first.column}` : ""}` : ""}`;
      throw new GdoError(
        "validation-failed",
        `${where}: ${first.reason} [${first.ruleId}]${verdict.problems.length > 1 ? ` (and ${verdict.problems.length - 1} more)` : ""}`,
        { problems: verdict.problems },
      );
    }
    return verdict;
  }

  /** A proposal's merge: verify the approvals it carries against the policy at the merge base. */
  #proofOfMerge(
    oid: string,
    trailers: Map<string, string[]>,
    signer: string,
    ours: VerifiedBlock,
    theirs: VerifiedBlock,
    base: VerifiedBlock,
    changes: Change[],
    requirements: ValidationVerdict["requirements"],
  ): { proposal: string; head: string; approvers: string[] } {
    const [proposal, head] = (single(oid, trailers, MERGE_TRAILER) ?? "").split(" ");
    if (!proposal || head !== theirs.oid || theirs.proposal !== proposal) {
      throw new InvalidBlockError(
        oid,
        "bad-merge",
        `'${MERGE_TRAILER}' must name proposal '${theirs.proposal}' at ${theirs.oid}`,
      );
    }
    const target = { ledgerId: base.charter.id, proposal, head };
    const approvers = new Set<string>();
    for (const value of trailers.get(APPROVAL_TRAILER) ?? []) {
      const approval = parseApprovalTrailer(value, target);
      const key = verifyApproval(approval, target);
      const member = base.charter.memberByKey(key);
      if (!member) {
        throw new BadApprovalError(`signed by ${key.fingerprint}, not a member at the merge base`, {
          key: key.fingerprint,
        });
      }
      // Active at the merge base, and not revoked since on the side it lands on.
      if (member.revoked || ours.charter.members.get(member.name)?.revoked) {
        throw new InvalidBlockError(
          oid,
          "revoked-approver",
          `approval by '${member.name}', revoked at the merge base`,
          { member: member.name },
        );
      }
      if (approval.verdict === "approve") approvers.add(member.name);
    }
    authorize(base.charter.policy, base.charter, {
      signer,
      approvers: [...approvers],
      paths: changes.map((c) => c.path),
      requirements,
      mode: "approvals",
    });
    return { proposal, head, approvers: [...approvers].sort() };
  }

  async #checkGenesis(
    oid: string,
    commit: ParsedCommit,
    ledgerId: string,
    key: SshPublicKey,
  ): Promise<VerifiedBlock> {
    if (this.#genesis !== undefined && this.#genesis !== oid) {
      throw new InvalidBlockError(
        oid,
        "foreign-root",
        `is a second genesis (the ledger's is ${this.#genesis})`,
      );
    }
    const charter = await this.#loadCharter(commit.tree);
    if (ledgerId !== charter.id) {
      throw new InvalidBlockError(
        oid,
        "cross-ledger",
        `names ledger ${ledgerId} but its charter says ${charter.id}`,
      );
    }
    const founder = charter.memberByKey(key);
    if (!founder || founder.revoked || !founder.roles.includes("admin")) {
      throw new InvalidBlockError(
        oid,
        "unknown-signer",
        "the genesis must be signed by an active admin of its own charter",
      );
    }
    if (commit.committer.name !== founder.name) {
      throw new InvalidBlockError(
        oid,
        "identity-mismatch",
        `committer '${commit.committer.name}' but signed by member '${founder.name}'`,
      );
    }
    const changes = await diffTrees(this.reader, undefined, commit.tree);
    await this.#validateChanges(
      undefined,
      commit.tree,
      changes.filter((c) => !c.path.startsWith(`${CHARTER_DIR}/`)),
      true,
    );
    authorize(charter.policy, charter, {
      signer: founder.name,
      approvers: [],
      paths: changes.filter((c) => !c.path.startsWith(`${CHARTER_DIR}/`)).map((c) => c.path),
    });
    this.#genesis = oid;
    return {
      oid,
      tree: commit.tree,
      parents: [],
      signer: founder.name,
      commit: fieldsOf(commit),
      charter,
      generation: 1,
      changes,
    };
  }

  /**
   * A merge adds nothing of its own: for every path, the merged tree holds what
   * the side that changed it holds (both sides must agree when both changed it).
   */
  async #checkMerge(
    oid: string,
    commit: ParsedCommit,
    trailers: Map<string, string[]>,
    signer: string,
    [ours, theirs]: [VerifiedBlock, VerifiedBlock],
    generation: number,
  ): Promise<VerifiedBlock> {
    const bases = this.mergeBases(ours.oid, theirs.oid);
    const base = bases[0];
    const baseTrees = bases.map((b) => this.known(b)!.tree);
    const baseTree = baseTrees[0];
    const [oursChanges, theirsChanges, mergedChanges] = await Promise.all([
      diffTrees(this.reader, baseTree, ours.tree),
      diffTrees(this.reader, baseTree, theirs.tree),
      diffTrees(this.reader, baseTree, commit.tree),
    ]);
    const expected = new Map<string, string | undefined>();
    for (const c of oursChanges) expected.set(c.path, c.after);
    for (const c of theirsChanges) {
      if (expected.has(c.path) && expected.get(c.path) !== c.after) {
        const mine = expected.get(c.path);
        const side = await supersededSide(this.reader, baseTrees, c.path, mine, c.after);
        if (side === "ours") continue;
        if (side === "theirs") {
          expected.set(c.path, c.after);
          continue;
        }
        throw new InvalidBlockError(
          oid,
          "merge-conflict",
          `'${c.path}' was changed differently on both sides (${ours.oid.slice(0, 12)} by ${ours.signer}, ${theirs.oid.slice(0, 12)} by ${theirs.signer})`,
          {
            path: c.path,
            ours: ours.oid,
            theirs: theirs.oid,
          },
        );
      }
      expected.set(c.path, c.after);
    }
    const actual = new Map(mergedChanges.map((c) => [c.path, c.after]));
    for (const [path, after] of expected) {
      if (!actual.has(path) || actual.get(path) !== after) {
        throw new InvalidBlockError(
          oid,
          "merge-not-clean",
          `'${path}' does not hold the merged content`,
          { path },
        );
      }
    }
    for (const path of actual.keys()) {
      if (!expected.has(path))
        throw new InvalidBlockError(
          oid,
          "merge-not-clean",
          `changes '${path}', which neither side changed`,
          { path },
        );
    }
    const changes = await diffTrees(this.reader, ours.tree, commit.tree);
    const verdict = await this.#validateChanges(ours.tree, commit.tree, changes);
    let merged: VerifiedBlock["merged"];
    if (theirs.proposal && trailers.has(MERGE_TRAILER)) {
      const baseBlock = this.known(base!)!;
      merged = this.#proofOfMerge(
        oid,
        trailers,
        signer,
        ours,
        theirs,
        baseBlock,
        changes,
        verdict.requirements,
      );
    }
    let charter = ours.charter;
    if (changes.some((c) => c.path.startsWith(`${CHARTER_DIR}/`))) {
      charter = await this.#loadCharter(commit.tree);
      checkCharterTransition(ours.charter, charter);
      checkCharterTransition(theirs.charter, charter);
    }
    if (!charter.isActive(signer))
      throw new InvalidBlockError(
        oid,
        "revoked-signer",
        `'${signer}' is not active in the merged charter`,
      );
    return {
      oid,
      tree: commit.tree,
      parents: commit.parents,
      signer,
      commit: fieldsOf(commit),
      charter,
      generation,
      changes,
      ...(merged ? { merged } : {}),
    };
  }

  /** The best common ancestor of two verified blocks (highest generation, then smallest id), if any. */
  mergeBase(a: string, b: string): string | undefined {
    return this.mergeBases(a, b)[0];
  }

  /**
   * Every best common ancestor of two verified blocks: those that are not an
   * ancestor of another common ancestor. More than one after criss-cross
   * merges (two nodes each merging the other's head while apart). Best first.
   */
  mergeBases(a: string, b: string): string[] {
    const ancestorsOfA = this.ancestors(a);
    const common: VerifiedBlock[] = [];
    for (const oid of this.ancestors(b)) {
      if (ancestorsOfA.has(oid)) common.push(this.known(oid)!);
    }
    common.sort((x, y) => y.generation - x.generation || (x.oid < y.oid ? -1 : 1));
    // From the newest down: a block below one already taken is not a best one.
    const covered = new Set<string>();
    const bases: string[] = [];
    for (const block of common) {
      if (covered.has(block.oid)) continue;
      bases.push(block.oid);
      const stack = [...block.parents];
      while (stack.length > 0) {
        const next = stack.pop()!;
        if (covered.has(next)) continue;
        covered.add(next);
        stack.push(...(this.known(next)?.parents ?? []));
      }
    }
    return bases;
  }

  /** The trees of `mergeBases(a, b)`, best first (for `planMerge`). */
  mergeBaseTrees(a: string, b: string): string[] {
    return this.mergeBases(a, b).map((oid) => this.known(oid)!.tree);
  }

  /** A verified block and all its ancestors (verify it first). */
  ancestors(oid: string): Set<string> {
    const seen = new Set<string>();
    const stack = [oid];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      for (const parent of this.known(next)?.parents ?? []) stack.push(parent);
    }
    return seen;
  }

  async #charterAfter(before: Charter, tree: string, changes: Change[]): Promise<Charter> {
    if (!changes.some((c) => c.path.startsWith(`${CHARTER_DIR}/`))) return before;
    const after = await this.#loadCharter(tree);
    checkCharterTransition(before, after);
    return after;
  }

  async #loadCharter(tree: string): Promise<Charter> {
    const entry = await this.reader.entryAt(tree, CHARTER_DIR);
    if (entry?.mode !== "40000")
      throw new InvalidBlockError(tree, "charter-invalid", "the tree has no charter/ folder");
    const cached = this.#charters.get(entry.oid);
    if (cached) return cached;
    const charter = parseCharter(await this.reader.readFiles(tree, CHARTER_DIR));
    this.#charters.set(entry.oid, charter);
    return charter;
  }
}

/**
 * A verified block's commit as stored, with its signature and the bytes it
 * signs (verified blocks keep only the fields). The repository re-hashes
 * what it reads, so these are the bytes that were verified.
 */
export async function readSignedCommit(objects: ObjectReader, oid: string): Promise<ParsedCommit> {
  const object = await objects.readObject(oid);
  if (object.type !== "commit")
    throw new InvalidBlockError(oid, "not-a-commit", `is a ${object.type}, not a commit`);
  return parseCommit(oid, object.content);
}
