import { blobCommand } from "./blob.ts";
import { branchesCommand } from "./branches.ts";
import type { Command } from "./command.ts";
import { decisionsCommand } from "./decisions.ts";
import { initCommand } from "./init.ts";
import { keyCommand } from "./key.ts";
import { logCommand } from "./log.ts";
import { memberCommand } from "./member.ts";
import { mergeCommand } from "./merge.ts";
import { nodeCommand } from "./node.ts";
import { proposalsCommand } from "./proposals.ts";
import { proposeCommand } from "./propose.ts";
import { reviewCommand } from "./review.ts";
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
  proposeCommand,
  reviewCommand,
  proposalsCommand,
  mergeCommand,
  branchesCommand,
  decisionsCommand,
  logCommand,
  verifyCommand,
  blobCommand,
];
