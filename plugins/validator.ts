import type { ChangeValidator } from "../ledger/validator.ts";
import { loadPlugins, type PluginEntry, type PluginHost } from "./host.ts";

/** The plugins every gdo ledger runs: the RFC archive first. */
export function builtinPlugins(): PluginEntry[] {
  return [{ module: new URL("./rfc/index.ts", import.meta.url) }];
}

/**
 * Adapts the plugin host to the ledger's validator hook: the core hands over
 * trees and changes, plugins answer with diagnostics (errors refuse the
 * block) and requirements (the policy maps them to approvals).
 */
export async function pluginValidator(
  plugins: PluginEntry[] = builtinPlugins(),
): Promise<{ validate: ChangeValidator; host: PluginHost }> {
  const host = await loadPlugins({ plugins });
  const validate: ChangeValidator = async ({ before, after, changes, genesis }) => {
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
  };
  return { validate, host };
}
