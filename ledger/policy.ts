import { VerificationError } from "./errors.ts";

/**
 * The policy says, per path, who may change it and how many approvals a
 * change needs. Rules are ordered; the first whose pattern matches a path
 * decides, and a path no rule matches cannot be changed at all.
 *
 *   rules:
 *     - paths: ["charter/**"]
 *       writers: [admin]
 *       approvals: { role: admin, count: majority }
 *     - paths: ["logs/{member}/**"]     # {member} = the signer's own name
 *       writers: [device]
 *   requirements:                       # asked for by plugin validators
 *     status-change: { role: editor, count: 2 }
 */
export interface Policy {
  rules: Rule[];
  requirements: Record<string, Approval>;
}

export interface Rule {
  paths: string[];
  /** Roles allowed to sign a change; `member` is every active member. */
  writers: string[];
  approvals: Approval;
}

export interface Approval {
  role: string;
  /** A number of distinct members holding `role`, or more than half of them. */
  count: number | "majority";
}

export const NO_APPROVAL: Approval = { role: "member", count: 0 };

/** The slice of the charter a policy decision reads. */
export interface PolicySubject {
  /** Active members' roles, by member name; every active member has `member`. */
  rolesOf(name: string): readonly string[] | undefined;
  /** How many active members hold a role. */
  countWithRole(role: string): number;
}

export class PolicyViolationError extends VerificationError {
  constructor(reason: string, data: Record<string, unknown>) {
    super("policy-violation", reason, data);
  }
}

const patternCache = new Map<string, RegExp>();

/**
 * Glob over slash-separated paths: `**` any number of segments, `*` within a
 * segment, `{member}` the signer's member name.
 */
export function matchesPattern(pattern: string, path: string, member: string): boolean {
  const key = `${pattern}\u0000${member}`;
  let regex = patternCache.get(key);
  if (!regex) {
    let source = "^";
    const expanded = pattern.replaceAll("{member}", member);
    for (let i = 0; i < expanded.length; i++) {
      const c = expanded[i]!;
      if (c === "*" && expanded[i + 1] === "*") {
        const slash = expanded[i + 2] === "/";
        source += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else if (c === "*") source += "[^/]*";
      else source += c.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    }
    regex = new RegExp(`${source}$`);
    patternCache.set(key, regex);
  }
  return regex.test(path);
}

export function ruleFor(policy: Policy, path: string, member: string): Rule | undefined {
  return policy.rules.find((rule) => rule.paths.some((p) => matchesPattern(p, path, member)));
}

export function requiredCount(approval: Approval, subject: PolicySubject): number {
  if (approval.count === "majority")
    return Math.floor(subject.countWithRole(approval.role) / 2) + 1;
  return approval.count;
}

/** Distinct members among `signers` who hold the approval's role. */
export function countApprovals(
  approval: Approval,
  signers: Iterable<string>,
  subject: PolicySubject,
): number {
  let count = 0;
  for (const name of new Set(signers)) if (subject.rolesOf(name)?.includes(approval.role)) count++;
  return count;
}

export interface ChangeRequest {
  /** The member who signed the block. */
  signer: string;
  /** Members whose valid approvals the block carries (the signer counts too). */
  approvers: readonly string[];
  paths: readonly string[];
  /** Extra requirements raised by plugin validators, e.g. `status-change`. */
  requirements?: readonly { kind: string; path: string }[];
  /**
   * What to check. `full` for a block landing directly; `writers` for a block
   * on a proposal branch (approvals come at its merge); `approvals` for a
   * proposal's merge (each proposal block already passed the writers check).
   */
  mode?: "full" | "writers" | "approvals";
}

/**
 * Decides whether a change may land under a policy. Pure: the same inputs give
 * the same verdict on every peer. Throws the first violation found.
 */
export function authorize(policy: Policy, subject: PolicySubject, request: ChangeRequest): void {
  const mode = request.mode ?? "full";
  const signerRoles = subject.rolesOf(request.signer);
  if (!signerRoles) {
    throw new PolicyViolationError(`'${request.signer}' is not an active member`, {
      signer: request.signer,
    });
  }
  // A merge's approvals are the reviewers' alone: merging is not approving.
  const signers =
    mode === "approvals" ? [...request.approvers] : [request.signer, ...request.approvers];
  for (const path of request.paths) {
    const rule = ruleFor(policy, path, request.signer);
    if (!rule) {
      throw new PolicyViolationError(`no policy rule lets anyone change '${path}'`, {
        path,
        signer: request.signer,
      });
    }
    if (mode !== "approvals" && !rule.writers.some((role) => signerRoles.includes(role))) {
      throw new PolicyViolationError(
        `'${request.signer}' (roles: ${signerRoles.join(", ")}) may not change '${path}'; writers: ${rule.writers.join(", ")}`,
        { path, signer: request.signer, writers: rule.writers },
      );
    }
    if (mode !== "writers") checkApproval(rule.approvals, signers, subject, { path });
  }
  if (mode === "writers") return;
  for (const requirement of request.requirements ?? []) {
    const approval = policy.requirements[requirement.kind];
    if (approval) checkApproval(approval, signers, subject, requirement);
  }
}

function checkApproval(
  approval: Approval,
  signers: readonly string[],
  subject: PolicySubject,
  context: Record<string, unknown>,
): void {
  const needed = requiredCount(approval, subject);
  const have = countApprovals(approval, signers, subject);
  if (have < needed) {
    throw new PolicyViolationError(
      `'${context.path}'${context.kind ? ` (${context.kind})` : ""} needs ${needed} approval(s) from role '${approval.role}', has ${have}; propose it and collect reviews`,
      { ...context, needed, have, role: approval.role },
    );
  }
}

/** One approval requirement a change does not meet yet. */
export interface UnmetApproval {
  path: string;
  kind?: string;
  role: string;
  needed: number;
  have: number;
}

/**
 * Every approval requirement `approvers` do not meet, grouped by (role, kind):
 * what a proposal "still needs". Same rules as `authorize` in approvals mode.
 */
export function unmetApprovals(
  policy: Policy,
  subject: PolicySubject,
  request: {
    signer: string;
    approvers: readonly string[];
    paths: readonly string[];
    requirements?: readonly { kind: string; path: string }[];
  },
): UnmetApproval[] {
  const unmet = new Map<string, UnmetApproval>();
  const consider = (approval: Approval, path: string, kind?: string) => {
    const needed = requiredCount(approval, subject);
    const have = countApprovals(approval, request.approvers, subject);
    const key = `${approval.role}\u0000${kind ?? ""}`;
    if (have < needed && !unmet.has(key))
      unmet.set(key, { path, kind, role: approval.role, needed, have });
  };
  for (const path of request.paths) {
    const rule = ruleFor(policy, path, request.signer);
    if (rule) consider(rule.approvals, path);
  }
  for (const requirement of request.requirements ?? []) {
    const approval = policy.requirements[requirement.kind];
    if (approval) consider(approval, requirement.path, requirement.kind);
  }
  return [...unmet.values()];
}
