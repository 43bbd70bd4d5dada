import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { NotFoundError, UsageError } from "../ledger/errors.ts";
import type { FileEdit } from "../ledger/tree-builder.ts";
import { type Command, stringOption } from "./command.ts";
import { loadKey, openLedger } from "./workspace.ts";

const usage =
  "write LEDGER_PATH=LOCAL_FILE… [--rm LEDGER_PATH]… -m MESSAGE [--branch B [--from BRANCH]]";

/** The low-level verb: one signed block with the given file changes. */
export const writeCommand: Command = {
  name: "write",
  summary: "record files (or removals) as one signed block on a branch",
  usage,
  options: {
    message: { type: "string", short: "m" },
    rm: { type: "string", multiple: true },
    branch: { type: "string" },
    from: { type: "string" },
  },
  async run(ctx, args) {
    const message = stringOption(args, "message");
    if (!message) throw new UsageError(`a message is required (-m)\nusage: gdo ${usage}`);
    const edits: FileEdit[] = [];
    for (const spec of args.positionals) {
      const eq = spec.indexOf("=");
      if (eq <= 0) throw new UsageError(`'${spec}' is not LEDGER_PATH=LOCAL_FILE`);
      edits.push({
        path: spec.slice(0, eq),
        content: await readFile(resolve(ctx.cwd, spec.slice(eq + 1))),
      });
    }
    for (const path of (args.values.rm as string[] | undefined) ?? [])
      edits.push({ path, content: null });
    if (edits.length === 0) throw new UsageError(`nothing to write\nusage: gdo ${usage}`);
    const branch = stringOption(args, "branch") ?? "main";
    const from = stringOption(args, "from");
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    const exists = (await ledger.head(branch)) !== undefined;
    if (from !== undefined && exists)
      throw new UsageError(`branch '${branch}' exists already: --from only starts a new one`);
    if (!exists && from === undefined)
      throw new NotFoundError(
        `branch '${branch}' does not exist; start it at another's head with --from (e.g. --from main)`,
        { branch },
      );
    let oid: string;
    if (from === undefined) {
      oid = await ledger.commit({ key, edits, message, ref: branch });
    } else {
      // The new branch starts with this block: nothing is created if it is refused.
      oid = await ledger.commit({
        key,
        edits,
        message,
        ref: branch,
        noRef: true,
        after: await ledger.requireHead(from),
      });
      await ledger.advance({ ref: branch, oid, expected: undefined });
    }
    ctx.out(`${oid}\n`);
    return 0;
  },
};
