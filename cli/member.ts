import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { MEMBER_NAME, MEMBERS_DIR, type Member, serializeMember } from "../ledger/charter.ts";
import { GdoError, UsageError } from "../ledger/errors.ts";
import type { Ledger } from "../ledger/ledger.ts";
import { parsePublicKey } from "../ledger/sshkey.ts";
import { type Command, type ParsedArgs, stringOption } from "./command.ts";
import { loadKey, openLedger } from "./workspace.ts";

const encoder = new TextEncoder();

function today(): string {
  return new Date().toISOString().slice(0, 10);
}

function memberEdit(
  member: Member,
  changes: Partial<{ revoked: string; revokedReason: string }> = {},
) {
  return {
    path: `${MEMBERS_DIR}/${member.name}.yaml`,
    content: encoder.encode(
      serializeMember({
        name: member.name,
        key: member.key.keyText,
        roles: member.roles,
        added: member.added,
        revoked: changes.revoked ?? member.revoked,
        revokedReason: changes.revokedReason ?? member.revokedReason,
      }),
    ),
  };
}

function oneName(args: ParsedArgs, usage: string): string {
  if (args.positionals.length !== 1)
    throw new UsageError(`expected one member name\nusage: gdo ${usage}`);
  const name = args.positionals[0]!;
  if (!MEMBER_NAME.test(name))
    throw new UsageError(`member name '${name}' must match ${MEMBER_NAME}`);
  return name;
}

async function branchOf(args: ParsedArgs) {
  return stringOption(args, "branch") ?? "main";
}

const addUsage =
  "member add NAME (--pubkey 'ssh-ed25519 AAAA…' | --pubkey-file FILE.pub) [--role ROLE]… [--branch B]";
const add: Command = {
  name: "add",
  summary: "add a member (a person or a device) with its public key and roles",
  usage: addUsage,
  options: {
    pubkey: { type: "string" },
    "pubkey-file": { type: "string" },
    role: { type: "string", multiple: true },
    branch: { type: "string" },
  },
  async run(ctx, args) {
    const name = oneName(args, addUsage);
    const inline = stringOption(args, "pubkey");
    const file = stringOption(args, "pubkey-file");
    if ((inline === undefined) === (file === undefined))
      throw new UsageError(`give exactly one of --pubkey or --pubkey-file\nusage: gdo ${addUsage}`);
    const source = file ? resolve(ctx.cwd, file) : "--pubkey";
    const line = file ? (await readFile(source, "utf8")).trim() : inline!;
    const publicKey = parsePublicKey(line, source);
    const roles = (args.values.role as string[] | undefined) ?? [];
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    const ref = await branchOf(args);
    const charter = await ledger.charter(ref);
    if (charter.members.has(name))
      throw new GdoError("member-exists", `member '${name}' already exists`, { name });
    const oid = await ledger.commit({
      key,
      ref,
      message: `Add member ${name}${roles.length ? ` (${roles.join(", ")})` : ""}`,
      edits: [
        {
          path: `${MEMBERS_DIR}/${name}.yaml`,
          content: encoder.encode(
            serializeMember({ name, key: publicKey.keyText, roles, added: today() }),
          ),
        },
      ],
    });
    ctx.out(`added ${name} (${publicKey.fingerprint}) in block ${oid}\n`);
    return 0;
  },
};

const revokeUsage = "member revoke NAME [--reason TEXT] [--branch B]";
const revoke: Command = {
  name: "revoke",
  summary: "revoke a member: its key can sign nothing from the next block on",
  usage: revokeUsage,
  options: { reason: { type: "string" }, branch: { type: "string" } },
  async run(ctx, args) {
    const name = oneName(args, revokeUsage);
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    const ref = await branchOf(args);
    const member = (await ledger.charter(ref)).members.get(name);
    if (!member) throw new GdoError("member-unknown", `no member named '${name}'`, { name });
    if (member.revoked)
      throw new GdoError("member-revoked", `'${name}' was already revoked on ${member.revoked}`, {
        name,
      });
    const reason = stringOption(args, "reason");
    const oid = await ledger.commit({
      key,
      ref,
      message: `Revoke member ${name}`,
      body: reason,
      edits: [memberEdit(member, { revoked: today(), revokedReason: reason })],
    });
    ctx.out(`revoked ${name} in block ${oid}\n`);
    return 0;
  },
};

/** git's allowed-signers format: `principal namespaces="git" ssh-ed25519 AAAA…`. */
export function allowedSigners(members: Iterable<Member>): string {
  let text = "";
  for (const m of members) text += `${m.name} namespaces="git" ${m.key.keyText}\n`;
  return text;
}

async function listMembers(ledger: Ledger, ref: string) {
  return [...(await ledger.charter(ref)).members.values()].sort((a, b) =>
    a.name.localeCompare(b.name),
  );
}

const list: Command = {
  name: "list",
  summary: "list members; --allowed-signers prints a git allowed-signers file",
  usage: "member list [--allowed-signers] [--branch B]",
  options: { "allowed-signers": { type: "boolean" }, branch: { type: "string" } },
  async run(ctx, args) {
    const ledger = await openLedger(ctx);
    const members = await listMembers(ledger, await branchOf(args));
    if (args.values["allowed-signers"]) {
      // Revoked members stay: their earlier blocks must still verify with git.
      ctx.out(allowedSigners(members));
      return 0;
    }
    for (const m of members) {
      const state = m.revoked ? `revoked ${m.revoked}` : "active";
      ctx.out(
        `${m.name.padEnd(20)} ${state.padEnd(18)} ${(m.roles.join(",") || "-").padEnd(20)} ${m.key.fingerprint}\n`,
      );
    }
    return 0;
  },
};

export const memberCommand: Command = {
  name: "member",
  summary: "add, revoke and list the ledger's members",
  usage: "member <add|revoke|list> [options]",
  subcommands: [add, revoke, list],
};
