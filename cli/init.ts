import { resolve } from "node:path";
import { MEMBER_NAME } from "../ledger/charter.ts";
import { UsageError } from "../ledger/errors.ts";
import { Ledger } from "../ledger/ledger.ts";
import { type Command, stringOption } from "./command.ts";
import { folderAsEdits } from "./genesis.ts";
import { loadKey, memberNameFrom, validatorFor } from "./workspace.ts";

export const initCommand: Command = {
  name: "init",
  summary: "create a new ledger: genesis block with you as founding admin and the archive in rfcs/",
  usage: "init [--name ORG] [--founder NAME] [--rfcs DIR]",
  options: { name: { type: "string" }, founder: { type: "string" }, rfcs: { type: "string" } },
  async run(ctx, args) {
    if (args.positionals.length > 0)
      throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
    const key = await loadKey(ctx);
    const founder = stringOption(args, "founder") ?? memberNameFrom(key.publicKey.comment);
    if (!MEMBER_NAME.test(founder))
      throw new UsageError(`--founder '${founder}' must match ${MEMBER_NAME}`);
    const rfcsDir = resolve(ctx.cwd, stringOption(args, "rfcs") ?? "rfcs");
    const files = await folderAsEdits(rfcsDir, "rfcs");
    const name = stringOption(args, "name") ?? "gdo ledger";
    const { ledger, genesis } = await Ledger.create({
      gitdir: ctx.ledgerPath,
      key,
      founder,
      name,
      files,
      validate: await validatorFor(ctx),
    });
    const charter = await ledger.charter();
    ctx.out(
      `created ledger ${charter.id} at ${ctx.ledgerPath}\n` +
        `genesis ${genesis}: founder ${founder} (${key.publicKey.fingerprint}), ${files.length} archive file(s) from ${rfcsDir}\n`,
    );
    return 0;
  },
};
