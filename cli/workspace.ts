import { basename } from "node:path";
import { defaultKeyPath, readKeyFile } from "../ledger/keyfile.ts";
import { Ledger } from "../ledger/ledger.ts";
import type { SshPrivateKey } from "../ledger/sshkey.ts";
import type { ChangeValidator } from "../ledger/validator.ts";
import { pluginValidator } from "../plugins/validator.ts";
import type { CommandContext } from "./command.ts";

/** The key this command signs with: `--key`, `GDO_KEY`, or DATA/key. */
export async function loadKey(ctx: CommandContext): Promise<SshPrivateKey> {
  return readKeyFile(ctx.keyPath ?? defaultKeyPath(ctx.dataDir));
}

/** The ledger with the built-in plugins' validators, closed when the command ends. */
export async function openLedger(ctx: CommandContext): Promise<Ledger> {
  // Fails fast (not-found) before any plugin worker starts.
  await Ledger.open({ gitdir: ctx.ledgerPath });
  return Ledger.open({ gitdir: ctx.ledgerPath, validate: await validatorFor(ctx) });
}

export async function validatorFor(ctx: CommandContext): Promise<ChangeValidator> {
  const { validate, host } = await pluginValidator();
  ctx.defer(() => host.close());
  return validate;
}

/** A member name derived from a key comment or folder name: lowercase, dashes. */
export function memberNameFrom(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/@.*$/, "")
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return (
    name ||
    basename(process.cwd())
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-") ||
    "founder"
  );
}
