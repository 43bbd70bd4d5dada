import { readFile } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { UsageError } from "../ledger/errors.ts";
import { propose } from "../ledger/proposal.ts";
import type { FileEdit } from "../ledger/tree-builder.ts";
import { type Command, stringOption } from "./command.ts";
import { folderAsEdits } from "./genesis.ts";
import { loadKey, openLedger } from "./workspace.ts";

const usage = "propose [PATH…] -m MESSAGE [--proposal ID] [--rm LEDGER_PATH]…";

/**
 * Working changes are files under the current folder whose ledger path is
 * their path relative to it (`rfcs/0009-doors.md`). With no PATH, every file
 * under `rfcs/` that differs from main is proposed. Deletions are explicit.
 */
export const proposeCommand: Command = {
  name: "propose",
  summary: "record working changes as a signed block on a proposal branch (new, or --proposal ID)",
  usage,
  options: {
    message: { type: "string", short: "m" },
    proposal: { type: "string" },
    rm: { type: "string", multiple: true },
  },
  async run(ctx, args) {
    const message = stringOption(args, "message");
    if (!message) throw new UsageError(`a message is required (-m)\nusage: gdo ${usage}`);
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    let edits: FileEdit[] = [];
    if (args.positionals.length > 0) {
      for (const path of args.positionals) {
        const local = resolve(ctx.cwd, path);
        const ledgerPath = relative(ctx.cwd, local).split("\\").join("/");
        if (ledgerPath.startsWith(".."))
          throw new UsageError(`'${path}' is outside the current folder`);
        edits.push({ path: ledgerPath, content: await readFile(local) });
      }
    } else {
      edits = await folderAsEdits(resolve(ctx.cwd, "rfcs"), "rfcs");
    }
    // Only what differs from main is a change.
    const changed: FileEdit[] = [];
    for (const edit of edits) {
      const current = await ledger.readFile(edit.path);
      if (!current || Buffer.compare(Buffer.from(current), Buffer.from(edit.content!)) !== 0)
        changed.push(edit);
    }
    for (const path of (args.values.rm as string[] | undefined) ?? [])
      changed.push({ path, content: null });
    if (changed.length === 0) throw new UsageError("no working changes: every file matches main");
    const proposalId = stringOption(args, "proposal");
    const result = await propose(ledger, {
      key,
      edits: changed,
      message,
      ...(proposalId ? { proposal: proposalId } : {}),
    });
    ctx.out(
      `proposal ${result.proposal} at ${result.head} (${changed.length} file(s): ${changed.map((c) => c.path).join(", ")})\n`,
    );
    ctx.out(
      `next: reviewers run 'gdo review ${result.proposal} --approve -m …'; then 'gdo merge ${result.proposal}'\n`,
    );
    return 0;
  },
};
