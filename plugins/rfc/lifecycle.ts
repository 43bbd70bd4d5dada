/**
 * The RFC lifecycle. An RFC is added as a `draft`; each later change of its
 * `status` must be one of these transitions, and each one is a `status-change`
 * requirement that the ledger's policy turns into approvals.
 *
 * ```
 *  draft ──► proposed ──► last-call ──► accepted ──► final
 *    │           │            │  │         │  │        │  │
 *    │           │            │  └► rejected  │        │  │
 *    └───────────┴────────────┴──► withdrawn  │        │  │
 *                                             ├► obsoleted ◄┤
 *                                             └► superseded ◄┘
 * ```
 *
 * | from      | to                                |
 * |-----------|-----------------------------------|
 * | draft     | proposed, withdrawn               |
 * | proposed  | last-call, withdrawn              |
 * | last-call | accepted, rejected, withdrawn     |
 * | accepted  | final, obsoleted, superseded      |
 * | final     | obsoleted, superseded             |
 * | rejected, withdrawn, obsoleted, superseded | none: terminal |
 *
 * There is no way back: an RFC that needs more work after last call, or that
 * should be revived after being withdrawn, continues as a new RFC (which may
 * `obsoletes` or `updates` the old one).
 */
import type { RfcStatus } from "./format.ts";

export const TRANSITIONS: Readonly<Record<RfcStatus, readonly RfcStatus[]>> = Object.freeze({
  draft: ["proposed", "withdrawn"],
  proposed: ["last-call", "withdrawn"],
  "last-call": ["accepted", "rejected", "withdrawn"],
  accepted: ["final", "obsoleted", "superseded"],
  final: ["obsoleted", "superseded"],
  rejected: [],
  withdrawn: [],
  obsoleted: [],
  superseded: [],
});

/** The status every new RFC starts in (imports excepted: see validate.ts). */
export const INITIAL_STATUS: RfcStatus = "draft";

export function isLegalTransition(from: RfcStatus, to: RfcStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Statuses with no way out. */
export function isTerminal(status: RfcStatus): boolean {
  return TRANSITIONS[status].length === 0;
}
