import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { UsageError } from "../ledger/errors.ts";
import { loadConfig } from "../node/config.ts";
import { runtimePath, startNode } from "../node/daemon.ts";
import { NodeNotRunningError } from "../node/errors.ts";
import { formatStatus, type NodeStatus } from "../node/status.ts";
import { type Command, stringOption } from "./command.ts";
import { folderAsEdits } from "./genesis.ts";
import { rebuildingSite } from "./node-site.ts";
import { memberNameFrom, validatorFor } from "./workspace.ts";

/** Asks the node running on a data folder for its status over the local HTTP API. */
export async function fetchNodeStatus(dataDir: string): Promise<NodeStatus> {
  let runtime: { http?: string; pid?: number };
  try {
    runtime = JSON.parse(await readFile(runtimePath(dataDir), "utf8"));
  } catch {
    throw new NodeNotRunningError(
      dataDir,
      `no ${runtimePath(dataDir)} (start one with 'gdo node')`,
    );
  }
  try {
    const response = await fetch(`${runtime.http}/api/status`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return (await response.json()) as NodeStatus;
  } catch (error) {
    throw new NodeNotRunningError(
      dataDir,
      `the node at ${runtime.http} (pid ${runtime.pid}) does not answer: ${(error as Error).message}`,
    );
  }
}

const status: Command = {
  name: "status",
  summary: "ask the running node: peers, heads, divergence, sync progress",
  usage: "node status [--json]",
  options: { json: { type: "boolean" } },
  async run(ctx, args) {
    if (args.positionals.length > 0)
      throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
    const result = await fetchNodeStatus(ctx.dataDir);
    ctx.out(args.values.json ? `${JSON.stringify(result, null, 2)}\n` : formatStatus(result));
    return 0;
  },
};

export const nodeCommand: Command = {
  name: "node",
  summary:
    "run this node: dev key on first run, ledger opened, created or joined, peers over libp2p, sync, local API and site",
  usage: "node [--rfcs DIR] [--name ORG] [--no-site-build]   (config: DATA/config.json, see RFC 7)",
  options: {
    rfcs: { type: "string" },
    name: { type: "string" },
    "no-site-build": { type: "boolean" },
  },
  subcommands: [status],
  async run(ctx, args) {
    if (args.positionals.length > 0)
      throw new UsageError(`unknown command 'gdo node ${args.positionals[0]}'`);
    const rfcsDir = resolve(ctx.cwd, stringOption(args, "rfcs") ?? "rfcs");
    const log = (line: string) => ctx.out(`gdo node: ${line}\n`);
    // The site is rebuilt from the ledger whenever main moves (served as is with --no-site-build).
    const site = args.values["no-site-build"]
      ? undefined
      : rebuildingSite({
          gitdir: ctx.ledgerPath,
          outDir: resolve(ctx.cwd, (await loadConfig(ctx.dataDir)).site),
          dataDir: ctx.dataDir,
          log,
        });
    const node = await startNode({
      dataDir: ctx.dataDir,
      keyPath: ctx.keyPath ?? resolve(ctx.dataDir, "key"),
      ledgerPath: ctx.ledgerPath,
      cwd: ctx.cwd,
      genesisFiles: () => folderAsEdits(rfcsDir, "rfcs"),
      founder: memberNameFrom(ctx.env.USER ?? "founder"),
      organisation: stringOption(args, "name") ?? "gdo",
      log,
      validate: await validatorFor(ctx),
      ...(site ? { site } : {}),
    });
    // The first build, for the main the node starts with; later ones follow
    // main. A node still joining has none: its first build follows the join.
    if (site && (await node.status()).ledger)
      site.onMainMoved?.({ head: "", gitdir: ctx.ledgerPath });
    else if (site) log("site      built once the ledger is joined");
    // Runs until asked to stop; a second signal while stopping exits at once.
    await new Promise<void>((done) => {
      const onSignal = (signal: string) => {
        log(`${signal}: stopping`);
        process.once("SIGINT", () => process.exit(130));
        process.once("SIGTERM", () => process.exit(143));
        done();
      };
      process.once("SIGINT", () => onSignal("SIGINT"));
      process.once("SIGTERM", () => onSignal("SIGTERM"));
    });
    await node.stop();
    return 0;
  },
};
