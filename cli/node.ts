import { resolve } from "node:path";
import { bootstrapNode } from "../node/bootstrap.ts";
import { type Command, stringOption } from "./command.ts";
import { folderAsEdits } from "./genesis.ts";
import { memberNameFrom, validatorFor } from "./workspace.ts";

export const nodeCommand: Command = {
  name: "node",
  summary:
    "start this node: dev key on first run, ledger opened or created from rfcs/, history verified",
  usage: "node [--rfcs DIR] [--name ORG]",
  options: { rfcs: { type: "string" }, name: { type: "string" } },
  async run(ctx, args) {
    const rfcsDir = resolve(ctx.cwd, stringOption(args, "rfcs") ?? "rfcs");
    const log = (line: string) => ctx.out(`gdo node: ${line}\n`);
    await bootstrapNode({
      keyPath: ctx.keyPath ?? resolve(ctx.dataDir, "key"),
      ledgerPath: ctx.ledgerPath,
      genesisFiles: () => folderAsEdits(rfcsDir, "rfcs"),
      founder: memberNameFrom(ctx.env.USER ?? "founder"),
      organisation: stringOption(args, "name") ?? "gdo",
      log,
      validate: await validatorFor(ctx),
    });
    log(
      "ready. (Peer-to-peer sync and the site arrive with the node and site issues; this run opens, checks and reports.)",
    );
    return 0;
  },
};
