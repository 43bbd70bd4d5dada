import { VerificationError } from "./errors.ts";
import type { SshPrivateKey, SshPublicKey } from "./sshkey.ts";
import { parseSshsig, signSshsig, verifyParsed } from "./sshsig.ts";

/**
 * An approval (or rejection) of a proposal, signed by a reviewer. It is bound
 * to one ledger, one proposal and that proposal's exact head: approving an
 * older head says nothing about a newer one, and an approval cannot be
 * replayed onto another proposal or ledger. The signed text is fixed:
 *
 *   gdo approval v1
 *   ledger <32-hex ledger id>
 *   proposal <proposal id>
 *   head <40-hex commit id>
 *   verdict approve|reject
 *
 * signed as SSHSIG with namespace "gdo-approval" (never "git", so an approval
 * can never pass for a block signature and vice versa).
 */
export const APPROVAL_NAMESPACE = "gdo-approval";

export type Verdict = "approve" | "reject";

export interface ApprovalTarget {
  ledgerId: string;
  proposal: string;
  head: string;
}

export interface SignedApproval extends ApprovalTarget {
  verdict: Verdict;
  /** The armored SSHSIG. */
  signature: string;
}

export class BadApprovalError extends VerificationError {
  constructor(reason: string, data: Record<string, unknown> = {}) {
    super("bad-approval", `approval: ${reason}`, data);
  }
}

export const PROPOSAL_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function approvalText(target: ApprovalTarget, verdict: Verdict): string {
  return `gdo approval v1\nledger ${target.ledgerId}\nproposal ${target.proposal}\nhead ${target.head}\nverdict ${verdict}\n`;
}

export function signApproval(
  key: SshPrivateKey,
  target: ApprovalTarget,
  verdict: Verdict,
): SignedApproval {
  const message = new TextEncoder().encode(approvalText(target, verdict));
  return {
    ...target,
    verdict,
    signature: signSshsig({ message, key, namespace: APPROVAL_NAMESPACE }),
  };
}

/** Checks an approval against the target it claims; returns the signer's key. */
export function verifyApproval(approval: SignedApproval, target: ApprovalTarget): SshPublicKey {
  if (
    approval.ledgerId !== target.ledgerId ||
    approval.proposal !== target.proposal ||
    approval.head !== target.head
  ) {
    throw new BadApprovalError(
      `is for proposal ${approval.proposal} at ${approval.head}, not ${target.proposal} at ${target.head}`,
      { ...target },
    );
  }
  const parsed = parseSshsig(approval.signature, "approval");
  const message = new TextEncoder().encode(approvalText(target, approval.verdict));
  if (!verifyParsed(parsed, message, APPROVAL_NAMESPACE)) {
    throw new BadApprovalError(
      `signature by ${parsed.publicKey.fingerprint} does not match proposal ${target.proposal} at ${target.head}`,
      {
        key: parsed.publicKey.fingerprint,
        ...target,
      },
    );
  }
  return parsed.publicKey;
}

/**
 * Approvals travel inside the merge block as trailers, one line each, so a
 * merge carries its whole proof: `Gdo-Approval: <verdict> <base64 SSHSIG blob>`.
 */
export function approvalTrailer(approval: SignedApproval): string {
  const body = approval.signature
    .replace(/-----(BEGIN|END) SSH SIGNATURE-----/g, "")
    .replace(/\s+/g, "");
  return `${approval.verdict} ${body}`;
}

export function parseApprovalTrailer(value: string, target: ApprovalTarget): SignedApproval {
  const match = /^(approve|reject) ([A-Za-z0-9+/=]+)$/.exec(value);
  if (!match) throw new BadApprovalError(`malformed trailer '${value.slice(0, 40)}…'`);
  const lines = match[2]!.match(/.{1,70}/g) ?? [];
  const signature = `-----BEGIN SSH SIGNATURE-----\n${lines.join("\n")}\n-----END SSH SIGNATURE-----\n`;
  return { ...target, verdict: match[1] as Verdict, signature };
}
