import { UsageError } from "../ledger/errors.ts";
import { mergeProposal } from "../ledger/proposal.ts";
import type { Command } from "./command.ts";
import { loadKey, openLedger } from "./workspace.ts";

export const mergeCommand: Command = {
  name: "merge",
  summary: "land a proposal on main with its proof of merge (validators and approvals)",
  usage: "merge ID",
  async run(ctx, args) {
    const [proposal, ...extra] = args.positionals;
    if (!proposal || extra.length > 0)
      throw new UsageError("expected one proposal id\nusage: gdo merge ID");
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    const oid = await mergeProposal(ledger, { key, proposal });
    const block = await ledger.verifiedBlock(oid);
    ctx.out(
      `merged ${proposal} in block ${oid}; approvals: ${block.merged?.approvers.join(", ") || "none needed"}\n`,
    );
    return 0;
  },
};
