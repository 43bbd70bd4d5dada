/**
 * `/gdo/ledger/1`: exchanging branch heads and moving the git objects a peer
 * lacks (message formats in `ledger-wire.ts`, RFC 7). The client side of a
 * session:
 *
 *   HEADS_REQ → HEADS                      same ledger? which heads are new?
 *   per new head: FETCH_REQ → OBJECTS… DONE (batches of ≤ fetchBatchCommits)
 *     each batch → Quarantine → Replica.accept (verify, then write)   ✗ → refuse, score −10
 *   refs/remotes/<peer>/<branch> ← verified heads
 *   Replica.reconcile → fast-forward / merge / wait
 *
 * The server side answers one request per stream from the repository, with
 * limits on request size, stream count and idle time.
 */
import type { PeerId, Stream } from "@libp2p/interface";
import {
  commitCache,
  type MissingHistory,
  missingHistory,
  objectsOf,
} from "../ledger/object-walk.ts";
import { Quarantine } from "../ledger/quarantine.ts";
import type { Limits } from "./config.ts";
import { ForeignLedgerError, ProtocolError, peerFailure } from "./errors.ts";
import { FrameReader, oidList, parseJson, sendFrame, sendJson } from "./frame.ts";
import type { MembershipGate } from "./gater.ts";
import {
  ANNOUNCE,
  DONE,
  ERROR,
  FETCH_REQ,
  HEADS,
  HEADS_REQ,
  type Heads,
  LEDGER_PROTOCOL,
  MAX_IDS,
  OBJECTS,
  OBJECTS_FRAME_BYTES,
  packObjects,
  parseHeadMap,
  parseHeads,
  unpackObjects,
} from "./ledger-wire.ts";
import type { ServeHooks, SyncNetwork } from "./network.ts";
import type { PeerTable } from "./peers.ts";
import type { Replica } from "./replica.ts";

/** Requests are small (ids and heads); a larger one is refused before it is buffered. */
const MAX_REQUEST_FRAME = 256 * 1024;
const REFUSED_HEAD_PENALTY = 10;
const PROTOCOL_PENALTY = 5;

export interface LedgerSyncInit {
  replica: Replica;
  gate: MembershipGate;
  peers: PeerTable;
  limits: Limits;
  autoMerge: boolean;
  /** How long to let the other side merge a divergence first. */
  mergeGraceMs: number;
  /** Genesis to insist on when joining. */
  genesis: string | undefined;
  hooks?: ServeHooks;
  log: (line: string) => void;
  /** Called after local branches moved because of a sync. */
  onMoved: () => void;
}

interface Scheduled {
  running: Promise<void> | undefined;
  again: boolean;
}

export class LedgerSync {
  readonly #init: LedgerSyncInit;
  readonly #net: SyncNetwork;
  readonly #scheduled = new Map<string, Scheduled>();
  readonly #controller = new AbortController();
  /** Totals across peers since start. */
  readonly totals = { blocksIn: 0, objectsIn: 0, bytesIn: 0, bytesOut: 0, refusedHeads: 0 };

  constructor(init: LedgerSyncInit, net: SyncNetwork) {
    this.#init = init;
    this.#net = net;
  }

  async start(): Promise<void> {
    await this.#net.handle(LEDGER_PROTOCOL, (stream, peer) => this.#serve(stream, peer), {
      maxInboundStreams: this.#init.limits.maxInboundStreams,
      maxOutboundStreams: this.#init.limits.maxInboundStreams,
    });
  }

  async stop(): Promise<void> {
    this.#controller.abort(new Error("node stopping"));
    await this.#net.unhandle(LEDGER_PROTOCOL).catch(() => {});
    await Promise.allSettled([...this.#scheduled.values()].map((s) => s.running));
  }

  /** Whether any session is running or queued (for tests and status). */
  get busy(): boolean {
    return [...this.#scheduled.values()].some((s) => s.running);
  }

  /** Syncs with a peer soon; a request during a running session runs it once more after. */
  requestSync(peer: PeerId): void {
    if (this.#controller.signal.aborted) return;
    const id = peer.toString();
    let entry = this.#scheduled.get(id);
    if (!entry) {
      entry = { running: undefined, again: false };
      this.#scheduled.set(id, entry);
    }
    if (entry.running) {
      entry.again = true;
      return;
    }
    const slot = entry;
    slot.running = (async () => {
      do {
        slot.again = false;
        try {
          await this.syncWith(peer, this.#controller.signal);
        } catch (error) {
          if (this.#controller.signal.aborted) return;
          const record = this.#init.peers.get(id);
          record.lastError = peerFailure(error);
          this.#init.log(`sync      ${record.name ?? id}: ${record.lastError}`);
        }
      } while (slot.again && !this.#controller.signal.aborted);
    })().finally(() => {
      slot.running = undefined;
    });
  }

  /** Tells every connected peer that local heads moved. */
  async announce(): Promise<void> {
    const heads = await this.#init.replica.localHeads();
    await Promise.allSettled(
      this.#net.connectedPeers().map(async (peer) => {
        const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(10_000)]);
        const stream = await this.#net.openStream(peer, LEDGER_PROTOCOL, { signal });
        try {
          this.#count(peer, "out", await sendJson(stream, ANNOUNCE, { heads }, { signal }));
          await stream.close({ signal });
        } catch (error) {
          stream.abort(error as Error);
        }
      }),
    );
  }

  #count(peer: PeerId, direction: "in" | "out", bytes: number): void {
    const record = this.#init.peers.get(peer.toString());
    if (direction === "in") {
      record.bytesIn += bytes;
      this.totals.bytesIn += bytes;
    } else {
      record.bytesOut += bytes;
      this.totals.bytesOut += bytes;
    }
  }

  async #request<T>(
    peer: PeerId,
    kind: number,
    body: unknown,
    signal: AbortSignal,
    read: (reader: FrameReader) => Promise<T>,
  ): Promise<T> {
    const stream = await this.#net.openStream(peer, LEDGER_PROTOCOL, { signal });
    const reader = new FrameReader(stream, {
      maxFrame: this.#init.limits.maxLedgerFrame,
      idleMs: this.#init.limits.streamIdleMs,
    });
    try {
      this.#count(peer, "out", await sendJson(stream, kind, body, { signal }));
      await stream.close({ signal });
      const result = await read(reader);
      return result;
    } catch (error) {
      stream.abort(error as Error);
      throw error;
    } finally {
      this.#count(peer, "in", reader.bytes);
    }
  }

  async #heads(peer: PeerId, signal: AbortSignal): Promise<Heads> {
    return this.#request(peer, HEADS_REQ, {}, signal, async (reader) => {
      const frame = await reader.expect([HEADS, ERROR], { signal });
      const value = parseJson(frame.payload, "HEADS");
      if (frame.kind === ERROR) throw new ProtocolError(`peer refused: ${String(value.message)}`);
      return parseHeads(value);
    });
  }

  /** One sync session with a peer: heads, missing history through quarantine, remote refs, reconcile. */
  async syncWith(peer: PeerId, signal: AbortSignal): Promise<void> {
    const { replica, gate, peers, log } = this.#init;
    const id = peer.toString();
    const record = peers.get(id);
    const heads = await this.#heads(peer, signal);
    record.heads = heads.heads;
    const main = await replica.main();
    const joining = !main;
    if (!joining) {
      const charter = gate.charter!;
      if (heads.ledger !== charter.id) {
        peers.penalize(id, PROTOCOL_PENALTY, "serves another ledger");
        throw new ForeignLedgerError(id, heads.ledger, charter.id);
      }
    }
    const name = gate.nameOf(peer) ?? `peer-${id.slice(-8).toLowerCase()}`;
    record.name = name;
    const branches = joining
      ? Object.entries(heads.heads).filter(([b]) => b === "main")
      : Object.entries(heads.heads);
    if (joining && branches.length === 0)
      throw new ProtocolError("peer has no main branch to join");
    for (const [branch, oid] of branches) {
      signal.throwIfAborted();
      if (!(await replica.hasCommit(oid))) {
        try {
          await this.#fetch(peer, oid, joining, signal);
        } catch (error) {
          if (signal.aborted) throw error;
          const code = (error as { code?: string }).code ?? "error";
          if (code === "join-refused") throw error;
          record.refusedHeads++;
          this.totals.refusedHeads++;
          const banned = peers.penalize(
            id,
            REFUSED_HEAD_PENALTY,
            `refused ${branch} ${oid}: ${(error as Error).message}`,
          );
          log(
            `refused   ${name}'s ${branch} head ${oid.slice(0, 12)} [${code}]: ${(error as Error).message}`,
          );
          if (banned) {
            log(`banned    ${name} for serving blocks that do not verify`);
            throw error;
          }
          continue;
        }
      }
      if (joining) {
        log(`joined    ledger at ${oid.slice(0, 12)} from ${name}`);
        gate.update(await replica.charter(), []);
        record.name = gate.nameOf(peer) ?? name;
      }
      await replica.verify(oid, signal);
      await replica.setRemote(gate.nameOf(peer) ?? name, branch, oid);
    }
    record.lastSync = Date.now();
    peers.reward(id);
    const result = await replica.reconcile({
      connected: new Set(
        this.#net
          .connectedPeers()
          .map((p) => gate.nameOf(p))
          .filter((n) => n !== undefined),
      ),
      autoMerge: this.#init.autoMerge,
      graceMs: this.#init.mergeGraceMs,
      log,
    });
    if (result.moved || result.branches.length > 0 || joining) this.#init.onMoved();
  }

  async #fetch(peer: PeerId, head: string, joining: boolean, signal: AbortSignal): Promise<void> {
    const { replica, limits, peers } = this.#init;
    const record = peers.get(peer.toString());
    const extra: string[] = [];
    for (let round = 0; round < 100_000; round++) {
      const quarantine = new Quarantine({
        base: replica.repo,
        maxBytes: limits.maxQuarantineBytes,
      });
      const request = {
        want: [head],
        have: joining ? [] : await replica.haves(extra),
        // Joining verifies the whole history before anything is written.
        maxCommits: joining ? 0 : limits.fetchBatchCommits,
      };
      const done = await this.#request(peer, FETCH_REQ, request, signal, async (reader) => {
        for (;;) {
          const frame = await reader.expect([OBJECTS, DONE, ERROR], { signal });
          if (frame.kind === OBJECTS) {
            for (const object of unpackObjects(frame.payload)) {
              quarantine.add(object.type, object.content);
              this.totals.objectsIn++;
            }
            continue;
          }
          const value = parseJson(frame.payload, "DONE");
          if (frame.kind === ERROR)
            throw new ProtocolError(`peer refused the fetch: ${String(value.message)}`);
          return {
            commits: Number(value.commits) || 0,
            tips: oidList(value.tips, "tips", MAX_IDS),
            truncated: value.truncated === true,
          };
        }
      });
      const targets = done.truncated ? done.tips : [head];
      await replica.accept({
        quarantine,
        heads: targets,
        join: joining ? { main: head, genesis: this.#init.genesis } : undefined,
        signal,
      });
      record.blocksIn += done.commits;
      this.totals.blocksIn += done.commits;
      if (!done.truncated) return;
      extra.push(...done.tips);
    }
  }

  async #serve(stream: Stream, peer: PeerId): Promise<void> {
    const { gate, limits, replica } = this.#init;
    if (!gate.decide(peer, "inbound").admit) {
      stream.abort(new ProtocolError("not admitted"));
      return;
    }
    const signal = AbortSignal.any([this.#controller.signal, AbortSignal.timeout(10 * 60_000)]);
    const reader = new FrameReader(stream, {
      maxFrame: MAX_REQUEST_FRAME,
      idleMs: limits.streamIdleMs,
    });
    try {
      const frame = await reader.expect([HEADS_REQ, FETCH_REQ, ANNOUNCE], { signal });
      const value = parseJson(frame.payload, "request");
      if (frame.kind === ANNOUNCE) {
        parseHeadMap(value.heads);
        this.requestSync(peer);
        await stream.close({ signal });
        return;
      }
      const main = await replica.main();
      if (!main) {
        await sendJson(stream, ERROR, {
          code: "no-ledger",
          message: "this node has no ledger yet",
        });
        await stream.close({ signal });
        return;
      }
      if (frame.kind === HEADS_REQ) {
        const block = await replica.verify(main);
        let heads = await replica.localHeads();
        if (this.#init.hooks?.heads) heads = await this.#init.hooks.heads(heads);
        const genesis = replica.verifier.genesis!;
        this.#count(
          peer,
          "out",
          await sendJson(stream, HEADS, { ledger: block.charter.id, genesis, heads }, { signal }),
        );
      } else {
        await this.#serveFetch(stream, peer, value, signal);
      }
      await stream.close({ signal });
    } catch (error) {
      stream.abort(error as Error);
      if (error instanceof ProtocolError)
        this.#init.peers.penalize(peer.toString(), 1, error.message);
    } finally {
      this.#count(peer, "in", reader.bytes);
    }
  }

  async #serveFetch(
    stream: Stream,
    peer: PeerId,
    value: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    const { replica, limits } = this.#init;
    const want = oidList(value.want, "want", MAX_IDS);
    const have = oidList(value.have, "have", MAX_IDS);
    const asked = Number(value.maxCommits);
    const maxCommits =
      Number.isSafeInteger(asked) && asked > 0
        ? Math.min(asked, limits.fetchBatchCommits * 10)
        : Number.POSITIVE_INFINITY;
    const reader = commitCache(replica.repo);
    let history: MissingHistory;
    try {
      history = await missingHistory({
        objects: reader,
        want,
        have: have.filter((oid) => oid.length === 40),
        maxCommits,
        signal,
      });
    } catch (error) {
      await sendJson(stream, ERROR, {
        code: (error as { code?: string }).code ?? "error",
        message: (error as Error).message,
      });
      return;
    }
    let batch: { type: "blob" | "tree" | "commit"; content: Uint8Array }[] = [];
    let size = 0;
    let objects = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      this.#count(peer, "out", await sendFrame(stream, OBJECTS, packObjects(batch), { signal }));
      batch = [];
      size = 0;
    };
    for await (const object of objectsOf({
      objects: reader,
      commits: history.commits,
      signal,
    })) {
      if (object.type === "tag") continue;
      if (size + object.content.length + 5 > limits.maxLedgerFrame - 16) await flush();
      batch.push({ type: object.type, content: object.content });
      size += object.content.length + 5;
      objects++;
      if (size >= OBJECTS_FRAME_BYTES) await flush();
    }
    await flush();
    this.#count(
      peer,
      "out",
      await sendJson(
        stream,
        DONE,
        {
          commits: history.commits.length,
          objects,
          tips: history.tips.slice(0, MAX_IDS),
          truncated: history.truncated,
        },
        { signal },
      ),
    );
  }
}
