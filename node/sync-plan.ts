/**
 * Deciding where `main` goes after a sync, as a pure function of what the
 * node knows (no I/O), so every rule here has a unit test without sockets.
 *
 * Clocks are never used to order blocks: only ancestry (parent links) and, to
 * break ties deterministically, generation and block id. The one use of time
 * is how long to let the other side make a merge before making it ourselves.
 */

/** How a peer's head relates to local main. */
export type Relation = "same" | "behind" | "ahead" | "diverged";

export interface Candidate {
  /** Member name of the peer that advertised it. */
  peer: string;
  oid: string;
  generation: number;
  /** `ahead`: the peer's head descends from main (fast-forward possible). */
  relation: Relation;
}

export type MainPlan =
  | { kind: "stay" }
  | { kind: "fast-forward"; to: string; peer: string }
  | { kind: "merge"; with: string; peer: string }
  | { kind: "wait"; with: string; peer: string; reason: string };

export interface PlanInput {
  main: string;
  candidates: Candidate[];
  /** The node's key is an active member and config.autoMerge is on. */
  canMerge: boolean;
  /** Peers currently connected (member names). */
  connected: ReadonlySet<string>;
  /** When this node first saw each diverged head (ms), to bound the wait. */
  firstSeen: ReadonlyMap<string, number>;
  /** Heads whose merge is known to conflict: never retried automatically. */
  conflicted: ReadonlySet<string>;
  now: number;
  graceMs: number;
}

/**
 * 1. A head that descends from main: fast-forward to the deepest one (ties:
 *    smallest id), so every node picks the same.
 * 2. Otherwise, a diverged head: merge it if allowed. Two nodes that see the
 *    same pair (A's main, B's main) would each write a merge, and their two
 *    merges would diverge again; so only the side whose main has the smaller
 *    block id merges at once, and the other waits for that merge to arrive.
 *    It stops waiting when the head's peer is not connected (nobody else will
 *    merge it) or after `graceMs`: a spare merge is harmless, a stuck
 *    divergence is not.
 */
export function planMain(input: PlanInput): MainPlan {
  const byDepth = (a: Candidate, b: Candidate) =>
    b.generation - a.generation || (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0);
  const ahead = input.candidates.filter((c) => c.relation === "ahead").sort(byDepth);
  if (ahead.length > 0) return { kind: "fast-forward", to: ahead[0]!.oid, peer: ahead[0]!.peer };
  const diverged = input.candidates
    .filter((c) => c.relation === "diverged" && !input.conflicted.has(c.oid))
    .sort(byDepth);
  const next = diverged[0];
  if (!next || !input.canMerge) return { kind: "stay" };
  if (input.main < next.oid) return { kind: "merge", with: next.oid, peer: next.peer };
  if (!input.connected.has(next.peer)) return { kind: "merge", with: next.oid, peer: next.peer };
  const seen = input.firstSeen.get(next.oid) ?? input.now;
  if (input.now - seen >= input.graceMs) return { kind: "merge", with: next.oid, peer: next.peer };
  return {
    kind: "wait",
    with: next.oid,
    peer: next.peer,
    reason: `${next.peer} merges this divergence (its head has the smaller id); waiting up to ${Math.round(input.graceMs / 1000)} s`,
  };
}
