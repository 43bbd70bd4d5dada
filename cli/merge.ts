import { UsageError } from "../ledger/errors.ts";
import { type Ledger, MAIN, toRef } from "../ledger/ledger.ts";
import { MergeConflictError, planMerge } from "../ledger/merge.ts";
import { mergeProposal, PROPOSALS } from "../ledger/proposal.ts";
import { mergeTaking } from "../ledger/resolution.ts";
import type { Command } from "./command.ts";
import { loadKey, openLedger } from "./workspace.ts";

/**
 * `gdo merge ID` lands a proposal with its proof of merge; `gdo merge
 * --branch NAME` merges a diverged branch (a working group's, a node's that
 * was offline, a peer's main as `gdo status` names it: `alice/main`) into
 * main when the merge is clean, and names the conflicting files with both
 * sides' blocks and signers when it is not; `--take ours|theirs` then
 * settles every conflicting file for one side (`ledger/resolution.ts`).
 */
export const mergeCommand: Command = {
  name: "merge",
  summary:
    "land a proposal with its proof of merge, or merge a diverged branch (--take settles its conflicts for one side)",
  usage: "merge (ID | --branch NAME [--take ours|theirs])",
  options: { branch: { type: "string" }, take: { type: "string" } },
  async run(ctx, args) {
    const branch = args.values.branch as string | undefined;
    const take = args.values.take as string | undefined;
    const [proposal, ...extra] = args.positionals;
    if (extra.length > 0 || (proposal === undefined) === (branch === undefined)) {
      throw new UsageError(
        "give a proposal id or --branch NAME\nusage: gdo merge (ID | --branch NAME [--take ours|theirs])",
      );
    }
    if (take !== undefined && (branch === undefined || (take !== "ours" && take !== "theirs")))
      throw new UsageError("--take is 'ours' or 'theirs', with --branch");
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    if (proposal !== undefined) {
      const oid = await mergeProposal(ledger, { key, proposal });
      const block = await ledger.verifiedBlock(oid);
      ctx.out(
        `merged ${proposal} in block ${oid}; approvals: ${block.merged?.approvers.join(", ") || "none needed"}\n`,
      );
      return 0;
    }
    const ref = await branchRef(ledger, branch!);
    if (ref.startsWith(PROPOSALS))
      throw new UsageError(
        `'${branch}' is a proposal: use 'gdo merge ${ref.slice(PROPOSALS.length)}'`,
      );
    const theirs = await ledger.verifiedBlock(await ledger.requireHead(ref));
    const ours = await ledger.verifiedBlock(await ledger.requireHead(MAIN));
    const base = ledger.verifier.mergeBase(ours.oid, theirs.oid);
    if (base === theirs.oid) {
      ctx.out(`main already contains ${branch}\n`);
      return 0;
    }
    const plan = await planMerge({
      reader: ledger.reader,
      bases: ledger.verifier.mergeBaseTrees(ours.oid, theirs.oid),
      ours: ours.tree,
      theirs: theirs.tree,
    });
    if (!plan.clean && take) {
      const { head, blocks, paths } = await mergeTaking(ledger, {
        key,
        theirs: theirs.oid,
        take,
        name: branch!,
      });
      ctx.out(
        `merged ${branch} in block ${head}, taking ${take === "ours" ? "main's" : `${branch}'s`} version of ${paths.join(", ")} (${blocks.length} blocks: ${blocks.map((b) => b.slice(0, 12)).join(" ")})\n`,
      );
      return 0;
    }
    if (!plan.clean) {
      for (const c of plan.conflicts) {
        ctx.err(
          `conflict: ${c.path}\n    main (${ours.oid.slice(0, 12)}, ${ours.signer}): ${c.ours ?? "deleted"}\n    ${branch} (${theirs.oid.slice(0, 12)}, ${theirs.signer}): ${c.theirs ?? "deleted"}\n`,
        );
      }
      ctx.err(
        `settle them for one side with: gdo merge --branch ${branch} --take ours (or --take theirs)\n`,
      );
      throw new MergeConflictError(plan.conflicts);
    }
    const oid = await ledger.commit({
      key,
      mergeWith: [theirs.oid],
      edits: plan.edits,
      message: `Merge branch ${branch}`,
    });
    ctx.out(`merged ${branch} in block ${oid} (${plan.paths.length} file(s))\n`);
    return 0;
  },
};

/**
 * The ref `--branch` names: a local branch, else a peer's as `gdo status`
 * shows it (`alice/main` is `refs/remotes/alice/main`).
 */
async function branchRef(ledger: Ledger, name: string): Promise<string> {
  const local = toRef(name);
  if (name.startsWith("refs/") || (await ledger.head(local))) return local;
  const remote = `refs/remotes/${name}`;
  return (await ledger.head(remote)) ? remote : local;
}
