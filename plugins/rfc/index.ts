/**
 * The RFC archive plugin: owns `rfcs/**` (documents `rfcs/NNNN-slug.md` and
 * their attachments under `rfcs/assets/NNNN/`) and validates every change to it.
 *
 * Loaded by the host as `{ module: new URL("./rfc/index.ts", …), options }` so
 * that its validator runs in a worker; `rfcPlugin()` also works in-thread.
 */
import { definePlugin, type Plugin } from "../api.ts";
import { type RfcValidatorOptions, validateRfcChanges } from "./validate.ts";

export type RfcPluginOptions = RfcValidatorOptions;

export default function rfcPlugin(options: RfcPluginOptions = {}): Plugin {
  const frozen = Object.freeze({ ...options });
  return definePlugin({
    name: "rfc",
    owns: ["rfcs/**"],
    validate: (input) => validateRfcChanges(input, frozen),
  });
}

export { rfcPlugin };
