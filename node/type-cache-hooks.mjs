/**
 * `node --import ./node/type-cache-hooks.mjs …`: the project's .ts modules
 * are loaded from the stripped-types cache (`type-cache.mjs`), which this
 * fills first in a short-lived process of its own, so the node's process
 * never loads Node's type stripper (16 MB of RSS per thread that does). A
 * module missing from the cache (a source edited since) is stripped by Node
 * as usual: the cache only ever saves memory, it never changes what runs.
 * Worker threads run this preload too; only the main thread fills the cache.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";
import { cachedPath, PROJECT_ROOT } from "./type-cache.mjs";

if (isMainThread) {
  spawnSync(
    process.execPath,
    [
      "--disable-warning=ExperimentalWarning",
      fileURLToPath(new URL("type-cache.mjs", import.meta.url)),
    ],
    { stdio: ["ignore", "ignore", "inherit"], timeout: 60_000 },
  );
}

const projectUrl = pathToFileURL(`${PROJECT_ROOT}/`).href;

registerHooks({
  load(url, context, nextLoad) {
    if (!url.startsWith(projectUrl) || !url.endsWith(".ts") || url.includes("/node_modules/"))
      return nextLoad(url, context);
    try {
      const source = readFileSync(fileURLToPath(url));
      return {
        format: "module",
        source: readFileSync(cachedPath(source), "utf8"),
        shortCircuit: true,
      };
    } catch {
      return nextLoad(url, context);
    }
  },
});
