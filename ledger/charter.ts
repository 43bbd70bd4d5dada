import YAML from "yaml";
import { VerificationError } from "./errors.ts";
import {
  type Approval,
  NO_APPROVAL,
  type Policy,
  type PolicySubject,
  type Rule,
} from "./policy.ts";
import { parsePublicKey, type SshPublicKey } from "./sshkey.ts";

/**
 * The charter lives in the ledger's own tree, as small YAML files that diff
 * well in git:
 *
 *   charter/ledger.yaml        id (bound into every block), name
 *   charter/roles.yaml         roles: { admin: "…", editor: "…" }
 *   charter/policy.yaml        rules (see policy.ts) and requirements
 *   charter/members/NAME.yaml  name, key, roles, added, revoked?, revoked-reason?
 *
 * Every block is judged against the charter of its parent, so a change to
 * the charter takes effect from the next block on.
 */
export const CHARTER_DIR = "charter";
export const LEDGER_FILE = "charter/ledger.yaml";
export const ROLES_FILE = "charter/roles.yaml";
export const POLICY_FILE = "charter/policy.yaml";
export const MEMBERS_DIR = "charter/members";

/** Every active member holds this role implicitly. */
export const MEMBER_ROLE = "member";

export interface Member {
  name: string;
  key: SshPublicKey;
  roles: string[];
  added: string;
  revoked?: string;
  revokedReason?: string;
}

export interface Charter extends PolicySubject {
  id: string;
  name: string;
  roles: Map<string, string>;
  members: Map<string, Member>;
  policy: Policy;
  /** Member by raw public key (base64), active or revoked. */
  memberByKey(key: SshPublicKey): Member | undefined;
  isActive(name: string): boolean;
}

export class CharterError extends VerificationError {
  constructor(file: string, field: string | undefined, reason: string) {
    super("charter-invalid", `${file}${field ? `: field '${field}'` : ""}: ${reason}`, {
      file,
      field,
      reason,
    });
  }
}

export const MEMBER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ROLE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const DATE = /^\d{4}-\d{2}-\d{2}(T[0-9:.]+Z)?$/;
const LEDGER_ID = /^[0-9a-f]{32}$/;

const decoder = new TextDecoder("utf-8", { fatal: true });

function parseYaml(file: string, bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new CharterError(file, undefined, "not valid UTF-8");
  }
  const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0]
      ? ` (line ${first.linePos[0].line}, column ${first.linePos[0].col})`
      : "";
    throw new CharterError(
      file,
      undefined,
      `malformed YAML${where}: ${first.message.split("\n")[0]}`,
    );
  }
  const value = doc.toJS();
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CharterError(file, undefined, "must be a mapping of fields");
  }
  return value as Record<string, unknown>;
}

function onlyFields(file: string, value: Record<string, unknown>, allowed: string[], prefix = "") {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new CharterError(
        file,
        `${prefix}${key}`,
        `unknown field (allowed: ${allowed.join(", ")})`,
      );
  }
}

function requireString(
  file: string,
  value: Record<string, unknown>,
  field: string,
  pattern?: RegExp,
): string {
  const v = value[field];
  if (typeof v !== "string" || v.length === 0)
    throw new CharterError(file, field, "must be a non-empty string");
  if (pattern && !pattern.test(v))
    throw new CharterError(file, field, `'${v}' does not match ${pattern}`);
  return v;
}

function optionalDate(
  file: string,
  value: Record<string, unknown>,
  field: string,
): string | undefined {
  const v = value[field];
  if (v === undefined) return undefined;
  // YAML turns bare dates into Date objects; the charter keeps them as text.
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v !== "string" || !DATE.test(v))
    throw new CharterError(file, field, "must be a date (YYYY-MM-DD)");
  return v;
}

function parseApproval(
  file: string,
  field: string,
  value: unknown,
  roles: Map<string, string>,
): Approval {
  if (value === undefined || value === "none") return NO_APPROVAL;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CharterError(file, field, "must be { role, count } or 'none'");
  }
  const v = value as Record<string, unknown>;
  onlyFields(file, v, ["role", "count"], `${field}.`);
  const role = requireString(file, v, "role");
  if (role !== MEMBER_ROLE && !roles.has(role))
    throw new CharterError(file, `${field}.role`, `unknown role '${role}'`);
  const count = v.count;
  if (
    count !== "majority" &&
    !(Number.isInteger(count) && (count as number) >= 0 && (count as number) <= 1000)
  ) {
    throw new CharterError(file, `${field}.count`, "must be a whole number or 'majority'");
  }
  return { role, count: count as number | "majority" };
}

function parsePolicy(
  file: string,
  value: Record<string, unknown>,
  roles: Map<string, string>,
): Policy {
  onlyFields(file, value, ["rules", "requirements"]);
  if (!Array.isArray(value.rules) || value.rules.length === 0) {
    throw new CharterError(file, "rules", "must be a non-empty list");
  }
  const rules: Rule[] = value.rules.map((raw, i) => {
    const field = `rules[${i}]`;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw))
      throw new CharterError(file, field, "must be a mapping");
    const r = raw as Record<string, unknown>;
    onlyFields(file, r, ["paths", "writers", "approvals"], `${field}.`);
    const paths = r.paths;
    if (
      !Array.isArray(paths) ||
      paths.length === 0 ||
      !paths.every(
        (p) =>
          typeof p === "string" &&
          p.length > 0 &&
          !p.startsWith("/") &&
          !p.split("/").includes(".."),
      )
    ) {
      throw new CharterError(
        file,
        `${field}.paths`,
        "must be a non-empty list of relative path patterns",
      );
    }
    const writers = r.writers;
    if (
      !Array.isArray(writers) ||
      writers.length === 0 ||
      !writers.every((w) => typeof w === "string")
    ) {
      throw new CharterError(file, `${field}.writers`, "must be a non-empty list of roles");
    }
    for (const w of writers) {
      if (w !== MEMBER_ROLE && !roles.has(w))
        throw new CharterError(file, `${field}.writers`, `unknown role '${w}'`);
    }
    return {
      paths,
      writers,
      approvals: parseApproval(file, `${field}.approvals`, r.approvals, roles),
    };
  });
  const requirements: Record<string, Approval> = {};
  if (value.requirements !== undefined) {
    if (
      value.requirements === null ||
      typeof value.requirements !== "object" ||
      Array.isArray(value.requirements)
    ) {
      throw new CharterError(
        file,
        "requirements",
        "must be a mapping of requirement kind to approval",
      );
    }
    for (const [kind, approval] of Object.entries(value.requirements)) {
      requirements[kind] = parseApproval(file, `requirements.${kind}`, approval, roles);
    }
  }
  return { rules, requirements };
}

function parseMember(
  file: string,
  value: Record<string, unknown>,
  roles: Map<string, string>,
): Member {
  onlyFields(file, value, ["name", "key", "roles", "added", "revoked", "revoked-reason"]);
  const name = requireString(file, value, "name", MEMBER_NAME);
  const expectedFile = `${MEMBERS_DIR}/${name}.yaml`;
  if (file !== expectedFile)
    throw new CharterError(file, "name", `member '${name}' must live in ${expectedFile}`);
  const keyLine = requireString(file, value, "key");
  let key: SshPublicKey;
  try {
    key = parsePublicKey(keyLine, `${file}: key`);
  } catch (error) {
    throw new CharterError(file, "key", (error as Error).message);
  }
  const memberRoles = value.roles ?? [];
  if (!Array.isArray(memberRoles) || !memberRoles.every((r) => typeof r === "string")) {
    throw new CharterError(file, "roles", "must be a list of role names");
  }
  for (const role of memberRoles) {
    if (role !== MEMBER_ROLE && !roles.has(role))
      throw new CharterError(file, "roles", `unknown role '${role}'`);
  }
  const added = optionalDate(file, value, "added");
  if (!added) throw new CharterError(file, "added", "is required (YYYY-MM-DD)");
  const revoked = optionalDate(file, value, "revoked");
  const revokedReason = value["revoked-reason"];
  if (revokedReason !== undefined && typeof revokedReason !== "string") {
    throw new CharterError(file, "revoked-reason", "must be a string");
  }
  return { name, key, roles: [...new Set(memberRoles as string[])], added, revoked, revokedReason };
}

/**
 * Builds a charter from the files under `charter/` (paths relative to the
 * ledger root). Pure; every problem names the file and the field.
 */
export function parseCharter(files: Map<string, Uint8Array>): Charter {
  const get = (file: string) => {
    const bytes = files.get(file);
    if (!bytes) throw new CharterError(file, undefined, "is missing");
    return parseYaml(file, bytes);
  };
  for (const file of files.keys()) {
    const known =
      file === LEDGER_FILE ||
      file === ROLES_FILE ||
      file === POLICY_FILE ||
      (file.startsWith(`${MEMBERS_DIR}/`) &&
        file.endsWith(".yaml") &&
        file.split("/").length === 3);
    if (!known) throw new CharterError(file, undefined, "unexpected file in charter/");
  }
  const ledger = get(LEDGER_FILE);
  onlyFields(LEDGER_FILE, ledger, ["id", "name"]);
  const id = requireString(LEDGER_FILE, ledger, "id", LEDGER_ID);
  const name = requireString(LEDGER_FILE, ledger, "name");

  const rolesDoc = get(ROLES_FILE);
  onlyFields(ROLES_FILE, rolesDoc, ["roles"]);
  const rawRoles = rolesDoc.roles;
  if (rawRoles === null || typeof rawRoles !== "object" || Array.isArray(rawRoles)) {
    throw new CharterError(ROLES_FILE, "roles", "must be a mapping of role name to description");
  }
  const roles = new Map<string, string>();
  for (const [role, description] of Object.entries(rawRoles)) {
    if (!ROLE_NAME.test(role)) throw new CharterError(ROLES_FILE, `roles.${role}`, "bad role name");
    if (role === MEMBER_ROLE)
      throw new CharterError(ROLES_FILE, `roles.${role}`, "'member' is implicit");
    if (typeof description !== "string")
      throw new CharterError(ROLES_FILE, `roles.${role}`, "description must be a string");
    roles.set(role, description);
  }

  const policy = parsePolicy(POLICY_FILE, get(POLICY_FILE), roles);

  const members = new Map<string, Member>();
  const byKey = new Map<string, Member>();
  for (const file of [...files.keys()].filter((f) => f.startsWith(`${MEMBERS_DIR}/`)).sort()) {
    const member = parseMember(file, get(file), roles);
    const rawKey = Buffer.from(member.key.raw).toString("base64");
    const other = byKey.get(rawKey);
    if (other) throw new CharterError(file, "key", `same key as member '${other.name}'`);
    members.set(member.name, member);
    byKey.set(rawKey, member);
  }
  const active = [...members.values()].filter((m) => !m.revoked);
  if (!active.some((m) => m.roles.includes("admin"))) {
    throw new CharterError(MEMBERS_DIR, "roles", "the charter needs at least one active admin");
  }
  const roleCounts = new Map<string, number>();
  for (const m of active)
    for (const r of [MEMBER_ROLE, ...m.roles]) roleCounts.set(r, (roleCounts.get(r) ?? 0) + 1);

  return {
    id,
    name,
    roles,
    members,
    policy,
    memberByKey: (key) => byKey.get(Buffer.from(key.raw).toString("base64")),
    isActive: (n) => {
      const m = members.get(n);
      return m !== undefined && !m.revoked;
    },
    rolesOf: (n) => {
      const m = members.get(n);
      return m && !m.revoked ? [MEMBER_ROLE, ...m.roles] : undefined;
    },
    countWithRole: (role) => roleCounts.get(role) ?? 0,
  };
}

/**
 * Rules a charter change must keep across blocks (beyond being well formed):
 * the ledger id never changes, a revoked member stays revoked, and a revoked
 * key never comes back under another name.
 */
export function checkCharterTransition(before: Charter, after: Charter): void {
  if (before.id !== after.id)
    throw new CharterError(LEDGER_FILE, "id", "the ledger id cannot change");
  for (const old of before.members.values()) {
    const now = after.members.get(old.name);
    const file = `${MEMBERS_DIR}/${old.name}.yaml`;
    if (!now) throw new CharterError(file, undefined, "members are revoked, never deleted");
    if (Buffer.compare(Buffer.from(old.key.raw), Buffer.from(now.key.raw)) !== 0) {
      throw new CharterError(
        file,
        "key",
        "a member's key cannot change; revoke and add a new member",
      );
    }
    if (old.revoked && !now.revoked)
      throw new CharterError(file, "revoked", "a revoked member cannot be reinstated");
    if (old.revoked) {
      const same =
        old.revoked === now.revoked &&
        old.revokedReason === now.revokedReason &&
        old.roles.join() === now.roles.join();
      if (!same) throw new CharterError(file, undefined, "a revoked member's record is frozen");
    }
  }
}

export function serializeMember(member: {
  name: string;
  key: string;
  roles: string[];
  added: string;
  revoked?: string;
  revokedReason?: string;
}): string {
  const doc: Record<string, unknown> = {
    name: member.name,
    key: member.key,
    roles: member.roles,
    added: member.added,
  };
  if (member.revoked) doc.revoked = member.revoked;
  if (member.revokedReason) doc["revoked-reason"] = member.revokedReason;
  return YAML.stringify(doc);
}

/** The default roles and policy a new ledger starts with (see RFC 2). */
export function defaultCharterFiles(input: { id: string; name: string }): Map<string, string> {
  const files = new Map<string, string>();
  files.set(LEDGER_FILE, YAML.stringify({ id: input.id, name: input.name }));
  files.set(
    ROLES_FILE,
    YAML.stringify({
      roles: {
        admin: "Changes the charter: members, roles and policy.",
        editor: "Reviews RFCs and approves status changes.",
        device: "A machine (a door, a tool) that writes only its own log.",
      },
    }),
  );
  files.set(
    POLICY_FILE,
    `# First matching rule decides; a path no rule matches cannot be changed.
${YAML.stringify({
  rules: [
    { paths: ["charter/**"], writers: ["admin"], approvals: { role: "admin", count: "majority" } },
    { paths: ["logs/{member}/**"], writers: ["device", "admin"], approvals: "none" },
    { paths: ["rfcs/**", "blobs/**"], writers: ["member"], approvals: "none" },
    { paths: ["reviews/**"], writers: ["member"], approvals: "none" },
  ],
  requirements: {
    "status-change": { role: "editor", count: "majority" },
    import: { role: "editor", count: "majority" },
  },
})}`,
  );
  return files;
}
