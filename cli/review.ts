import { UsageError } from "../ledger/errors.ts";
import { review } from "../ledger/proposal.ts";
import { type Command, stringOption } from "./command.ts";
import { loadKey, openLedger } from "./workspace.ts";

const usage = "review ID (--approve | --reject) -m MESSAGE";

export const reviewCommand: Command = {
  name: "review",
  summary: "sign an approval or rejection of a proposal's current head",
  usage,
  options: {
    approve: { type: "boolean" },
    reject: { type: "boolean" },
    message: { type: "string", short: "m" },
  },
  async run(ctx, args) {
    const [proposal, ...extra] = args.positionals;
    if (!proposal || extra.length > 0)
      throw new UsageError(`expected one proposal id\nusage: gdo ${usage}`);
    if (Boolean(args.values.approve) === Boolean(args.values.reject)) {
      throw new UsageError(`give exactly one of --approve or --reject\nusage: gdo ${usage}`);
    }
    const message = stringOption(args, "message") ?? "";
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    const verdict = args.values.approve ? "approve" : "reject";
    const result = await review(ledger, { key, proposal, verdict, message });
    ctx.out(
      `${verdict === "approve" ? "approved" : "rejected"} ${proposal} at ${result.head} (review block ${result.block})\n`,
    );
    return 0;
  },
};
