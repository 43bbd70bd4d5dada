import { readFile } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { resolve } from "node:path";
import { GdoError, NotFoundError, UsageError } from "../ledger/errors.ts";
import { KeyFormatError } from "../ledger/key-errors.ts";
import { defaultKeyPath, readKeyFile, writeKeyFile } from "../ledger/keyfile.ts";
import { generateKey, parsePrivateKey } from "../ledger/sshkey.ts";
import type { Command, CommandContext, ParsedArgs } from "./command.ts";
import { stringOption } from "./command.ts";

function keyPathOf(ctx: CommandContext): string {
  return ctx.keyPath ?? defaultKeyPath(ctx.dataDir);
}

function expectPositionals(args: ParsedArgs, count: number, usage: string): void {
  if (args.positionals.length !== count) {
    const what = args.positionals.length > count ? "too many arguments" : "missing argument";
    throw new UsageError(`${what}\nusage: gdo ${usage}`);
  }
}

/** `user@host`, as ssh-keygen names new keys. */
function defaultComment(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return "gdo";
  }
}

const newUsage = "key new [--comment TEXT] [--force]";
const keyNew: Command = {
  name: "new",
  summary: "create this node's signing key (ed25519, OpenSSH format)",
  usage: newUsage,
  options: { comment: { type: "string" }, force: { type: "boolean" } },
  async run(ctx, args) {
    expectPositionals(args, 0, newUsage);
    const comment = stringOption(args, "comment") ?? defaultComment();
    if (/[\r\n]/.test(comment)) throw new UsageError("--comment cannot contain a line break");
    const path = keyPathOf(ctx);
    const key = generateKey(comment);
    await writeKeyFile({ path, key, overwrite: args.values.force === true });
    ctx.err(`gdo: wrote private key ${path} (mode 0600) and public key ${path}.pub\n`);
    ctx.out(`${key.publicKey.toString()}\n`);
    return 0;
  },
};

const showUsage = "key show";
const keyShow: Command = {
  name: "show",
  summary: "print this node's public key line and its fingerprint",
  usage: showUsage,
  async run(ctx, args) {
    expectPositionals(args, 0, showUsage);
    const key = await readKeyFile(keyPathOf(ctx));
    ctx.out(`${key.publicKey.toString()}\n${key.publicKey.fingerprint}\n`);
    return 0;
  },
};

const importUsage = "key import FILE [--force]";
const keyImport: Command = {
  name: "import",
  summary: "use an existing OpenSSH ed25519 private key as this node's key",
  usage: importUsage,
  options: { force: { type: "boolean" } },
  async run(ctx, args) {
    expectPositionals(args, 1, importUsage);
    const source = resolve(ctx.cwd, args.positionals[0]!);
    let text: string;
    try {
      text = await readFile(source, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new NotFoundError(`${source}: no such file`, { path: source });
      if (code === "EISDIR") throw new KeyFormatError(source, "is a folder, not a key file");
      throw new GdoError("key-unreadable", `${source}: cannot read the key file (${code})`, {
        path: source,
        errno: code,
      });
    }
    const key = parsePrivateKey(text, source);
    const path = keyPathOf(ctx);
    if (resolve(path) === source) throw new UsageError(`${source} is already the key file`);
    await writeKeyFile({ path, key, text, overwrite: args.values.force === true });
    ctx.err(`gdo: imported ${source} as ${path} (mode 0600)\n`);
    ctx.out(`${key.publicKey.toString()}\n`);
    return 0;
  },
};

export const keyCommand: Command = {
  name: "key",
  summary: "create, show or import the node's signing key",
  usage: "key <new|show|import> [options]",
  subcommands: [keyNew, keyShow, keyImport],
};
