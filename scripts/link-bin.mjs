// npm links the bins of dependencies into node_modules/.bin but not the
// project's own, so `npx gdo` inside this folder would fetch an unrelated
// registry package named "gdo". Link ours. Plain JS: runs under any node.
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(root, "node_modules", ".bin");
mkdirSync(bin, { recursive: true });
rmSync(join(bin, "gdo"), { force: true });
symlinkSync(join("..", "..", "cli", "gdo.js"), join(bin, "gdo"));
