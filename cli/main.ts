import { GdoError, UsageError, VerificationError } from "../ledger/errors.ts";
import {
  type Command,
  type CommandContext,
  contextFrom,
  helpText,
  parseCommandArgs,
} from "./command.ts";
import { commands } from "./commands.ts";

/**
 * Exit codes scripts can rely on:
 *   0  success
 *   1  the data did not verify (invalid block, bad signature, corrupt chunk, lint errors)
 *   2  usage error (unknown command or flag, missing argument)
 *   3  could not run (missing file or key, I/O failure, malformed input)
 *  70  internal error (a bug: please report it with the stack trace)
 */
export const EXIT = { ok: 0, invalid: 1, usage: 2, failed: 3, internal: 70 } as const;

const root: Command = {
  name: "gdo",
  summary: "gdo — governance of distributed organizations: signed RFC archive and ledger.",
  usage: "<command> [options]",
  subcommands: commands,
};

export async function runCli(
  argv: string[],
  io: {
    out?: (s: string) => void;
    err?: (s: string) => void;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
  } = {},
): Promise<number> {
  const out = io.out ?? ((s: string) => process.stdout.write(s));
  const err = io.err ?? ((s: string) => process.stderr.write(s));
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  try {
    let command = root;
    let rest = argv;
    let prefix = "gdo";
    while (command.subcommands && rest.length > 0 && !rest[0]!.startsWith("-")) {
      const name = rest[0]!;
      const next = command.subcommands.find((c) => c.name === name);
      if (!next)
        throw new UsageError(`unknown command '${prefix} ${name}' (see '${prefix} --help')`);
      command = next;
      prefix = `${prefix} ${name}`;
      rest = rest.slice(1);
    }
    const args = parseCommandArgs(command, rest);
    if (args.values.help || !command.run) {
      if (!args.values.help && command !== root && !command.run) {
        err(helpText(command));
        return EXIT.usage;
      }
      out(helpText(command));
      return args.values.help || command === root ? EXIT.ok : EXIT.usage;
    }
    const cleanups: (() => Promise<void> | void)[] = [];
    const ctx: CommandContext = {
      ...contextFrom(args.values, env, cwd),
      cwd,
      out,
      err,
      env,
      defer: (cleanup) => {
        cleanups.push(cleanup);
      },
    };
    try {
      return (await command.run(ctx, args)) ?? EXIT.ok;
    } finally {
      for (const cleanup of cleanups.reverse()) await cleanup();
    }
  } catch (error) {
    return reportError(error, err);
  }
}

function reportError(error: unknown, err: (s: string) => void): number {
  if (error instanceof UsageError) {
    err(`gdo: ${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof GdoError) {
    err(`gdo: ${error.message} [${error.code}]\n`);
    return error instanceof VerificationError ? EXIT.invalid : EXIT.failed;
  }
  err(`gdo: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.internal;
}

if (import.meta.main) {
  process.exitCode = await runCli(process.argv.slice(2));
}
