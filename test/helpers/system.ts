import { spawnSync } from "node:child_process";

/**
 * Tests that need a system part a fresh machine may lack (ssh-keygen, the
 * Docker engine, Chromium) call `needs(...)` for their `skip` option. On a
 * developer machine a missing part skips the test with the reason printed; under
 * GDO_REQUIRE_SYSTEM=1 (set by .ci/run, which installs the parts) it fails instead.
 */
const probes: Record<string, () => boolean> = {
  "ssh-keygen": () => spawnSync("ssh-keygen", ["-?"], { stdio: "ignore" }).error === undefined,
  git: () => spawnSync("git", ["--version"], { stdio: "ignore" }).status === 0,
  docker: () => spawnSync("docker", ["info"], { stdio: "ignore", timeout: 20_000 }).status === 0,
  chromium: () => spawnSync("chromium", ["--version"], { stdio: "ignore" }).status === 0,
};

const cache = new Map<string, boolean>();

export function needs(...parts: string[]): string | false {
  const missing = parts.filter((part) => {
    if (!cache.has(part)) cache.set(part, probes[part]?.() ?? false);
    return !cache.get(part);
  });
  if (missing.length === 0) return false;
  const reason = `needs ${missing.join(", ")} (not available on this machine; .ci/run installs it)`;
  if (process.env.GDO_REQUIRE_SYSTEM === "1") {
    throw new Error(`GDO_REQUIRE_SYSTEM=1 but a required system part is missing: ${reason}`);
  }
  return reason;
}
