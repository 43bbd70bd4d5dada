import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../cli/main.ts";
import { scratch } from "./ledger.ts";

/** Runs `gdo ARGS` in-process in `cwd`, capturing its output and exit code. */
export async function gdo(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  let out = "";
  let err = "";
  const code = await runCli(args, {
    cwd,
    env,
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

/**
 * A scratch folder holding a ledger founded by `alice` through the CLI (`gdo
 * key new`, `gdo init`, an empty `rfcs/`): the start of most CLI tests.
 */
export async function foundedByCli(prefix: string): Promise<string> {
  const cwd = scratch(prefix);
  mkdirSync(join(cwd, "rfcs"));
  for (const args of [
    ["key", "new", "--comment", "alice"],
    ["init", "--founder", "alice"],
  ]) {
    const run = await gdo(args, cwd);
    assert.equal(run.code, 0, `gdo ${args.join(" ")}: ${run.err}`);
  }
  return cwd;
}
