import { GdoError } from "../ledger/errors.ts";

/** `<dataDir>/config.json` is malformed; `data.field` names the offending field. */
export class ConfigError extends GdoError {
  constructor(file: string, field: string | undefined, reason: string) {
    super("config-invalid", `${file}${field ? `: field '${field}'` : ""}: ${reason}`, {
      file,
      field,
      reason,
    });
  }
}

/** A peer broke the sync protocol (bad frame, unknown message, oversized data). */
export class ProtocolError extends GdoError {
  constructor(reason: string, data: Record<string, unknown> = {}) {
    super("protocol-error", reason, data);
  }
}

/** A peer serves another ledger (different id or genesis). */
export class ForeignLedgerError extends GdoError {
  constructor(peer: string, theirs: string, ours: string) {
    super("foreign-ledger", `peer ${peer} serves ledger ${theirs}, this node keeps ${ours}`, {
      peer,
      theirs,
      ours,
    });
  }
}

/** `gdo node status` found no running node for the data folder. */
export class NodeNotRunningError extends GdoError {
  constructor(dataDir: string, reason: string) {
    super("node-not-running", `no running node for ${dataDir}: ${reason}`, { dataDir, reason });
  }
}
