import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type SitePlugin, staticSite } from "../node/site-server.ts";

const PROJECT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The node's site part: serves the built site and rebuilds it whenever main
 * moves. Each build runs `site/build-command.ts` in a child process rooted at
 * the project: Astro resolves its packages from there wherever the node was
 * started, and its memory (hundreds of MB while building) is returned when the
 * build ends instead of staying in a long-running node. Builds never overlap;
 * moves during a build cause one more build after it. The build swaps its
 * output in only when complete, so readers never see a half-built site, and a
 * failed build keeps the previous one (and is logged).
 */
export function rebuildingSite(input: {
  gitdir: string;
  outDir: string;
  dataDir: string;
  log: (line: string) => void;
}): SitePlugin {
  const serve = staticSite({ dir: input.outDir });
  let running: Promise<void> | undefined;
  let again = false;
  const controller = new AbortController();
  const buildOnce = () =>
    new Promise<void>((done) => {
      const child = spawn(
        process.execPath,
        [
          join(PROJECT, "site", "build-command.ts"),
          "--ledger",
          input.gitdir,
          "--out",
          input.outDir,
          "--data",
          input.dataDir,
        ],
        { cwd: PROJECT, stdio: ["ignore", "pipe", "pipe"], signal: controller.signal },
      );
      let output = "";
      const keep = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000);
      };
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      child.on("error", () => {});
      child.on("close", (code) => {
        const lines = output.trim().split("\n");
        if (code === 0)
          input.log(`site      ${lines.filter((l) => l.startsWith("gdo site:")).pop() ?? "built"}`);
        else if (!controller.signal.aborted) {
          input.log(
            `site      build failed (exit ${code}), still serving the previous one: ${lines.slice(-3).join(" | ")}`,
          );
        }
        done();
      });
    });
  const build = async () => {
    do {
      again = false;
      await buildOnce();
    } while (again && !controller.signal.aborted);
  };
  return {
    name: "rebuilding-site",
    handle: (req, res) => serve.handle(req, res),
    onMainMoved() {
      if (running) {
        again = true;
        return;
      }
      running = build().finally(() => {
        running = undefined;
      });
    },
    async close() {
      controller.abort();
      await running;
      await serve.close?.();
    },
  };
}
