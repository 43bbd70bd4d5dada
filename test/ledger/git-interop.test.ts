import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runCli } from "../../cli/main.ts";
import { writeKeyFile } from "../../ledger/keyfile.ts";
import { type CommitInput, Ledger } from "../../ledger/ledger.ts";
import { generateKey } from "../../ledger/sshkey.ts";
import { Verifier } from "../../ledger/verify.ts";
import {
  addMember,
  allowedSignersFile,
  git,
  makeLedger,
  rfcText,
  scratch,
  text,
} from "../helpers/ledger.ts";
import { needs } from "../helpers/system.ts";

const root = join(import.meta.dirname, "..", "..");

async function cli(args: string[], cwd: string) {
  let out = "";
  let err = "";
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s), cwd, env: {} });
  return { code, out, err };
}

describe("stock git and the ledger", () => {
  it("should have every block accepted by git verify-commit and the repository by git fsck --strict", {
    skip: needs("git", "ssh-keygen"),
  }, async () => {
    const { ledger, alice, dir, gitdir } = await makeLedger();
    const bob = await addMember(ledger, alice, "bob", ["editor"]);
    await ledger.commit({
      key: bob,
      edits: [{ path: "rfcs/0002-two.md", content: text(rfcText(2, "Two")) }],
      message: "RFC 2",
    });
    const door = await addMember(ledger, alice, "door-1", ["device"]);
    await ledger.commit({
      key: door,
      edits: [{ path: "logs/door-1/log", content: text("swipe\n") }],
      message: "log",
    });

    const listed = await cli(["member", "list", "--allowed-signers", "--ledger", gitdir], dir);
    assert.equal(listed.code, 0, listed.err);
    assert.equal(listed.out.trim().split("\n").length, 3);
    const signers = allowedSignersFile(dir, listed.out);
    const env = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };
    const revs = git(gitdir, ["rev-list", "--all"], env).stdout.trim().split("\n");
    assert.equal(revs.length, 5);
    for (const rev of revs) {
      const result = git(
        gitdir,
        ["-c", `gpg.ssh.allowedSignersFile=${signers}`, "verify-commit", rev],
        env,
      );
      assert.equal(result.status, 0, `git verify-commit ${rev}: ${result.stderr}`);
      assert.match(result.stderr, /Good "git" signature for (alice|bob|door-1)/);
    }
    const fsck = git(gitdir, ["fsck", "--full", "--strict"], env);
    assert.equal(fsck.status, 0, fsck.stderr);
    assert.doesNotMatch(fsck.stderr + fsck.stdout, /error|warning|broken/i);
  });

  it("should have git reject a block whose signer is not in the allowed signers", {
    skip: needs("git", "ssh-keygen"),
  }, async () => {
    const { gitdir, dir } = await makeLedger();
    const signers = allowedSignersFile(dir, "");
    const result = git(gitdir, [
      "-c",
      `gpg.ssh.allowedSignersFile=${signers}`,
      "verify-commit",
      "main",
    ]);
    assert.notEqual(result.status, 0);
  });

  it("should leave nothing in the repository for a block it refuses", {
    skip: needs("git"),
  }, async () => {
    const { ledger, alice, gitdir } = await makeLedger();
    const bob = await addMember(ledger, alice, "bob", ["device"]);
    const objects = () =>
      git(gitdir, ["cat-file", "--batch-all-objects", "--batch-check=%(objectname)"]).stdout;
    const before = objects();
    const large = new Uint8Array(1024 * 1024).fill(7);
    const refused: [CommitInput, string][] = [
      // No rule lets anyone write here.
      [
        { key: alice, edits: [{ path: "notes/big.bin", content: large }], message: "x" },
        "policy-violation",
      ],
      // A device may not change the charter.
      [
        { key: bob, edits: [{ path: "charter/members/eve.yaml", content: large }], message: "x" },
        "policy-violation",
      ],
      // A proposal's block may reach main only through a proof of merge.
      [
        {
          key: alice,
          edits: [{ path: "rfcs/0002-two.md", content: text(rfcText(2, "Two")) }],
          message: "x",
          trailers: [["Gdo-Proposal", "p1"]],
        },
        "unmerged-proposal",
      ],
    ];
    for (const [input, code] of refused) await assert.rejects(ledger.commit(input), { code });
    assert.equal(objects(), before, "a refused block's objects were stored");
    assert.equal(git(gitdir, ["fsck", "--strict", "--unreachable"]).stdout, "");
    // The next valid block lands as before, and its objects are stored.
    const oid = await ledger.commit({
      key: bob,
      edits: [{ path: "logs/bob/door.log", content: text("badge 42 granted\n") }],
      message: "door log",
    });
    assert.equal(git(gitdir, ["cat-file", "-t", oid]).stdout.trim(), "commit");
    assert.equal(git(gitdir, ["fsck", "--full", "--strict"]).status, 0);
    assert.equal(await ledger.head(), oid);
  });

  it("should keep the previous head valid when a writer is killed mid-block", {
    skip: needs("git"),
    timeout: 60_000,
  }, async () => {
    const keyPath = join(scratch(), "alice");
    const key = generateKey("alice");
    await writeKeyFile({ path: keyPath, key });
    const dir = scratch();
    await Ledger.create({ gitdir: join(dir, "l.git"), key, founder: "alice", name: "kill test" });
    const script = `
      import { Ledger } from ${JSON.stringify(join(root, "ledger/ledger.ts"))};
      import { readKeyFile } from ${JSON.stringify(join(root, "ledger/keyfile.ts"))};
      const key = await readKeyFile(${JSON.stringify(keyPath)});
      const ledger = await Ledger.open({ gitdir: ${JSON.stringify(join(dir, "l.git"))} });
      for (let i = 0; ; i++) {
        await ledger.commit({ key, edits: [{ path: "rfcs/n" + (i % 50) + ".md", content: new TextEncoder().encode("v" + i + "\\n".repeat(i % 7)) }], message: "block " + i });
        if (i === 3) process.stdout.write("going\\n");
      }`;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout.once("data", () => resolve());
        child.once("exit", (code) => reject(new Error(`writer exited early with ${code}`)));
      });
      await new Promise((r) => setTimeout(r, 50 + round * 70));
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const reopened = await Ledger.open({ gitdir: join(dir, "l.git") });
      const head = await reopened.requireHead();
      const block = await new Verifier({ objects: reopened.repo }).verify(head);
      assert.ok(block.generation > 4, `head ${head} is ${block.generation} deep`);
      const fsck = git(join(dir, "l.git"), ["fsck", "--full", "--strict", "--no-dangling"]);
      assert.equal(fsck.status, 0, fsck.stderr);
    }
  });
});
