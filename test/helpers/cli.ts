import { runCli } from "../../cli/main.ts";

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
