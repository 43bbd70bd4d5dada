import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { UsageError } from "../ledger/errors.ts";
import { FILE_NAME, rfcPath } from "../plugins/rfc/format.ts";
import type { Command } from "./command.ts";
import { loadKey, openLedger } from "./workspace.ts";

async function localNumbers(dir: string): Promise<number[]> {
  try {
    return (await readdir(dir))
      .map((f) => FILE_NAME.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}

/** The draft a new RFC starts from: valid front matter, the usual sections. */
export function rfcTemplate(input: {
  rfc: number;
  title: string;
  author: string;
  created: string;
}): string {
  return `---
rfc: ${input.rfc}
title: ${JSON.stringify(input.title)}
status: draft
authors: [${JSON.stringify(input.author)}]
created: ${input.created}
---

# ${input.title}

## Summary

One paragraph: what this RFC decides.

## Motivation

Why the organisation needs this now.

## Proposal

What changes, precisely enough that two members reading it would act alike.

## Alternatives

What else was considered, and why not.
`;
}

export const rfcNewCommand: Command = {
  name: "new",
  summary:
    "write the next-numbered draft RFC into rfcs/ from the template (then edit and propose it)",
  usage: 'rfc new "Title"',
  async run(ctx, args) {
    const title = args.positionals.join(" ").trim();
    if (!title) throw new UsageError('give a title\nusage: gdo rfc new "Title"');
    const ledger = await openLedger(ctx);
    const key = await loadKey(ctx);
    const charter = await ledger.charter();
    const author = charter.memberByKey(key.publicKey)?.name ?? key.publicKey.comment ?? "author";
    const inLedger = (
      await ledger.reader.listFiles(
        (
          await ledger.verifiedBlock(await ledger.requireHead())
        ).tree,
        "rfcs",
      )
    )
      .map((f) => FILE_NAME.exec(f.path.slice("rfcs/".length))?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
    const dir = resolve(ctx.cwd, "rfcs");
    const next = Math.max(0, ...inLedger, ...(await localNumbers(dir))) + 1;
    const path = rfcPath(next, title);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(ctx.cwd, path),
      rfcTemplate({ rfc: next, title, author, created: new Date().toISOString().slice(0, 10) }),
      { flag: "wx" },
    );
    ctx.out(`${path}\n`);
    ctx.err(
      `gdo: wrote draft RFC ${next}; edit it, then 'gdo propose ${path} -m "Draft RFC ${next}"' (or 'gdo write ${path}=${path} -m …')\n`,
    );
    return 0;
  },
};
