import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { gdo } from "../helpers/cli.ts";
import { scratch } from "../helpers/ledger.ts";

const root = join(import.meta.dirname, "..", "..");

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("should build and serve the site from a running node and rebuild it when main moves", {
  timeout: 240_000,
}, async () => {
  const cwd = scratch("gdo-node-site-");
  cpSync(join(root, "rfcs"), join(cwd, "rfcs"), { recursive: true });
  mkdirSync(join(cwd, ".gdo"));
  writeFileSync(
    join(cwd, ".gdo", "config.json"),
    JSON.stringify({ listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, httpPort: 0 }),
  );
  const node = spawn(process.execPath, [join(root, "cli", "main.ts"), "node"], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  node.stdout.on("data", (d) => {
    log += d.toString();
  });
  node.stderr.on("data", (d) => {
    log += d.toString();
  });
  try {
    await until(
      "the first site build",
      () => /site {6}gdo site: \d+ RFCs/.test(log) || /build failed/.test(log),
    );
    assert.doesNotMatch(log, /build failed/);
    const base = /http:\/\/127\.0\.0\.1:\d+/.exec(log)?.[0];
    assert.ok(base, log);
    const home = await fetch(`${base}/`);
    assert.equal(home.status, 200);
    assert.match(await home.text(), /<title>/);
    assert.equal((await fetch(`${base}/rfcs/9/`)).status, 404);

    writeFileSync(
      join(cwd, "rfc9.md"),
      "---\nrfc: 9\ntitle: Rebuilt\nstatus: draft\nauthors: [founder]\ncreated: 2026-11-25\n---\n\n# Rebuilt\n",
    );
    const wrote = await gdo(["write", "rfcs/0009-rebuilt.md=rfc9.md", "-m", "Draft RFC 9"], cwd);
    assert.equal(wrote.code, 0, wrote.err);
    await until("the rebuild", async () => (await fetch(`${base}/rfcs/9/`)).status === 200);
    assert.match(await (await fetch(`${base}/rfcs/9/`)).text(), /Rebuilt/);
  } finally {
    node.kill("SIGTERM");
    await new Promise((r) => node.once("exit", r));
  }
  assert.match(log, /stopped/);
});
