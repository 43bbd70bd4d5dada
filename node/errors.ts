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

/** Another node (pid `owner`) runs on the data folder; `lock` is its lock file. */
export class NodeAlreadyRunningError extends GdoError {
  constructor(dataDir: string, owner: number | undefined, lock: string) {
    super(
      "node-running",
      `a node is already running on ${dataDir}${owner ? ` (pid ${owner})` : ""}: stop it first, or give this one another data folder (--data); if no node runs, remove ${lock}`,
      { dataDir, owner, lock },
    );
  }
}

/** libp2p could not listen on the configured addresses (a port in use, an address not here). */
export class ListenError extends GdoError {
  constructor(configFile: string, reason: string) {
    const hint = /EADDRINUSE/.test(reason)
      ? "another program (or node) holds that port"
      : /EADDRNOTAVAIL/.test(reason)
        ? "this machine has no such address"
        : /EACCES/.test(reason)
          ? "that port needs privileges this process lacks"
          : "";
    super(
      "listen-failed",
      `cannot listen for peers: ${reason}${hint ? `; ${hint}` : ""}: change 'listen' in ${configFile}`,
      { configFile, reason },
    );
  }
}

/**
 * What went wrong in an exchange with a peer, as the node's log says it.
 * libp2p rejects some reads with the stream's close event instead of an
 * Error (a peer that drops the connection mid-request, as one does that no
 * longer admits this node), which has no message; and its error for a
 * stream that ends early says so in a reader's terms.
 */
export function peerFailure(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === "UnexpectedEOFError") return "the peer closed the stream before answering";
    return error.message || error.name;
  }
  if (error instanceof Event) {
    const { error: cause, local } = error as Event & { error?: unknown; local?: boolean };
    if (cause !== undefined) return peerFailure(cause);
    return local ? "the stream was closed here" : "the peer closed the stream";
  }
  return String(error);
}
