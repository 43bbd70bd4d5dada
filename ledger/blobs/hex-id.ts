import { InvalidIdError } from "./errors.ts";

const HEX_ID = /^[0-9a-f]{64}$/;

/** True for a SHA-256 id as the store spells it: exactly 64 lowercase hex characters. */
export function isHexId(id: unknown): id is string {
  return typeof id === "string" && HEX_ID.test(id);
}

/**
 * Refuses anything but 64 lowercase hex characters before an id is ever used to
 * build a path, so `../`, `/`, NUL, upper case or short ids never reach the fs.
 */
export function assertHexId(id: unknown, kind: "chunk" | "blob"): asserts id is string {
  if (!isHexId(id)) {
    const shown = typeof id === "string" ? JSON.stringify(id.slice(0, 80)) : String(id);
    throw new InvalidIdError(`${kind} id ${shown} is not 64 lowercase hex characters (SHA-256)`, {
      id: typeof id === "string" ? id.slice(0, 200) : String(id),
      kind,
    });
  }
}
