import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { foundedByCli, gdo } from "../helpers/cli.ts";
import { scratch } from "../helpers/ledger.ts";

const shared = join(import.meta.dirname, "..", "..", "..", "shared");

async function ok(args: string[], cwd: string) {
  const run = await gdo(args, cwd);
  assert.equal(run.code, 0, `gdo ${args.join(" ")}: ${run.err}`);
  return run.out;
}

/** alice founds the ledger; bob and carol are editors with their own keys. */
async function organisation() {
  const cwd = scratch("gdo-flow-");
  mkdirSync(join(cwd, "rfcs"));
  await ok(["key", "new", "--comment", "alice"], cwd);
  await ok(["init", "--founder", "alice", "--name", "Makerspace"], cwd);
  for (const name of ["bob", "carol"]) {
    await ok(["key", "new", "--key", `${name}.key`, "--comment", name], cwd);
    await ok(["member", "add", name, "--pubkey-file", `${name}.key.pub`, "--role", "editor"], cwd);
  }
  return cwd;
}

describe("the RFC workflow through the gdo command", () => {
  test("should take an RFC from a new draft through review to a merged status change", async () => {
    const cwd = await organisation();
    const path = (await ok(["rfc", "new", "Door access during outages"], cwd)).trim();
    assert.equal(path, "rfcs/0001-door-access-during-outages.md");
    assert.match(readFileSync(join(cwd, path), "utf8"), /status: draft/);
    await ok(["write", `${path}=${path}`, "-m", "Draft RFC 1"], cwd);

    const file = join(cwd, path);
    writeFileSync(file, readFileSync(file, "utf8").replace("status: draft", "status: proposed"));
    const direct = await gdo(["write", `${path}=${path}`, "-m", "Propose RFC 1"], cwd);
    assert.equal(direct.code, 1);
    assert.match(direct.err, /status-change.*needs 2 approval/);

    const proposed = await ok(["propose", path, "-m", "Propose RFC 1"], cwd);
    const id = /^proposal (\S+) at ([0-9a-f]{40})/.exec(proposed)?.[1];
    assert.ok(id, proposed);
    assert.match(
      await ok(["proposals"], cwd),
      /needs 2 more 'editor' approval\(s\) \(status-change\)/,
    );

    await ok(["review", id, "--approve", "-m", "clear", "--key", "bob.key"], cwd);
    const early = await gdo(["merge", id], cwd);
    assert.equal(early.code, 1);
    assert.match(early.err, /has 1/);

    await ok(["review", id, "--approve", "-m", "agreed", "--key", "carol.key"], cwd);
    assert.match(
      await ok(["proposals"], cwd),
      /ready to merge; reviews: bob:approve carol:approve/,
    );
    assert.match(await ok(["merge", id], cwd), /approvals: bob, carol/);
    assert.match(await ok(["proposals"], cwd), /no open proposals/);

    const decisions = await ok(["decisions", "1"], cwd);
    assert.match(decisions, /RFC 1 {2}\(new\) → draft {2}by alice/);
    assert.match(decisions, /RFC 1 {2}draft → proposed {2}by alice .*approved by bob, carol/);
    assert.match(await ok(["branches"], cwd), /proposals\/\S+\s+[0-9a-f]{12}\s+merged/);
    assert.match(await ok(["verify"], cwd), /all valid/);
  });

  test("should refuse a rejected proposal and report a conflicting branch with its file", async () => {
    const cwd = await organisation();
    const path = (await ok(["rfc", "new", "Tool lockout"], cwd)).trim();
    await ok(["write", `${path}=${path}`, "-m", "Draft"], cwd);
    writeFileSync(
      join(cwd, path),
      readFileSync(join(cwd, path), "utf8").replace("## Summary", "## Summary\n\nLock the lathe."),
    );
    const id = /^proposal (\S+)/.exec(await ok(["propose", path, "-m", "Edit"], cwd))?.[1];
    assert.ok(id);
    await ok(["review", id, "--reject", "-m", "not yet", "--key", "bob.key"], cwd);
    const merge = await gdo(["merge", id], cwd);
    assert.equal(merge.code, 3);
    assert.match(merge.err, /rejected at its current head by bob.*\[proposal-rejected\]/);
    // Main edits the same file differently: the proposal now conflicts.
    writeFileSync(
      join(cwd, "other.md"),
      readFileSync(join(cwd, path), "utf8").replace("Lock the lathe.", "Lock the mill."),
    );
    await ok(["write", `${path}=other.md`, "-m", "Edit on main"], cwd);
    assert.match(
      await ok(["branches"], cwd),
      new RegExp(`proposals/${id}.*conflicts with main: ${path}`),
    );
  });

  test("should merge a diverged branch when clean and name the file and both signers when not", async () => {
    const cwd = await organisation();
    const gitdir = join(cwd, ".gdo", "ledger.git");
    const { spawnSync } = await import("node:child_process");
    assert.equal(spawnSync("git", [`--git-dir=${gitdir}`, "branch", "wg", "main"]).status, 0);
    const one = (await ok(["rfc", "new", "One"], cwd)).trim();
    await ok(["write", `${one}=${one}`, "-m", "One on main"], cwd);
    writeFileSync(
      join(cwd, "two.md"),
      readFileSync(join(cwd, one), "utf8").replaceAll("One", "Two").replace("rfc: 1", "rfc: 2"),
    );
    await ok(
      ["write", "--branch", "wg", "--key", "bob.key", "rfcs/0002-two.md=two.md", "-m", "Two on wg"],
      cwd,
    );
    assert.match(
      await ok(["branches"], cwd),
      /wg\s+[0-9a-f]{12}\s+diverged: ahead 1, behind 1; merges cleanly/,
    );
    assert.match(await ok(["merge", "--branch", "wg"], cwd), /merged wg in block/);
    // Both sides now edit RFC 2 differently.
    writeFileSync(
      join(cwd, "a.md"),
      readFileSync(join(cwd, "two.md"), "utf8").replace("## Summary", "## Summary\n\nA"),
    );
    writeFileSync(
      join(cwd, "b.md"),
      readFileSync(join(cwd, "two.md"), "utf8").replace("## Summary", "## Summary\n\nB"),
    );
    await ok(["write", "rfcs/0002-two.md=a.md", "-m", "A on main"], cwd);
    await ok(
      ["write", "--branch", "wg", "--key", "bob.key", "rfcs/0002-two.md=b.md", "-m", "B on wg"],
      cwd,
    );
    const refused = await gdo(["merge", "--branch", "wg"], cwd);
    assert.equal(refused.code, 3);
    assert.match(
      refused.err,
      /conflict: rfcs\/0002-two.md\n {4}main \([0-9a-f]{12}, alice\)[\s\S]*wg \([0-9a-f]{12}, bob\)/,
    );
    assert.match(refused.err, /\[merge-conflict\]/);
    assert.match(refused.err, /gdo merge --branch wg --take ours \(or --take theirs\)/);
    assert.match(await ok(["verify"], cwd), /all valid/);

    // Settled for wg's side: main takes B, then merges wg.
    assert.match(
      await ok(["merge", "--branch", "wg", "--take", "theirs"], cwd),
      /merged wg in block [0-9a-f]{40}, taking wg's version of rfcs\/0002-two.md \(2 blocks/,
    );
    const show = (rev: string) =>
      spawnSync("git", [`--git-dir=${gitdir}`, "show", rev], { encoding: "utf8" }).stdout;
    assert.equal(show("main:rfcs/0002-two.md"), readFileSync(join(cwd, "b.md"), "utf8"));
    const merged = spawnSync("git", [
      `--git-dir=${gitdir}`,
      "merge-base",
      "--is-ancestor",
      "wg",
      "main",
    ]);
    assert.equal(merged.status, 0, "wg is part of main");
    const log = await ok(["log"], cwd);
    assert.match(
      log,
      /Merge wg\n.*Take wg's version of rfcs\/0002-two.md \(resolving a merge conflict\)\n/,
    );

    // Again, for main's side: main keeps its own text, and wg is merged all the same.
    writeFileSync(join(cwd, "c.md"), readFileSync(join(cwd, "a.md"), "utf8").replace("\nA", "\nC"));
    writeFileSync(join(cwd, "d.md"), readFileSync(join(cwd, "a.md"), "utf8").replace("\nA", "\nD"));
    await ok(["write", "rfcs/0002-two.md=c.md", "-m", "C on main"], cwd);
    await ok(
      ["write", "--branch", "wg", "--key", "bob.key", "rfcs/0002-two.md=d.md", "-m", "D on wg"],
      cwd,
    );
    assert.match(
      await ok(["merge", "--branch", "wg", "--take", "ours"], cwd),
      /taking main's version of rfcs\/0002-two.md \(3 blocks/,
    );
    assert.equal(show("main:rfcs/0002-two.md"), readFileSync(join(cwd, "c.md"), "utf8"));
    assert.equal(
      spawnSync("git", [`--git-dir=${gitdir}`, "merge-base", "--is-ancestor", "wg", "main"]).status,
      0,
    );
    assert.match(await ok(["verify"], cwd), /all valid/);
    const fsck = spawnSync("git", [`--git-dir=${gitdir}`, "fsck", "--strict"], {
      encoding: "utf8",
    });
    assert.equal(fsck.status, 0, fsck.stderr);
    const bad = await gdo(["merge", "--branch", "wg", "--take", "mine"], cwd);
    assert.equal(bad.code, 2);
  });

  test("should import the whole EIP corpus, every document imported or reported, and verify it", async () => {
    const cwd = await foundedByCli("gdo-import-");
    const out = await ok(
      ["rfc", "import", join(shared, "corpus", "eips"), "--batch", "--report", "report.json"],
      cwd,
    );
    const report = JSON.parse(readFileSync(join(cwd, "report.json"), "utf8")) as {
      sources: number;
      imported: { source: string }[];
      reports: { source: string; kind: string; line?: number; reason: string }[];
    };
    const skipped = new Set(
      report.reports.filter((r) => r.kind === "skipped").map((r) => r.source),
    );
    const imported = new Set(report.imported.map((d) => d.source));
    assert.equal(report.sources, 949);
    assert.equal(imported.size + skipped.size, report.sources);
    for (const source of imported) assert.ok(!skipped.has(source), source);
    const missing = report.reports.filter((r) => r.kind === "attachment-missing");
    assert.ok(
      missing.length > 0 && missing.every((r) => r.line !== undefined && /\.md$/.test(r.source)),
    );
    assert.match(out, /949 eip document\(s\) in: 584 imported in 1 block\(s\), 365 not imported/);
    assert.match(await ok(["blob", "ls"], cwd), /[0-9a-f]{64}/);
    assert.match(await ok(["verify"], cwd), /all valid/);
  });
});
