import { randomBytes } from "node:crypto";
import { type Charter, defaultCharterFiles, MEMBERS_DIR, serializeMember } from "./charter.ts";
import {
  type CommitFields,
  formatMessage,
  type Identity,
  serializePayload,
  serializeSignedCommit,
} from "./commit.ts";
import { GdoError, NotFoundError } from "./errors.ts";
import { Quarantine } from "./quarantine.ts";
import { assertRefName, Repository } from "./repository.ts";
import type { SignaturePool } from "./signature-pool.ts";
import type { SshPrivateKey } from "./sshkey.ts";
import { signSshsig } from "./sshsig.ts";
import { applyEdits, type FileEdit } from "./tree-builder.ts";
import type { ChangeValidator } from "./validator.ts";
import {
  assertLandable,
  type BlockCheck,
  GIT_NAMESPACE,
  LEDGER_TRAILER,
  type VerifiedBlock,
  Verifier,
} from "./verify.ts";

export const MAIN = "refs/heads/main";

/** The rules above the core that a ledger applies to every block (plugin validators, extra checks). */
export interface LedgerRules {
  checks?: BlockCheck[];
  validate?: ChangeValidator;
}

export class LedgerExistsError extends GdoError {
  constructor(gitdir: string) {
    super("ledger-exists", `a ledger already exists at ${gitdir}`, { gitdir });
  }
}

export class NotAMemberError extends GdoError {
  constructor(fingerprint: string) {
    super(
      "not-a-member",
      `key ${fingerprint} is not an active member of this ledger; ask an admin to run 'gdo member add'`,
      {
        key: fingerprint,
      },
    );
  }
}

export interface CommitInput {
  key: SshPrivateKey;
  edits: FileEdit[];
  message: string;
  body?: string;
  /** Branch ref to extend; default main. */
  ref?: string;
  /** Extra parents (a merge). */
  mergeWith?: string[];
  /** Trailers after `Gdo-Ledger` (proposal, merge and approval records). */
  trailers?: [string, string][];
  /** Write the block and return its id without moving any ref (a new proposal names its branch after it). */
  noRef?: boolean;
  /**
   * With `noRef`: the block to build on instead of the branch's head, so a
   * chain of blocks can be written and then land at once (`advance`).
   */
  after?: string;
  /** Clock for the commit's recorded time; only people read it. */
  now?: Date;
}

/** Branch names users type are short (`main`, `proposals/12`); refs are full. */
export function toRef(branch: string): string {
  const ref = branch.startsWith("refs/") ? branch : `refs/heads/${branch}`;
  assertRefName(ref);
  return ref;
}

function identity(name: string, email: string, now: Date): Identity {
  return { name, email, timestamp: Math.floor(now.getTime() / 1000), timezoneOffset: 0 };
}

/**
 * The ledger: a bare git repository of signed blocks plus the verifier that
 * judges them. Writing a block builds it, checks it with the same rules a peer
 * would apply, and only then moves the branch (compare-and-swap), so a crash
 * at any point leaves the old head valid and an invalid block never lands.
 */
export class Ledger {
  readonly repo: Repository;
  readonly #rules: LedgerRules;
  readonly #verifierOf: () => Verifier;

  private constructor(repo: Repository, rules: LedgerRules, verifier?: () => Verifier) {
    this.repo = repo;
    this.#rules = rules;
    if (verifier) {
      this.#verifierOf = verifier;
    } else {
      const own = new Verifier({ objects: repo, ...rules });
      this.#verifierOf = () => own;
    }
  }

  /** The verifier in use: the ledger's own, or the one its owner shares (see `open`). */
  get #verifier(): Verifier {
    return this.#verifierOf();
  }

  /**
   * Opens a ledger. `verifier` lends it the verifier of whoever holds it (a
   * node's replica), which must read the same repository under the same
   * rules: a verifier remembers every block it checked, and two of them over
   * one history would each verify and hold it all.
   */
  static async open({
    gitdir,
    durable,
    verifier,
    ...rules
  }: { gitdir: string; durable?: boolean; verifier?: () => Verifier } & LedgerRules) {
    const repo = await Repository.open({ gitdir, durable });
    // Housekeeping as `git gc --auto` does it: when loose objects have piled
    // up, pack them once here rather than between appends, where the file
    // churn would slow every block written.
    try {
      repo.packIfDue();
    } catch (error) {
      // A ledger opened read-only (a mounted copy, another user's) is still
      // readable; only its housekeeping waits for a writer.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "EACCES" && code !== "EROFS" && code !== "EPERM") throw error;
    }
    return new Ledger(repo, rules, verifier);
  }

  /** Makes a new ledger whose genesis block holds the founder, the default charter and `files`. */
  static async create(input: {
    gitdir: string;
    key: SshPrivateKey;
    founder: string;
    name: string;
    files?: FileEdit[];
    now?: Date;
    durable?: boolean;
    checks?: BlockCheck[];
    validate?: ChangeValidator;
  }): Promise<{ ledger: Ledger; genesis: string }> {
    try {
      await Repository.open({ gitdir: input.gitdir });
      throw new LedgerExistsError(input.gitdir);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    const repo = await Repository.init({ gitdir: input.gitdir, durable: input.durable });
    const ledger = new Ledger(repo, { checks: input.checks, validate: input.validate });
    const now = input.now ?? new Date();
    const id = randomBytes(16).toString("hex");
    const encoder = new TextEncoder();
    const edits: FileEdit[] = [...defaultCharterFiles({ id, name: input.name })].map(
      ([path, text]) => ({
        path,
        content: encoder.encode(text),
      }),
    );
    edits.push({
      path: `${MEMBERS_DIR}/${input.founder}.yaml`,
      content: encoder.encode(
        serializeMember({
          name: input.founder,
          key: input.key.publicKey.keyText,
          roles: ["admin", "editor"],
          added: now.toISOString().slice(0, 10),
        }),
      ),
    });
    edits.push(...(input.files ?? []));
    const staged = ledger.#staging();
    const tree = await applyEdits(staged, ledger.#verifier.reader, undefined, edits);
    const genesis = await ledger.#writeBlock(staged, {
      key: input.key,
      signerName: input.founder,
      tree,
      parents: [],
      ledgerId: id,
      message: `Genesis of ${input.name}`,
      body: undefined,
      now,
      trailers: [],
    });
    await ledger.#land(staged, genesis);
    await repo.updateRef({ ref: MAIN, oid: genesis, expected: undefined });
    return { ledger, genesis };
  }

  async head(ref = MAIN): Promise<string | undefined> {
    return this.repo.readRef(toRef(ref));
  }

  async requireHead(ref = MAIN): Promise<string> {
    const oid = await this.head(ref);
    if (!oid) throw new NotFoundError(`branch ${ref} does not exist`, { ref });
    return oid;
  }

  /**
   * The verified state at a block. The first use verifies its whole history
   * (memoised for the life of this Ledger), so a write never builds on a
   * block this process has not checked, even if the files on disk changed.
   */
  async #state(oid: string): Promise<VerifiedBlock> {
    return this.#verifier.known(oid) ?? (await this.#verifier.verify(oid));
  }

  /** The charter in force at a branch head. */
  async charter(ref = MAIN): Promise<Charter> {
    return (await this.#state(await this.requireHead(ref))).charter;
  }

  /** Writes, verifies and lands one block on a branch; returns its id. */
  async commit(input: CommitInput): Promise<string> {
    const ref = toRef(input.ref ?? "main");
    if (input.after !== undefined && !input.noRef)
      throw new Error("Ledger.commit: 'after' builds off the branch, so it needs 'noRef'");
    const parent = input.after ?? (await this.requireHead(ref));
    const state = await this.#state(parent);
    const member = state.charter.memberByKey(input.key.publicKey);
    if (!member || member.revoked) throw new NotAMemberError(input.key.publicKey.fingerprint);
    const staged = this.#staging();
    const tree = await applyEdits(staged, this.#verifier.reader, state.tree, input.edits);
    const oid = await this.#writeBlock(staged, {
      key: input.key,
      signerName: member.name,
      tree,
      parents: [parent, ...(input.mergeWith ?? [])],
      ledgerId: state.charter.id,
      message: input.message,
      body: input.body,
      now: input.now ?? new Date(),
      trailers: input.trailers ?? [],
    });
    await this.#land(staged, oid, (block) => {
      if (!input.noRef) assertLandable(ref, block);
    });
    if (!input.noRef) await this.repo.updateRef({ ref, oid, expected: parent });
    return oid;
  }

  /**
   * Moves a branch from `expected` to `oid`, a block written here with
   * `noRef` that descends from it, or starts the branch there (`expected`
   * undefined). Compare-and-swap: if the branch moved (or was started)
   * meanwhile, nothing changes and the error says so.
   */
  async advance({
    ref = MAIN,
    oid,
    expected,
  }: {
    ref?: string;
    oid: string;
    expected: string | undefined;
  }): Promise<void> {
    const full = toRef(ref);
    const block = await this.#state(oid);
    assertLandable(full, block);
    if (expected !== undefined && !this.#verifier.ancestors(oid).has(expected))
      throw new Error(`Ledger.advance: ${oid} does not descend from ${expected}`);
    await this.repo.updateRef({ ref: full, oid, expected });
  }

  /**
   * Where a new block's objects wait until it verifies: nothing reaches the
   * repository for a block that is refused. Unbounded: the edits are in
   * memory already.
   */
  #staging(): Quarantine {
    return new Quarantine({ base: this.repo, maxBytes: Number.POSITIVE_INFINITY });
  }

  /**
   * Verifies the block `oid` staged in `staged` (and `accept` with it, which
   * may refuse it still), then stores its objects, durably, and only then
   * counts it as verified. A refused block leaves nothing behind.
   */
  async #land(
    staged: Quarantine,
    oid: string,
    accept: (block: VerifiedBlock) => void = () => {},
  ): Promise<VerifiedBlock> {
    const verifier = this.#verifier;
    const fork = verifier.fork(staged);
    const block = await fork.verify(oid);
    accept(block);
    await staged.flush(this.repo);
    verifier.adopt(fork);
    return block;
  }

  async #writeBlock(
    staged: Quarantine,
    input: {
      key: SshPrivateKey;
      signerName: string;
      tree: string;
      parents: string[];
      ledgerId: string;
      message: string;
      body: string | undefined;
      now: Date;
      trailers: [string, string][];
    },
  ): Promise<string> {
    const who = identity(
      input.signerName,
      `${input.signerName}@${input.ledgerId.slice(0, 12)}.gdo`,
      input.now,
    );
    const fields: CommitFields = {
      tree: input.tree,
      parents: input.parents,
      author: who,
      committer: who,
      message: formatMessage(input.message, input.body, [
        [LEDGER_TRAILER, input.ledgerId],
        ...input.trailers,
      ]),
    };
    const signature = signSshsig({
      message: serializePayload(fields),
      key: input.key,
      namespace: GIT_NAMESPACE,
    });
    return staged.add("commit", serializeSignedCommit(fields, signature));
  }

  /** A fresh verifier over this repository (for `gdo verify`, which trusts nothing). */
  newVerifier({ pool }: { pool?: SignaturePool } = {}): Verifier {
    return new Verifier({ objects: this.repo, ...this.#rules, ...(pool ? { pool } : {}) });
  }

  /** The verifier this ledger writes with (memoised state of verified blocks). */
  get verifier(): Verifier {
    return this.#verifier;
  }

  get rules(): LedgerRules {
    return this.#rules;
  }

  get reader() {
    return this.#verifier.reader;
  }

  async readFile(path: string, ref = MAIN): Promise<Uint8Array | undefined> {
    const state = await this.#state(await this.requireHead(ref));
    return this.#verifier.reader.readFile(state.tree, path);
  }

  async verifiedBlock(oid: string): Promise<VerifiedBlock> {
    return this.#state(oid);
  }
}
