import { resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "../ledger/errors.ts";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** What every command receives: resolved global options and the output streams. */
export interface CommandContext {
  /** The node's data folder (`--data`, `GDO_DATA`, default `.gdo`). */
  dataDir: string;
  /** Explicit key file (`--key`, `GDO_KEY`), or undefined for the data folder's key. */
  keyPath: string | undefined;
  /** The ledger repository (`--ledger`, `GDO_LEDGER`, default DATA/ledger.git). */
  ledgerPath: string;
  cwd: string;
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Registers cleanup (stop plugin workers, close pools) run when the command ends. */
  defer: (cleanup: () => Promise<void> | void) => void;
}

export interface Command {
  name: string;
  summary: string;
  /** Usage lines shown by `--help`, without the leading `gdo`. */
  usage: string;
  options?: OptionSpec;
  /** Commands such as `key` dispatch to subcommands instead of running themselves. */
  subcommands?: Command[];
  run?: (ctx: CommandContext, args: ParsedArgs) => Promise<number | undefined>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export const globalOptions = {
  data: { type: "string" },
  key: { type: "string" },
  ledger: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpec;

export function parseCommandArgs(command: Command, argv: string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...globalOptions, ...command.options },
      allowPositionals: true,
      strict: true,
    });
    return { values, positionals };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nusage: gdo ${command.usage}`, {
      command: command.name,
    });
  }
}

export function contextFrom(values: ParsedArgs["values"], env: NodeJS.ProcessEnv, cwd: string) {
  const data = (values.data as string | undefined) ?? env.GDO_DATA ?? ".gdo";
  const key = (values.key as string | undefined) ?? env.GDO_KEY;
  const ledger = (values.ledger as string | undefined) ?? env.GDO_LEDGER;
  const dataDir = resolve(cwd, data);
  return {
    dataDir,
    keyPath: key === undefined ? undefined : resolve(cwd, key),
    ledgerPath: ledger === undefined ? resolve(dataDir, "ledger.git") : resolve(cwd, ledger),
  };
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === "string" ? value : undefined;
}

export function helpText(command: Command, prefix = "gdo"): string {
  const lines = [`${command.summary}`, "", `usage: ${prefix} ${command.usage}`];
  if (command.subcommands?.length) {
    lines.push("", "commands:");
    for (const sub of command.subcommands) lines.push(`  ${sub.name.padEnd(14)} ${sub.summary}`);
  }
  lines.push(
    "",
    "global options:",
    "  --data DIR     node data folder (env GDO_DATA, default .gdo)",
    "  --key FILE     private key file (env GDO_KEY, default DIR/key)",
    "  --ledger DIR   ledger repository (env GDO_LEDGER, default DIR/ledger.git)",
    "  -h, --help     show this help",
  );
  return `${lines.join("\n")}\n`;
}
