import { blobCommand } from "./blob.ts";
import type { Command } from "./command.ts";
import { initCommand } from "./init.ts";
import { keyCommand } from "./key.ts";
import { logCommand } from "./log.ts";
import { memberCommand } from "./member.ts";
import { nodeCommand } from "./node.ts";
import { rfcCommand } from "./rfc.ts";
import { statusCommand } from "./status.ts";
import { verifyCommand } from "./verify.ts";
import { writeCommand } from "./write.ts";

/** Every top-level `gdo` command, in the order `gdo --help` lists them. */
export const commands: Command[] = [
  nodeCommand,
  statusCommand,
  initCommand,
  keyCommand,
  memberCommand,
  writeCommand,
  rfcCommand,
  logCommand,
  verifyCommand,
  blobCommand,
];
