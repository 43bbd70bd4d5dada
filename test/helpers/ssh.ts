import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

/** A fresh temp folder, removed when the test file ends. */
export function tempDir(prefix = "gdo-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run ssh-keygen; stdin from `input`. Never prompts (stdin is a pipe, not a TTY). */
export function sshKeygen(
  args: string[],
  options: { input?: string | Uint8Array; cwd?: string } = {},
): Run {
  const result = spawnSync("ssh-keygen", args, {
    input: options.input ?? "",
    cwd: options.cwd,
    encoding: "utf8",
    timeout: 30_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `ssh-keygen -t ed25519` into `dir/name`; returns the private and public file paths and texts. */
export function sshKeygenKey(
  dir: string,
  name: string,
  options: { comment?: string; passphrase?: string; type?: string } = {},
) {
  const path = join(dir, name);
  const run = sshKeygen([
    "-q",
    "-t",
    options.type ?? "ed25519",
    "-N",
    options.passphrase ?? "",
    "-C",
    options.comment ?? `${name}@test`,
    "-f",
    path,
  ]);
  if (run.status !== 0) throw new Error(`ssh-keygen failed: ${run.stderr}`);
  return {
    path,
    pubPath: `${path}.pub`,
    text: readFileSync(path, "utf8"),
    pubLine: readFileSync(`${path}.pub`, "utf8").trim(),
  };
}
