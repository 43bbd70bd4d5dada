import { readFile } from "node:fs/promises";
import { UsageError } from "../ledger/errors.ts";
import { runtimePath } from "../node/daemon.ts";
import { Replica } from "../node/replica.ts";
import type { Command } from "./command.ts";
import { fetchNodeStatus } from "./node.ts";
import { loadKey, openLedger, validatorFor } from "./workspace.ts";

/**
 * `gdo status`: where local branches stand against what peers last
 * advertised (`refs/remotes/<peer>/<branch>`, kept by the node), read from
 * the repository, so it works with the node stopped. A diverged head is
 * checked for a clean merge; conflicting paths are listed.
 */
export const statusCommand: Command = {
  name: "status",
  summary: "local branches against peers' heads: in sync, behind, ahead, diverged (with conflicts)",
  usage: "status",
  async run(ctx, args) {
    if (args.positionals.length > 0)
      throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
    await openLedger(ctx);
    const replica = await Replica.open({
      gitdir: ctx.ledgerPath,
      key: await loadKey(ctx),
      rules: { validate: await validatorFor(ctx) },
    });
    const main = await replica.mainBlock();
    if (!main) {
      ctx.out("no main branch yet: the node is joining a ledger\n");
      return 0;
    }
    ctx.out(`ledger  '${main.charter.name}' (${main.charter.id})\n`);
    for (const [branch, oid] of Object.entries(await replica.localHeads())) {
      const block = await replica.verify(oid);
      ctx.out(`branch  ${branch.padEnd(24)} ${oid} (generation ${block.generation})\n`);
    }
    const divergence = await replica.divergence({ checkMerges: true });
    if (divergence.length === 0)
      ctx.out("remote  none yet (the node records peers' heads as it syncs)\n");
    for (const d of divergence) {
      const where = `${d.peer}/${d.branch}`.padEnd(24);
      let what: string;
      if (d.relation === "same") what = "in sync";
      else if (d.relation === "ahead") what = `${d.behind} block(s) to fast-forward`;
      else if (d.relation === "behind") what = `${d.ahead} local block(s) it lacks`;
      else {
        what = `DIVERGED: ${d.ahead} local, ${d.behind} theirs since the common block; ${
          d.conflicts.length
            ? `conflicts on ${d.conflicts.join(", ")} (no automatic merge; settle them with 'gdo merge --branch ${d.peer}/${d.branch} --take ours' or '--take theirs')`
            : "merges cleanly (the node merges it)"
        }`;
      }
      ctx.out(`remote  ${where} ${d.oid.slice(0, 12)} ${what}\n`);
    }
    try {
      await readFile(runtimePath(ctx.dataDir));
      const live = await fetchNodeStatus(ctx.dataDir);
      const connected = live.peers.filter((p) => p.connected).map((p) => p.name ?? p.id);
      ctx.out(
        `node    running (pid ${live.node.pid}), ${connected.length} peer(s) connected${connected.length ? `: ${connected.join(", ")}` : ""}\n`,
      );
    } catch {
      ctx.out("node    not running\n");
    }
    return 0;
  },
};
