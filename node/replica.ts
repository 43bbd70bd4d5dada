/**
 * The node's copy of the ledger while it syncs: the repository, one
 * long-lived verifier (so each block is checked once per process), the
 * quarantine gate every received object passes, remote-tracking refs per
 * peer, and the moves of local branches (fast-forward or merge) decided by
 * `sync-plan.ts`.
 *
 * Every mutation runs under one lock, so a fetch being verified, a merge
 * being written and a fast-forward never interleave.
 */
import { availableParallelism } from "node:os";
import type { Charter } from "../ledger/charter.ts";
import { parseCommit } from "../ledger/commit.ts";
import { GdoError, NotFoundError } from "../ledger/errors.ts";
import { Ledger, type LedgerRules, MAIN } from "../ledger/ledger.ts";
import { planMerge } from "../ledger/merge.ts";
import type { Quarantine } from "../ledger/quarantine.ts";
import {
  type GitObject,
  type ObjectReader,
  RefConflictError,
  Repository,
} from "../ledger/repository.ts";
import { type SignatureJob, SignaturePool } from "../ledger/signature-pool.ts";
import type { SshPrivateKey } from "../ledger/sshkey.ts";
import { type VerifiedBlock, Verifier } from "../ledger/verify.ts";
import { type Candidate, type MainPlan, planMain, type Relation } from "./sync-plan.ts";

/** The node would join a ledger it is not a member of, or not the one configured. */
export class JoinRefusedError extends GdoError {
  constructor(reason: string, data: Record<string, unknown> = {}) {
    super("join-refused", reason, data);
  }
}

/**
 * A signature pool whose worker threads exist only while there is work: the
 * verifier hands it a long history (a join, a long-offline peer) and the
 * workers spread the Ed25519 checks; after a quiet spell they are closed, so
 * an idle node holds no verification threads.
 */
class OnDemandPool extends SignaturePool {
  readonly #idleMs: number;
  #inner: SignaturePool | undefined;
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor({ idleMs = 10_000 }: { idleMs?: number } = {}) {
    super({ size: 0 });
    this.#idleMs = idleMs;
  }

  override async check(jobs: SignatureJob[]): Promise<boolean[]> {
    clearTimeout(this.#timer);
    this.#inner ??= new SignaturePool({ size: Math.max(1, availableParallelism() - 1) });
    this.#pending++;
    try {
      return await this.#inner.check(jobs);
    } finally {
      if (--this.#pending === 0) {
        this.#timer = setTimeout(() => void this.close(), this.#idleMs);
        this.#timer.unref();
      }
    }
  }

  override async close(): Promise<void> {
    clearTimeout(this.#timer);
    if (this.#pending > 0) return;
    const inner = this.#inner;
    this.#inner = undefined;
    await inner?.close();
  }
}

/** Reads the current quarantine first, then the repository. */
class Overlay implements ObjectReader {
  readonly repo: Repository;
  current: Quarantine | undefined;
  constructor(repo: Repository) {
    this.repo = repo;
  }
  readObject(oid: string): Promise<GitObject> {
    return this.current ? this.current.readObject(oid) : this.repo.readObject(oid);
  }
  hasObject(oid: string): Promise<boolean> {
    return this.current ? this.current.hasObject(oid) : this.repo.hasObject(oid);
  }
}

export interface RemoteHead {
  peer: string;
  branch: string;
  oid: string;
}

export interface Divergence {
  peer: string;
  branch: string;
  oid: string;
  relation: Relation;
  /** Blocks on main the peer's head lacks. */
  ahead: number;
  /** Blocks of the peer's head main lacks. */
  behind: number;
  conflicts: string[];
}

export interface ReconcileResult {
  moved: boolean;
  plan: MainPlan;
  /** Local non-main branches created or fast-forwarded. */
  branches: string[];
}

export class Replica {
  readonly repo: Repository;
  readonly key: SshPrivateKey;
  ledger: Ledger | undefined;
  readonly #rules: LedgerRules;
  readonly #overlay: Overlay;
  readonly #pool = new OnDemandPool();
  #verifier: Verifier;
  #lock: Promise<unknown> = Promise.resolve();
  readonly #firstSeen = new Map<string, number>();
  readonly #conflicts = new Map<string, string[]>();
  readonly #counts = new Map<string, { ahead: number; behind: number }>();

  private constructor(
    repo: Repository,
    key: SshPrivateKey,
    ledger: Ledger | undefined,
    rules: LedgerRules,
  ) {
    this.repo = repo;
    this.key = key;
    this.ledger = ledger;
    this.#rules = rules;
    this.#overlay = new Overlay(repo);
    this.#verifier = this.#newVerifier();
  }

  /** Same rules as the ledger's own writes: a peer's block is judged exactly as a local one. */
  #newVerifier(): Verifier {
    return new Verifier({ objects: this.#overlay, pool: this.#pool, ...this.#rules });
  }

  /** Ends the verification threads, if any are running. */
  async close(): Promise<void> {
    await this.#pool.close();
  }

  /** Opens the ledger, or an empty repository to join one from a peer. */
  static async open({
    gitdir,
    key,
    durable = true,
    rules = {},
  }: {
    gitdir: string;
    key: SshPrivateKey;
    durable?: boolean;
    rules?: LedgerRules;
  }): Promise<Replica> {
    try {
      // The ledger writes with the replica's verifier: one memo of the history.
      let replica: Replica | undefined;
      const ledger = await Ledger.open({
        gitdir,
        durable,
        ...rules,
        verifier: () => replica!.#verifier,
      });
      replica = new Replica(ledger.repo, key, (await ledger.head()) ? ledger : undefined, rules);
      return replica;
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      return new Replica(await Repository.init({ gitdir, durable }), key, undefined, rules);
    }
  }

  /** Runs `fn` alone among the replica's mutations. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  get verifier(): Verifier {
    return this.#verifier;
  }

  async main(): Promise<string | undefined> {
    return this.repo.readRef(MAIN);
  }

  /** Main's verified state (undefined before joining). */
  async mainBlock(): Promise<VerifiedBlock | undefined> {
    const main = await this.main();
    return main ? this.verify(main) : undefined;
  }

  async charter(): Promise<Charter | undefined> {
    return (await this.mainBlock())?.charter;
  }

  async verify(oid: string, signal?: AbortSignal): Promise<VerifiedBlock> {
    return this.#verifier.known(oid) ?? this.#verifier.verify(oid, { signal });
  }

  /** Local branches (`refs/heads/*`) as branch → block id. */
  async localHeads(): Promise<Record<string, string>> {
    const heads: Record<string, string> = {};
    for (const [ref, oid] of await this.repo.listRefs("refs/heads/"))
      heads[ref.slice("refs/heads/".length)] = oid;
    return heads;
  }

  async remoteHeads(): Promise<RemoteHead[]> {
    const out: RemoteHead[] = [];
    for (const [ref, oid] of await this.repo.listRefs("refs/remotes/")) {
      const [peer, ...branch] = ref.slice("refs/remotes/".length).split("/");
      out.push({ peer: peer!, branch: branch.join("/"), oid });
    }
    return out;
  }

  async hasCommit(oid: string): Promise<boolean> {
    return this.#verifier.known(oid) !== undefined || this.repo.hasObject(oid);
  }

  /**
   * Commits a peer may use as stop marks: every local ref, and main's
   * first-parent ancestry at distances 1, 2, 4, 8… down to the genesis, so a
   * peer whose history diverged a long way back still finds a nearby common
   * block (at most twice the diverged length is resent).
   */
  async haves(extra: Iterable<string> = []): Promise<string[]> {
    const haves = new Set<string>(extra);
    for (const oid of (await this.repo.listRefs("refs/")).values()) haves.add(oid);
    let oid = await this.main();
    let step = 0;
    let next = 1;
    while (oid && haves.size < 900) {
      if (step === next) {
        haves.add(oid);
        next *= 2;
      }
      const parents = await this.#parents(oid);
      if (parents.length === 0) haves.add(oid);
      oid = parents[0];
      step++;
    }
    return [...haves].slice(0, 1000);
  }

  async #parents(oid: string): Promise<string[]> {
    const known = this.#verifier.known(oid);
    if (known) return known.parents;
    return parseCommit(oid, (await this.repo.readObject(oid)).content).parents;
  }

  /**
   * The quarantine gate: verifies `heads` over the received objects laid over
   * the repository; only if all verify are the objects written to the
   * repository. On failure nothing is written, the verifier is replaced (its
   * memory may name blocks whose objects were dropped), and the error is
   * rethrown for the caller to log and score.
   *
   * Joining (no main yet): main's head must also name this node's key as an
   * active member, and match the configured genesis if there is one.
   */
  async accept({
    quarantine,
    heads,
    join,
    signal,
  }: {
    quarantine: Quarantine;
    heads: string[];
    join?: { main: string; genesis: string | undefined };
    signal?: AbortSignal;
  }): Promise<{ written: number }> {
    return this.exclusive(async () => {
      this.#overlay.current = quarantine;
      try {
        for (const head of heads) await this.#verifier.verify(head, { signal });
        if (join) {
          const block = await this.#verifier.verify(join.main, { signal });
          if (join.genesis && this.#verifier.genesis !== join.genesis) {
            throw new JoinRefusedError(
              `the peer's ledger starts at ${this.#verifier.genesis}, not the configured genesis ${join.genesis}`,
            );
          }
          const me = block.charter.memberByKey(this.key.publicKey);
          if (!me || me.revoked) {
            throw new JoinRefusedError(
              `this node's key ${this.key.publicKey.fingerprint} is not an active member of ledger '${block.charter.name}' (${block.charter.id}); ask an admin to run: gdo member add NAME --pubkey '${this.key.publicKey.keyText}'`,
              { ledger: block.charter.id },
            );
          }
        }
      } catch (error) {
        this.#overlay.current = undefined;
        quarantine.clear();
        this.#verifier = this.#newVerifier();
        throw error;
      }
      this.#overlay.current = undefined;
      const { written } = await quarantine.flush(this.repo);
      if (join && !(await this.main())) {
        await this.repo.updateRef({ ref: MAIN, oid: join.main, expected: undefined });
        this.ledger = await Ledger.open({
          gitdir: this.repo.gitdir,
          durable: this.repo.durable,
          ...this.#rules,
          verifier: () => this.#verifier,
        });
      }
      return { written };
    });
  }

  /** Points `refs/remotes/<peer>/<branch>` at a verified head. */
  async setRemote(peer: string, branch: string, oid: string): Promise<void> {
    await setRef(this.repo, `refs/remotes/${peer}/${branch}`, oid);
  }

  async #relation(main: string, oid: string): Promise<Relation> {
    if (main === oid) return "same";
    await this.verify(main);
    await this.verify(oid);
    const base = this.#verifier.mergeBase(main, oid);
    if (base === oid) return "behind";
    if (base === main) return "ahead";
    return "diverged";
  }

  /**
   * Moves local branches after a sync: main by `planMain` (fast-forward, or
   * a merge block signed by this node when clean), other branches only by
   * fast-forward (created when absent). Remote heads stay where they are.
   */
  async reconcile({
    connected,
    autoMerge,
    graceMs,
    now = Date.now(),
    log,
  }: {
    connected: ReadonlySet<string>;
    autoMerge: boolean;
    graceMs: number;
    now?: number;
    log: (line: string) => void;
  }): Promise<ReconcileResult> {
    return this.exclusive(async () => {
      const result: ReconcileResult = { moved: false, plan: { kind: "stay" }, branches: [] };
      const main = await this.main();
      if (!main || !this.ledger) return result;
      const remotes = await this.remoteHeads();
      for (const r of remotes) {
        if (r.branch === "main") continue;
        const ref = `refs/heads/${r.branch}`;
        const local = await this.repo.readRef(ref).catch(() => undefined);
        try {
          if (!local) await this.repo.updateRef({ ref, oid: r.oid, expected: undefined });
          else if ((await this.#relation(local, r.oid)) === "ahead")
            await this.repo.updateRef({ ref, oid: r.oid, expected: local });
          else continue;
          result.branches.push(r.branch);
        } catch (error) {
          if (!(error instanceof RefConflictError)) throw error;
        }
      }
      const candidates: Candidate[] = [];
      for (const r of remotes) {
        if (r.branch !== "main" || candidates.some((c) => c.oid === r.oid)) continue;
        const relation = await this.#relation(main, r.oid);
        if (relation === "diverged" && !this.#firstSeen.has(r.oid)) this.#firstSeen.set(r.oid, now);
        candidates.push({
          peer: r.peer,
          oid: r.oid,
          relation,
          generation: (await this.verify(r.oid)).generation,
        });
      }
      const charter = (await this.verify(main)).charter;
      const me = charter.memberByKey(this.key.publicKey);
      const plan = planMain({
        main,
        candidates,
        canMerge: autoMerge && !!me && !me.revoked,
        connected,
        firstSeen: this.#firstSeen,
        conflicted: new Set(this.#conflicts.keys()),
        now,
        graceMs,
      });
      result.plan = plan;
      if (plan.kind === "fast-forward") {
        await this.repo.updateRef({ ref: MAIN, oid: plan.to, expected: main });
        log(`main      fast-forward to ${plan.to.slice(0, 12)} from ${plan.peer}`);
        result.moved = true;
      } else if (plan.kind === "merge") {
        const merge = await planMerge({
          reader: this.#verifier.reader,
          bases: this.#verifier.mergeBaseTrees(main, plan.with),
          ours: (await this.verify(main)).tree,
          theirs: (await this.verify(plan.with)).tree,
        });
        if (!merge.clean) {
          const paths = merge.conflicts.map((c) => c.path);
          this.#conflicts.set(plan.with, paths);
          log(
            `diverged  main and ${plan.peer}'s head ${plan.with.slice(0, 12)} conflict on ${paths.join(", ")}; not merged (see gdo status)`,
          );
        } else {
          const oid = await this.ledger.commit({
            key: this.key,
            edits: merge.edits,
            mergeWith: [plan.with],
            message: `Merge ${plan.peer}'s main`,
            body: `Automatic merge by the node: ${merge.paths.length} path(s) from ${plan.with}.`,
          });
          await this.verify(oid);
          log(
            `main      merged ${plan.peer}'s ${plan.with.slice(0, 12)} as ${oid.slice(0, 12)} (${merge.paths.length} path(s))`,
          );
          result.moved = true;
        }
      }
      for (const oid of [...this.#firstSeen.keys()])
        if (!candidates.some((c) => c.oid === oid)) this.#firstSeen.delete(oid);
      return result;
    });
  }

  /** How each remote head relates to local main: for `gdo status` and the HTTP API. */
  async divergence({ checkMerges = false }: { checkMerges?: boolean } = {}): Promise<Divergence[]> {
    const main = await this.main();
    if (!main) return [];
    const out: Divergence[] = [];
    for (const r of await this.remoteHeads()) {
      const local = r.branch === "main" ? main : await this.repo.readRef(`refs/heads/${r.branch}`);
      if (!local) continue;
      const relation = await this.#relation(local, r.oid);
      // Counting walks both histories: cached per pair, as status is asked often.
      const pair = `${local}:${r.oid}`;
      let counts = this.#counts.get(pair);
      if (!counts) {
        const mine = this.#verifier.ancestors(local);
        const theirs = this.#verifier.ancestors(r.oid);
        counts = { ahead: 0, behind: 0 };
        for (const oid of mine) if (!theirs.has(oid)) counts.ahead++;
        for (const oid of theirs) if (!mine.has(oid)) counts.behind++;
        if (this.#counts.size > 256) this.#counts.clear();
        this.#counts.set(pair, counts);
      }
      const { ahead, behind } = counts;
      let conflicts = this.#conflicts.get(r.oid) ?? [];
      if (checkMerges && relation === "diverged") {
        const plan = await planMerge({
          reader: this.#verifier.reader,
          bases: this.#verifier.mergeBaseTrees(local, r.oid),
          ours: (await this.verify(local)).tree,
          theirs: (await this.verify(r.oid)).tree,
        });
        conflicts = plan.clean ? [] : plan.conflicts.map((c) => c.path);
      }
      out.push({ ...r, relation, ahead, behind, conflicts });
    }
    return out;
  }
}

/** Sets a ref whatever it held, retrying if another writer moved it meanwhile. */
export async function setRef(repo: Repository, ref: string, oid: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const current = await repo.readRef(ref);
    if (current === oid) return;
    try {
      await repo.updateRef({ ref, oid, expected: current });
      return;
    } catch (error) {
      if (!(error instanceof RefConflictError) || attempt >= 5) throw error;
    }
  }
}
