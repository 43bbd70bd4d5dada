import type { ChangeValidator } from "../ledger/validator.ts";
import { loadPlugins, type PluginEntry, type PluginHost } from "./host.ts";

/** The plugins every gdo ledger runs: the RFC archive first. */
export function builtinPlugins(): PluginEntry[] {
  return [{ module: new URL("./rfc/index.ts", import.meta.url) }];
}

/** How long unused plugin workers stay up before they are stopped (restarted on demand). */
const IDLE_CLOSE_MS = 15_000;

/**
 * Adapts the plugin host to the ledger's validator hook: the core hands over
 * trees and changes, plugins answer with diagnostics (errors refuse the
 * block) and requirements (the policy maps them to approvals).
 *
 * The host (one worker thread per module plugin, tens of MB each) starts on
 * the first change a plugin owns and stops after a quiet spell, so an idle
 * node, or a command that touches no plugin's paths, pays nothing for it.
 */
export async function pluginValidator(
  plugins: PluginEntry[] = builtinPlugins(),
): Promise<{ validate: ChangeValidator; host: { close(): Promise<void> } }> {
  let loading: Promise<PluginHost> | undefined;
  let inFlight = 0;
  let idle: NodeJS.Timeout | undefined;
  const stop = async () => {
    const current = loading;
    loading = undefined;
    if (current) await (await current).close();
  };
  const validate: ChangeValidator = async ({ before, after, changes, genesis }) => {
    clearTimeout(idle);
    inFlight++;
    try {
      loading ??= loadPlugins({ plugins });
      const host = await loading;
      const result = await host.validate({ before, after, changes, genesis });
      return {
        problems: result.diagnostics
          .filter((d) => d.severity === "error")
          .map((d) => ({
            file: d.file,
            line: d.line,
            column: d.column,
            ruleId: d.ruleId,
            reason: d.reason,
          })),
        requirements: result.requirements.map((r) => ({ kind: r.kind, path: r.path })),
        validators: [...host.route(changes).routed.keys()].sort(),
      };
    } finally {
      inFlight--;
      if (inFlight === 0) {
        idle = setTimeout(() => void stop(), IDLE_CLOSE_MS);
        idle.unref();
      }
    }
  };
  return {
    validate,
    host: {
      close: async () => {
        clearTimeout(idle);
        await stop();
      },
    },
  };
}
