/**
 * Real nodes for tests: each a separate OS process (`gdo node`) on
 * 127.0.0.1 with its own data folder, key and fixed ports, mDNS off. The
 * first member founds the ledger on disk; the others start empty and join it
 * from their bootstrap peers, as a new device would.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { serializeMember } from "../../ledger/charter.ts";
import { parseCommit } from "../../ledger/commit.ts";
import { writeKeyFile } from "../../ledger/keyfile.ts";
import { Ledger } from "../../ledger/ledger.ts";
import { Repository } from "../../ledger/repository.ts";
import { generateKey, type SshPrivateKey } from "../../ledger/sshkey.ts";
import { peerIdOf } from "../../node/identity.ts";
import { NODE_ENV, nodeFlags } from "../../node/process-options.ts";
import type { NodeStatus } from "../../node/status.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
export const NODE_BIN = join(ROOT, "node_modules/.bin/node");
const text = (s: string) => new TextEncoder().encode(s);

/** One HTTP request on a fresh connection (no keep-alive: a node may restart between calls). */
export function httpRequest(
  url: string,
  {
    method = "GET",
    headers = {},
    body,
  }: { method?: string; headers?: Record<string, string>; body?: Uint8Array },
): Promise<{ status: number; body: Buffer }> {
  return new Promise((done, fail) => {
    const req = request(url, { method, headers, agent: false, timeout: 120_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => done({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on("error", fail);
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: timed out`)));
    req.on("error", fail);
    req.end(body);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

/** Polls `check` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 90_000, everyMs = 250 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}${nodeLogs()}`,
  );
}

/** Nodes of clusters not yet cleaned up: a timeout prints their last log lines. */
const liveNodes = new Set<TestNode>();

function nodeLogs(): string {
  let out = "";
  for (const node of liveNodes) {
    const tail = node.output.trimEnd().split("\n").slice(-40).join("\n");
    out += `\n--- ${node.name} (last lines of its log)\n${tail}`;
  }
  return out;
}

/** The main every node in `nodes` is on, if they all are on the same one. */
export async function sameMain(nodes: TestNode[]): Promise<string | undefined> {
  const mains = await Promise.all(nodes.map((n) => n.main()));
  return mains.every((m) => m && m === mains[0]) ? mains[0] : undefined;
}

export interface MemberSpec {
  name: string;
  roles: string[];
}

export class TestNode {
  readonly name: string;
  readonly dataDir: string;
  readonly key: SshPrivateKey;
  readonly port: number;
  peerId = "";
  proc: ChildProcess | undefined;
  output = "";
  /** Extra environment and the entry script (a test-only entry for liars). */
  env: Record<string, string> = {};
  // Test nodes serve no site: building one per node would dwarf what they test.
  entry: string[] = [join(ROOT, "cli/main.ts"), "node", "--no-site-build"];
  #exited: Promise<void> | undefined;

  constructor(name: string, dataDir: string, key: SshPrivateKey, port: number) {
    this.name = name;
    this.dataDir = dataDir;
    this.key = key;
    this.port = port;
  }

  get address(): string {
    return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${this.peerId}`;
  }

  get gitdir(): string {
    return join(this.dataDir, "ledger.git");
  }

  /**
   * Runs the node through the test-only entry that misbehaves as `mode` says
   * (`GDO_TEST_LIAR`: blocks, chunks, vanish:N, slow:MS; see liar-node.ts).
   */
  misbehave(mode: string): void {
    this.entry = [join(ROOT, "test/node/fixtures/liar-node.ts")];
    this.env = { GDO_TEST_LIAR: mode };
  }

  configure(config: Record<string, unknown>): void {
    writeFileSync(
      join(this.dataDir, "config.json"),
      JSON.stringify({
        listen: [`/ip4/127.0.0.1/tcp/${this.port}`],
        mdns: false,
        httpPort: 0,
        syncIntervalMs: 3000,
        ...config,
      }),
    );
  }

  start(): void {
    if (this.running) throw new Error(`${this.name} already runs`);
    const emptyRfcs = join(this.dataDir, "no-rfcs");
    mkdirSync(emptyRfcs, { recursive: true });
    this.output += `--- start ${new Date().toISOString()}\n`;
    const proc = spawn(
      NODE_BIN,
      [...nodeFlags(), ...this.entry, "--data", this.dataDir, "--rfcs", emptyRfcs],
      {
        cwd: this.dataDir,
        env: { ...process.env, ...NODE_ENV, ...this.env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    proc.stdout!.on("data", (d) => {
      this.output += d.toString();
    });
    proc.stderr!.on("data", (d) => {
      this.output += d.toString();
    });
    this.#exited = new Promise((done) => proc.once("exit", () => done()));
    this.proc = proc;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The HTTP base URL from the node's runtime file (written once it is up). */
  http(): string {
    const runtime = JSON.parse(readFileSync(join(this.dataDir, "node.json"), "utf8"));
    if (runtime.pid !== this.proc?.pid) throw new Error("runtime file is from another run");
    return runtime.http;
  }

  async ready(): Promise<void> {
    await waitFor(`${this.name} to serve its API`, async () => {
      if (!this.running) throw new Error(`${this.name} exited:\n${this.output}`);
      return (await this.status()) !== undefined;
    });
  }

  async status(): Promise<NodeStatus> {
    const { status, body } = await httpRequest(`${this.http()}/api/status`, {});
    if (status !== 200) throw new Error(`status → ${status}`);
    return JSON.parse(body.toString("utf8")) as NodeStatus;
  }

  async get(path: string): Promise<{ status: number; body: Buffer }> {
    return httpRequest(`${this.http()}${path}`, {});
  }

  async post(
    path: string,
    body: unknown,
    { token }: { token?: string } = {},
  ): Promise<Record<string, unknown>> {
    const bearer = token ?? readFileSync(join(this.dataDir, "api-token"), "utf8").trim();
    const result = await httpRequest(`${this.http()}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      body: body instanceof Uint8Array ? body : Buffer.from(JSON.stringify(body)),
    });
    const value = JSON.parse(result.body.toString("utf8")) as Record<string, unknown>;
    if (result.status !== 200)
      throw new Error(`${path} → ${result.status}: ${JSON.stringify(value)}`);
    return value;
  }

  /** One block through the running node's API. */
  async write(files: Record<string, string>, message: string): Promise<string> {
    const body = {
      message,
      files: Object.fromEntries(Object.entries(files).map(([p, t]) => [p, { text: t }])),
    };
    return (await this.post("/api/write", body)).block as string;
  }

  /** One block written by the CLI straight into the data folder (the node may be down). */
  writeOffline(path: string, content: string, message: string): string {
    const file = join(this.dataDir, `offline-${Date.now()}-${Math.random()}`);
    writeFileSync(file, content);
    const result = spawnSync(
      NODE_BIN,
      [
        join(ROOT, "cli/main.ts"),
        "write",
        `${path}=${file}`,
        "-m",
        message,
        "--data",
        this.dataDir,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    if (result.status !== 0) throw new Error(`gdo write failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.proc!.kill("SIGTERM");
    await Promise.race([this.#exited, sleep(30_000, undefined, { ref: false })]);
    if (this.running) this.proc!.kill("SIGKILL");
    await this.#exited;
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    this.proc!.kill("SIGKILL");
    await this.#exited;
  }

  async main(): Promise<string | undefined> {
    const repo = await Repository.open({ gitdir: this.gitdir }).catch(() => undefined);
    return repo?.readRef("refs/heads/main");
  }

  /** Every block reachable from main, by id. */
  async history(): Promise<Map<string, { parents: string[]; message: string }>> {
    const repo = await Repository.open({ gitdir: this.gitdir });
    const main = await repo.readRef("refs/heads/main");
    const out = new Map<string, { parents: string[]; message: string }>();
    const stack = main ? [main] : [];
    while (stack.length > 0) {
      const oid = stack.pop()!;
      if (out.has(oid)) continue;
      const commit = parseCommit(oid, (await repo.readObject(oid)).content);
      out.set(oid, { parents: commit.parents, message: commit.message });
      stack.push(...commit.parents);
    }
    return out;
  }

  async readFile(path: string): Promise<string | undefined> {
    const ledger = await Ledger.open({ gitdir: this.gitdir, durable: false });
    const bytes = await ledger.readFile(path);
    return bytes ? new TextDecoder().decode(bytes) : undefined;
  }
}

/**
 * Makes a cluster: `members[0]` founds the ledger (admin) and adds the others
 * with their roles; every node gets a data folder, key and port, and a config
 * whose bootstrap list holds all the other nodes. Extra nodes (`outsiders`)
 * get keys but are not added to the ledger.
 */
export async function makeCluster(
  members: MemberSpec[],
  { outsiders = [] as string[] } = {},
): Promise<{ nodes: Map<string, TestNode>; root: string; cleanup: () => Promise<void> }> {
  const root = mkdtempSync(join(tmpdir(), "gdo-node-test-"));
  const nodes = new Map<string, TestNode>();
  for (const name of [...members.map((m) => m.name), ...outsiders]) {
    const dataDir = join(root, name);
    mkdirSync(dataDir, { recursive: true });
    const key = generateKey(name);
    await writeKeyFile({ path: join(dataDir, "key"), key });
    const node = new TestNode(name, dataDir, key, await freePort());
    node.peerId = (await peerIdOf(key)).toString();
    nodes.set(name, node);
    liveNodes.add(node);
  }
  const founder = nodes.get(members[0]!.name)!;
  const { ledger } = await Ledger.create({
    gitdir: founder.gitdir,
    key: founder.key,
    founder: founder.name,
    name: "Test Makerspace",
    durable: false,
  });
  for (const m of members.slice(1)) {
    const node = nodes.get(m.name)!;
    await ledger.commit({
      key: founder.key,
      message: `Add ${m.name}`,
      edits: [
        {
          path: `charter/members/${m.name}.yaml`,
          content: text(
            serializeMember({
              name: m.name,
              key: node.key.publicKey.keyText,
              roles: m.roles,
              added: "2026-11-25",
            }),
          ),
        },
      ],
    });
  }
  for (const node of nodes.values()) {
    node.configure({
      bootstrap: [...nodes.values()].filter((n) => n !== node).map((n) => n.address),
    });
  }
  const cleanup = async () => {
    for (const node of nodes.values()) liveNodes.delete(node);
    await stopAll(nodes.values());
    rmSync(root, { recursive: true, force: true });
  };
  return { nodes, root, cleanup };
}

/** Stops every node that still runs (for `after`). */
export async function stopAll(nodes: Iterable<TestNode>): Promise<void> {
  await Promise.allSettled([...nodes].map((n) => n.stop()));
}
