import { UsageError } from "../ledger/errors.ts";
import type { Command } from "./command.ts";
import { openLedger } from "./workspace.ts";

export const decisionsCommand: Command = {
  name: "decisions",
  summary: "list the signed decisions (RFC added, status changed) on main, optionally for one RFC",
  usage: "decisions [RFC] [--branch B]",
  options: { branch: { type: "string" } },
  async run(ctx, args) {
    const filter = args.positionals[0];
    if (filter !== undefined && !/^\d+$/.test(filter))
      throw new UsageError(`'${filter}' is not an RFC number`);
    // Loaded here, not at the top: the Markdown parser it pulls in would
    // otherwise load with every command, `gdo node` included (5 MB of RSS).
    const { listDecisions } = await import("../plugins/rfc/decisions.ts");
    const ledger = await openLedger(ctx);
    const branch = (args.values.branch as string | undefined) ?? "main";
    const decisions = (await listDecisions({ ledger, ref: branch })).filter(
      (d) => filter === undefined || d.rfc === Number(filter),
    );
    for (const d of decisions) {
      const when = new Date(d.timestamp * 1000).toISOString().slice(0, 10);
      const approvals = d.approvals.length
        ? `; approved by ${d.approvals.map((a) => a.signer).join(", ")}`
        : "";
      const subject = d.message.split("\n")[0];
      ctx.out(
        `RFC ${d.rfc}  ${d.from ?? "(new)"} → ${d.to}  by ${d.signer} ${when}  ${d.block.slice(0, 12)}  "${subject}"${approvals}\n`,
      );
    }
    if (decisions.length === 0) ctx.out("no decisions\n");
    return 0;
  },
};
