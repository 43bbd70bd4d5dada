import { listProposals, type ProposalStatus } from "../ledger/proposal.ts";
import type { Command } from "./command.ts";
import { openLedger } from "./workspace.ts";

export function describeNeeds(p: ProposalStatus): string {
  if (p.merged) return "merged";
  if (p.conflicts.length > 0)
    return `conflicts with main: ${p.conflicts.map((c) => c.path).join(", ")}`;
  if (p.problems.length > 0) return `invalid: ${p.problems[0]}`;
  if (p.needs.length === 0) return "ready to merge";
  return `needs ${p.needs.map((n) => `${n.needed - n.have} more '${n.role}' approval(s)${n.kind ? ` (${n.kind})` : ""}`).join(", ")}`;
}

export const proposalsCommand: Command = {
  name: "proposals",
  summary: "list proposals with their reviews and what each still needs",
  usage: "proposals [--all]",
  options: { all: { type: "boolean" } },
  async run(ctx, args) {
    const ledger = await openLedger(ctx);
    const proposals = (await listProposals(ledger)).filter((p) => args.values.all || !p.merged);
    if (proposals.length === 0) ctx.out("no open proposals\n");
    for (const p of proposals) {
      const reviews = p.reviews
        .filter((r) => r.current)
        .map((r) => `${r.reviewer}:${r.verdict}`)
        .join(" ");
      ctx.out(`${p.id}  ${p.head.slice(0, 12)}  by ${p.author}  "${p.subject}"\n`);
      ctx.out(`    ${describeNeeds(p)}${reviews ? `; reviews: ${reviews}` : ""}\n`);
    }
    return 0;
  },
};
