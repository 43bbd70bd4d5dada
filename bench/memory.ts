/**
 * `npm run bench -- memory [blocks] [idleSeconds]`: the memory of a running
 * node (the process `npm run node` starts, with its V8 flags) holding a
 * ledger of `blocks` blocks (default 10,000), next to the same node on a
 * one-block ledger (the baseline). For each start: time to its first status
 * line, resident memory after `idleSeconds` (default 30) of idling, and the
 * peak. A node verifies its whole history when it starts; its first start
 * after many blocks were written also packs their loose objects. A last
 * start puts a 64 MiB blob through the node's API once it is up: what the
 * node holds after that burst (chunking, hashing threads, packs) has idled.
 *
 * Nodes listen on 127.0.0.1 (free ports, mDNS off) and never build the site.
 * Reads `/proc/<pid>/status`, so Linux only.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeKeyFile } from "../ledger/keyfile.ts";
import { Ledger } from "../ledger/ledger.ts";
import { generateKey } from "../ledger/sshkey.ts";
import { NODE_ENV, nodeFlags } from "../node/process-options.ts";
import { benchContent } from "./_content.ts";
import { appendSwipes } from "./_history.ts";
import { postBlob } from "./_post-blob.ts";
import { until } from "./_until.ts";

const blocks = Number(process.argv[2] ?? 10_000);
const idleSeconds = Number(process.argv[3] ?? 30);
const root = mkdtempSync(join(tmpdir(), "gdo-bench-memory-"));
const log = (line: string) => process.stdout.write(`${line}\n`);
const cli = join(import.meta.dirname, "..", "cli", "main.ts");

try {
  const alice = generateKey("alice");
  /** A data folder with alice's key, a quiet config and a one-block ledger. */
  const dataDir = async (name: string) => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    await writeKeyFile({ path: join(dir, "key"), key: alice });
    const config = { listen: ["/ip4/127.0.0.1/tcp/0"], httpPort: 0, mdns: false };
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    const { ledger } = await Ledger.create({
      gitdir: join(dir, "ledger.git"),
      key: alice,
      founder: "alice",
      name: "Bench",
      durable: false,
    });
    return { dir, ledger };
  };
  const fresh = await dataDir("fresh");
  const long = await dataDir("long");
  const t = performance.now();
  await appendSwipes(long.ledger, alice, 2, blocks);
  spawnSync("sync", { stdio: "ignore" });
  log(
    `setup     ${blocks}-block ledger written in ${((performance.now() - t) / 1000).toFixed(1)} s (not measured)`,
  );

  const base = await measure(fresh.dir);
  log(`baseline  one-block ledger: ${describe(base)}`);
  const first = await measure(long.dir);
  log(`first     ${blocks} blocks, packing their loose objects: ${describe(first)}`);
  const again = await measure(long.dir);
  log(`restart   ${blocks} blocks, packed: ${describe(again)}`);
  log(
    `ratio     idle rss ${blocks} blocks / one block = ${(again.idleKiB / base.idleKiB).toFixed(2)} (budget: 150 MB idle)`,
  );
  const afterPut = await measure(long.dir, (httpPort) =>
    postBlob(httpPort, long.dir, benchContent(`memory-${Date.now()}`, 64 * 1024 * 1024)),
  );
  log(`put       ${blocks} blocks, then a 64 MiB blob put through the API: ${describe(afterPut)}`);
} finally {
  rmSync(root, { recursive: true, force: true });
}

interface Measured {
  readySeconds: number;
  idleKiB: number;
  peakKiB: number;
}

function describe(m: Measured): string {
  const mb = (kib: number) => `${((kib * 1024) / 1e6).toFixed(0)} MB`;
  return `ready in ${m.readySeconds.toFixed(1)} s, rss ${mb(m.idleKiB)} after ${idleSeconds} s idle, peak ${mb(m.peakKiB)}`;
}

/**
 * Starts a node on `dir`, waits until it is up (then runs `once`, given its
 * HTTP port) and idle, reads its memory, stops it.
 */
async function measure(
  dir: string,
  once?: (httpPort: number) => Promise<unknown>,
): Promise<Measured> {
  const t = performance.now();
  const node = spawn(
    process.execPath,
    [...nodeFlags(), cli, "node", "--data", dir, "--no-site-build"],
    { cwd: dir, env: { ...process.env, ...NODE_ENV }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  node.stdout!.on("data", (d) => {
    output += d.toString();
  });
  node.stderr!.on("data", (d) => {
    output += d.toString();
  });
  try {
    const started = () => {
      if (node.exitCode !== null) throw new Error(`node exited with ${node.exitCode}`);
      return output.includes("gdo node: status");
    };
    await until(started, { timeoutMs: 600_000, everyMs: 100, what: "node start" });
    const readySeconds = (performance.now() - t) / 1000;
    if (once) await once(Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(output)![1]));
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const status = readFileSync(`/proc/${node.pid}/status`, "utf8");
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
    return { readySeconds, idleKiB: kib("VmRSS"), peakKiB: kib("VmHWM") };
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- node output ---\n${output}`);
  } finally {
    node.kill("SIGTERM");
    await new Promise((resolve) =>
      node.exitCode === null ? node.once("exit", resolve) : resolve(0),
    );
  }
}
