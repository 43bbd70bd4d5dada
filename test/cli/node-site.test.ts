import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { foundedByCli, gdo } from "../helpers/cli.ts";
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

/** `gdo node` started in `cwd` as a user starts it, its output gathered in `log()`. */
function startCliNode(cwd: string, config: Record<string, unknown>) {
  mkdirSync(join(cwd, ".gdo"), { recursive: true });
  writeFileSync(
    join(cwd, ".gdo", "config.json"),
    JSON.stringify({ listen: ["/ip4/127.0.0.1/tcp/0"], mdns: false, httpPort: 0, ...config }),
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
  return {
    log: () => log,
    async stop() {
      if (node.exitCode === null) {
        node.kill("SIGTERM");
        await new Promise((r) => node.once("exit", r));
      }
    },
  };
}

const FIRST_BUILD = /site {6}gdo site: \d+ RFCs|build failed/;

test("should build and serve the site from a running node and rebuild it when main moves", {
  timeout: 240_000,
}, async () => {
  const cwd = scratch("gdo-node-site-");
  cpSync(join(root, "rfcs"), join(cwd, "rfcs"), { recursive: true });
  const node = startCliNode(cwd, {});
  const log = node.log;
  try {
    await until("the first site build", () => FIRST_BUILD.test(log()));
    assert.doesNotMatch(log(), /build failed/);
    // The node builds from the project's folder; the output is named where the user finds it.
    assert.ok(log().includes(`→ ${join(cwd, "dist")}/`), log());
    const base = /http:\/\/127\.0\.0\.1:\d+/.exec(log())?.[0];
    assert.ok(base, log());
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
    await node.stop();
  }
  assert.match(log(), /stopped/);
});

test("should build a joining node's site only once it has joined the ledger", {
  timeout: 240_000,
}, async () => {
  const first = await foundedByCli("gdo-node-site-first-");
  const second = scratch("gdo-node-site-joining-");
  const key = await gdo(["key", "new", "--comment", "bob"], second);
  assert.equal(key.code, 0, key.err);
  const added = await gdo(
    ["member", "add", "bob", "--pubkey-file", join(second, ".gdo", "key.pub"), "--role", "device"],
    first,
  );
  assert.equal(added.code, 0, added.err);
  const founder = startCliNode(first, {});
  let joining: ReturnType<typeof startCliNode> | undefined;
  try {
    await until("the first node's address", () => /listening on \S+\/p2p\/\S+/.test(founder.log()));
    const address = /listening on (\S+\/p2p\/\S+)/.exec(founder.log())![1]!;
    joining = startCliNode(second, { bootstrap: [address] });
    const log = joining.log;
    await until("the joining node's first site build", () => FIRST_BUILD.test(log()));
    // No build of a ledger that is not there yet: it waits for the join.
    assert.doesNotMatch(log(), /build failed/);
    assert.match(log(), /site {6}built once the ledger is joined/);
    const joined = log().search(/joined {4}ledger at/);
    assert.ok(joined >= 0 && joined < log().search(FIRST_BUILD), log());
  } finally {
    await joining?.stop();
    await founder.stop();
  }
});
