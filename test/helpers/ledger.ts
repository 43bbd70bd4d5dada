import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import {
  type CommitFields,
  formatMessage,
  serializePayload,
  serializeSignedCommit,
} from "../../ledger/commit.ts";
import { Ledger } from "../../ledger/ledger.ts";
import type { Repository } from "../../ledger/repository.ts";
import { generateKey, type SshPrivateKey } from "../../ledger/sshkey.ts";
import { signSshsig } from "../../ledger/sshsig.ts";
import { LEDGER_TRAILER } from "../../ledger/verify.ts";

export const text = (s: string) => new TextEncoder().encode(s);

/** A minimal valid RFC document. */
export function rfcText(n: number, title: string, status = "draft", extra = ""): string {
  return `---\nrfc: ${n}\ntitle: ${title}\nstatus: ${status}\nauthors: [alice]\ncreated: 2026-11-25\n${extra}---\n\n# ${title}\n`;
}

export function scratch(prefix = "gdo-ledger-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A real ledger on disk with a founding admin 'alice'. */
export async function makeLedger(options: { files?: Record<string, string> } = {}) {
  const dir = scratch();
  const alice = generateKey("alice");
  const { ledger, genesis } = await Ledger.create({
    gitdir: join(dir, "ledger.git"),
    key: alice,
    founder: "alice",
    name: "Test Makerspace",
    durable: false,
    files: Object.entries(
      options.files ?? { "rfcs/0001-hello.md": rfcText(1, "Hello", "accepted") },
    ).map(([path, body]) => ({
      path,
      content: text(body),
    })),
  });
  const id = (await ledger.charter()).id;
  return { dir, ledger, genesis, alice, id, gitdir: join(dir, "ledger.git") };
}

export function memberYaml(name: string, key: SshPrivateKey, roles: string[], extra = ""): string {
  return `name: ${name}\nkey: ${key.publicKey.keyText}\nroles: [${roles.join(", ")}]\nadded: 2026-11-25\n${extra}`;
}

/** Adds a member through a real signed block by alice; returns the new key. */
export async function addMember(
  ledger: Ledger,
  admin: SshPrivateKey,
  name: string,
  roles: string[],
) {
  const key = generateKey(name);
  await ledger.commit({
    key: admin,
    edits: [{ path: `charter/members/${name}.yaml`, content: text(memberYaml(name, key, roles)) }],
    message: `Add ${name}`,
  });
  return key;
}

/**
 * Writes a block exactly as an attacker or a buggy peer could: any fields,
 * any key, any ledger id, no checks. The ref is not moved.
 */
export async function forgeBlock(
  repo: Repository,
  input: {
    key: SshPrivateKey;
    name: string;
    tree: string;
    parents: string[];
    ledgerId: string;
    message?: string;
  },
): Promise<string> {
  const who = {
    name: input.name,
    email: `${input.name}@x.gdo`,
    timestamp: 1_790_000_000,
    timezoneOffset: 0,
  };
  const fields: CommitFields = {
    tree: input.tree,
    parents: input.parents,
    author: who,
    committer: who,
    message: formatMessage(input.message ?? "forged", undefined, [
      [LEDGER_TRAILER, input.ledgerId],
    ]),
  };
  const signature = signSshsig({
    message: serializePayload(fields),
    key: input.key,
    namespace: "git",
  });
  return repo.writeObject("commit", serializeSignedCommit(fields, signature));
}

export function git(gitdir: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync("git", [`--git-dir=${gitdir}`, ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function allowedSignersFile(dir: string, content: string): string {
  const path = join(dir, "allowed_signers");
  writeFileSync(path, content);
  return path;
}
