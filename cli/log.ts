import { parseCommit } from "../ledger/commit.ts";
import { GdoError } from "../ledger/errors.ts";
import { toRef } from "../ledger/ledger.ts";
import { type Command, stringOption } from "./command.ts";
import { openLedger } from "./workspace.ts";

export const logCommand: Command = {
  name: "log",
  summary: "list a branch's blocks, newest first, with signer and verdict",
  usage: "log [BRANCH] [--limit N]",
  options: { limit: { type: "string" } },
  async run(ctx, args) {
    const ledger = await openLedger(ctx);
    const ref = toRef(args.positionals[0] ?? "main");
    const head = await ledger.requireHead(ref);
    const limit = Number(stringOption(args, "limit") ?? "Infinity");
    // Collect the history without trusting it, then judge each block.
    const order: string[] = [];
    const seen = new Set<string>();
    const queue = [head];
    while (queue.length > 0) {
      const oid = queue.shift()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      order.push(oid);
      try {
        const object = await ledger.repo.readObject(oid);
        queue.push(...parseCommit(oid, object.content).parents);
      } catch {
        // Reported below as this block's verdict.
      }
    }
    const verifier = ledger.newVerifier();
    let shown = 0;
    for (const oid of order) {
      if (shown++ >= limit) break;
      let verdict = "valid";
      let line = "";
      try {
        const block = await verifier.verify(oid);
        const subject = block.commit.message.split("\n")[0];
        const when = new Date(block.commit.committer.timestamp * 1000)
          .toISOString()
          .slice(0, 16)
          .replace("T", " ");
        line = `${block.signer.padEnd(16)} ${when}  ${subject}`;
      } catch (error) {
        if (!(error instanceof GdoError)) throw error;
        verdict = `INVALID ${error.code}`;
        line = error.message;
      }
      ctx.out(`${oid.slice(0, 12)} ${verdict.padEnd(8)} ${line}\n`);
    }
    return 0;
  },
};
