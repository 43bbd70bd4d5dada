import { GdoError } from "../ledger/errors.ts";
import type { Ledger } from "../ledger/ledger.ts";
import { MAIN } from "../ledger/ledger.ts";
import { planMerge } from "../ledger/merge.ts";
import { PROPOSALS, proposalStatus, REVIEWS } from "../ledger/proposal.ts";
import type { Command } from "./command.ts";
import { describeNeeds } from "./proposals.ts";
import { openLedger } from "./workspace.ts";

async function ancestors(ledger: Ledger, head: string): Promise<Set<string>> {
  await ledger.verifiedBlock(head);
  return ledger.verifier.ancestors(head);
}

/** How a branch stands against main, and what merging it would take. */
export async function describeBranch(
  ledger: Ledger,
  ref: string,
  mainAncestors: Set<string>,
): Promise<string> {
  const head = await ledger.requireHead(ref);
  if (ref.startsWith(PROPOSALS))
    return describeNeeds(await proposalStatus(ledger, ref.slice(PROPOSALS.length)));
  const mine = await ancestors(ledger, head);
  const ahead = [...mine].filter((o) => !mainAncestors.has(o)).length;
  const behind = [...mainAncestors].filter((o) => !mine.has(o)).length;
  if (ahead === 0) return behind === 0 ? "same as main" : `behind main by ${behind} (fast-forward)`;
  if (ref.startsWith(REVIEWS)) return `reviews, ${ahead} block(s); never merged`;
  const main = await ledger.verifiedBlock(await ledger.requireHead(MAIN));
  const plan = await planMerge({
    reader: ledger.reader,
    bases: ledger.verifier.mergeBaseTrees(main.oid, head),
    ours: main.tree,
    theirs: (await ledger.verifiedBlock(head)).tree,
  });
  const shape =
    behind === 0 ? `ahead of main by ${ahead}` : `diverged: ahead ${ahead}, behind ${behind}`;
  if (!plan.clean)
    return `${shape}; CONFLICT in ${plan.conflicts.map((c) => c.path).join(", ")} (merge refused)`;
  return `${shape}; merges cleanly (${plan.paths.length} file(s))`;
}

export const branchesCommand: Command = {
  name: "branches",
  summary: "show every branch's head, how it diverges from main and what merging it needs",
  usage: "branches",
  async run(ctx) {
    const ledger = await openLedger(ctx);
    const refs = await ledger.repo.listRefs("refs/heads/");
    const mainAncestors = await ancestors(ledger, await ledger.requireHead(MAIN));
    for (const [ref, oid] of [...refs].sort()) {
      let state: string;
      try {
        const block = await ledger.verifiedBlock(oid);
        state =
          ref === MAIN
            ? `${block.generation} blocks deep`
            : await describeBranch(ledger, ref, mainAncestors);
      } catch (error) {
        if (!(error instanceof GdoError)) throw error;
        state = `INVALID: ${error.message} [${error.code}]`;
      }
      ctx.out(`${ref.slice("refs/heads/".length).padEnd(36)} ${oid.slice(0, 12)}  ${state}\n`);
    }
    return 0;
  },
};
