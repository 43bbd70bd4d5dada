import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { deflateSync } from "node:zlib";
import { commands } from "../../cli/commands.ts";
import { gdo } from "../helpers/cli.ts";
import { scratch } from "../helpers/ledger.ts";

const root = join(import.meta.dirname, "..", "..");

function rfc(n: number, title: string, status = "draft"): string {
  return `---\nrfc: ${n}\ntitle: ${title}\nstatus: ${status}\nauthors: [alice]\ncreated: 2026-11-25\n---\n\n# ${title}\n`;
}

/** A folder with a key and an initialised ledger holding one RFC. */
async function workspace() {
  const cwd = scratch("gdo-cli-");
  mkdirSync(join(cwd, "rfcs"));
  writeFileSync(join(cwd, "rfcs", "0001-first.md"), rfc(1, "First", "accepted"));
  assert.equal((await gdo(["key", "new", "--comment", "alice@example"], cwd)).code, 0);
  const init = await gdo(["init", "--name", "Test Space"], cwd);
  assert.equal(init.code, 0, init.err);
  return cwd;
}

describe("gdo ledger commands", () => {
  test("should answer --help on every command and subcommand with exit 0", async () => {
    const cwd = scratch("gdo-cli-");
    const visit = async (path: string[], cmd: (typeof commands)[number]) => {
      const run = await gdo([...path, cmd.name, "--help"], cwd);
      assert.equal(run.code, 0, `${[...path, cmd.name].join(" ")} --help: ${run.err}`);
      assert.match(run.out, /usage: gdo /);
      for (const sub of cmd.subcommands ?? []) await visit([...path, cmd.name], sub);
    };
    for (const cmd of commands) await visit([], cmd);
  });

  test("should exit 2 on an unknown command or flag and 3 when the key is missing", async () => {
    const cwd = scratch("gdo-cli-");
    assert.equal((await gdo(["frobnicate"], cwd)).code, 2);
    assert.equal((await gdo(["verify", "--nope"], cwd)).code, 2);
    const noKey = await gdo(["init"], cwd);
    assert.equal(noKey.code, 3);
    assert.match(noKey.err, /key/);
  });

  test("should init, add and revoke members, write blocks and log them with verdicts", async () => {
    const cwd = await workspace();
    assert.equal(
      (await gdo(["key", "new", "--key", "door.key", "--comment", "door"], cwd)).code,
      0,
    );
    const add = await gdo(
      ["member", "add", "door-1", "--pubkey-file", "door.key.pub", "--role", "device"],
      cwd,
    );
    assert.equal(add.code, 0, add.err);
    writeFileSync(join(cwd, "swipe.log"), "badge 7 allowed\n");
    const own = await gdo(
      ["write", "--key", "door.key", "logs/door-1/today.log=swipe.log", "-m", "swipes"],
      cwd,
    );
    assert.equal(own.code, 0, own.err);
    const other = await gdo(
      ["write", "--key", "door.key", "charter/roles.yaml=swipe.log", "-m", "grab"],
      cwd,
    );
    assert.equal(other.code, 1);
    assert.match(other.err, /policy-violation/);
    assert.equal((await gdo(["member", "revoke", "door-1", "--reason", "stolen"], cwd)).code, 0);
    const after = await gdo(
      ["write", "--key", "door.key", "logs/door-1/today.log=rfcs/0001-first.md", "-m", "x"],
      cwd,
    );
    assert.equal(after.code, 3);
    assert.match(after.err, /not an active member/);
    const list = await gdo(["member", "list"], cwd);
    assert.match(list.out, /door-1\s+revoked \d{4}-\d{2}-\d{2}/);
    const log = await gdo(["log"], cwd);
    assert.equal(log.code, 0);
    const lines = log.out.trim().split("\n");
    assert.equal(lines.length, 4);
    assert.ok(
      lines.every((l) => / valid /.test(l)),
      log.out,
    );
    assert.match(lines[0]!, /Revoke member door-1/);
    const verify = await gdo(["verify"], cwd);
    assert.equal(verify.code, 0);
    assert.match(verify.out, /all valid/);
  });

  test("should start a branch only when asked to, with its first block", async () => {
    const cwd = await workspace();
    writeFileSync(join(cwd, "two.md"), rfc(2, "Two"));
    const missing = await gdo(
      ["write", "--branch", "wg", "rfcs/0002-two.md=two.md", "-m", "x"],
      cwd,
    );
    assert.equal(missing.code, 3);
    assert.match(missing.err, /branch 'wg' does not exist; start it .* with --from/);
    // A first block that policy refuses starts nothing.
    writeFileSync(join(cwd, "x"), "x");
    const refused = await gdo(
      ["write", "--branch", "wg", "--from", "main", "notes/x=x", "-m", "x"],
      cwd,
    );
    assert.equal(refused.code, 1, refused.err);
    assert.doesNotMatch((await gdo(["branches"], cwd)).out, /wg/);
    const started = await gdo(
      ["write", "--branch", "wg", "--from", "main", "rfcs/0002-two.md=two.md", "-m", "Two on wg"],
      cwd,
    );
    assert.equal(started.code, 0, started.err);
    assert.match((await gdo(["branches"], cwd)).out, /wg\s+[0-9a-f]{12}\s+ahead of main by 1/);
    const again = await gdo(
      ["write", "--branch", "wg", "--from", "main", "rfcs/0002-two.md=two.md", "-m", "y"],
      cwd,
    );
    assert.equal(again.code, 2);
    assert.match(again.err, /branch 'wg' exists already/);
  });

  test("should exit 1 from verify and name the block when an object was tampered with", async () => {
    const cwd = await workspace();
    writeFileSync(join(cwd, "x.md"), rfc(2, "Second"));
    const written = await gdo(["write", "rfcs/0002-second.md=x.md", "-m", "two"], cwd);
    assert.equal(written.code, 0, written.err);
    const oid = written.out.trim();
    const path = join(cwd, ".gdo", "ledger.git", "objects", oid.slice(0, 2), oid.slice(2));
    const raw = readFileSync(path);
    writeFileSync(path, deflateSync(Buffer.from("commit 3\0abc")));
    const verify = await gdo(["verify"], cwd);
    assert.equal(verify.code, 1);
    assert.match(verify.out, new RegExp(`INVALID.*\\n.*${oid}.*corrupt-object`));
    writeFileSync(path, raw);
    assert.equal((await gdo(["verify"], cwd)).code, 0);
    // A branch pointing at an object that does not exist.
    writeFileSync(join(cwd, ".gdo", "ledger.git", "refs", "heads", "ghost"), `${"0".repeat(40)}\n`);
    const ghost = await gdo(["verify"], cwd);
    assert.equal(ghost.code, 1);
    assert.match(ghost.out, /refs\/heads\/ghost[\s\S]*missing-object/);
  });

  test("should run through the bin launcher under the machine's default node", () => {
    const cwd = scratch("gdo-cli-");
    const env = { ...process.env, PATH: "/usr/local/bin:/usr/bin:/bin" };
    const run = (args: string[]) =>
      spawnSync("node", [join(root, "cli", "gdo.js"), ...args], { cwd, encoding: "utf8", env });
    assert.equal(run(["key", "new", "--comment", "alice"]).status, 0);
    const init = run(["init", "--rfcs", join(root, "rfcs"), "--name", "gdo"]);
    assert.equal(init.status, 0, init.stderr);
    assert.match(init.stdout, /genesis [0-9a-f]{40}: founder alice .* \d+ archive file/);
    const verify = run(["verify"]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /all valid/);
    assert.equal(run(["nope"]).status, 2);
  });

  test("should run through the bin launcher on the pinned node and through npx", () => {
    const pinned = spawnSync(process.execPath, [join(root, "cli", "gdo.js"), "--help"], {
      encoding: "utf8",
    });
    assert.equal(pinned.status, 0, pinned.stderr);
    assert.match(pinned.stdout, /usage: gdo <command>/);
    const npx = spawnSync("npx", ["--no-install", "gdo", "--help"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(npx.status, 0, npx.stderr);
    assert.match(npx.stdout, /usage: gdo <command>/);
  });
});
