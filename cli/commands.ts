import type { Command } from "./command.ts";
import { keyCommand } from "./key.ts";

/** Every top-level `gdo` command, in the order `gdo --help` lists them. */
export const commands: Command[] = [keyCommand];
