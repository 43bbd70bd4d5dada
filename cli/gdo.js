#!/usr/bin/env node
// Launcher for the `gdo` bin. gdo is TypeScript run by Node's type stripping,
// which needs Node >= 22.18. Machines that still default to an older node (the
// project pins Node 24 as the `node` devDependency) get re-executed on it, so
// `npx gdo` and a bin on PATH work, not only npm scripts. Plain JS on purpose:
// this file must parse on old nodes.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const main = join(here, "main.ts");
const [major, minor] = process.versions.node.split(".").map(Number);
const supported = major > 22 || (major === 22 && minor >= 18);

if (supported) {
  const { runCli } = await import(main);
  process.exitCode = await runCli(process.argv.slice(2));
} else {
  const candidates = [
    join(here, "..", "node_modules", "node", "bin", "node"),
    join(here, "..", "..", "node", "bin", "node"),
  ];
  const pinned = candidates.find((p) => existsSync(p));
  if (!pinned) {
    process.stderr.write(
      `gdo needs Node >= 22.18 (this is ${process.version}); run \`npm install\` in the gdo folder to get the pinned runtime.\n`,
    );
    process.exit(3);
  }
  const result = spawnSync(pinned, [main, ...process.argv.slice(2)], { stdio: "inherit" });
  if (result.signal) process.kill(process.pid, result.signal);
  process.exit(result.status ?? 3);
}
