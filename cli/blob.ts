import { once } from "node:events";
import { access, type FileHandle, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { type BlobStore, DEFAULT_GC_GRACE_MS, openBlobStore } from "../ledger/blobs/blob-store.ts";
import type { ChunkSource } from "../ledger/blobs/chunk-stream.ts";
import { BlobNotFoundError, StoreCheckError } from "../ledger/blobs/errors.ts";
import { ledgerManifests } from "../ledger/blobs/ledger-manifests.ts";
import { blobPointerPath, checkPointerPath, type Manifest } from "../ledger/blobs/manifest.ts";
import { GdoError, NotFoundError, UsageError } from "../ledger/errors.ts";
import { readKeyFile } from "../ledger/keyfile.ts";
import { Ledger } from "../ledger/ledger.ts";
import type { VerifiedBlock } from "../ledger/verify.ts";
import { loadConfig } from "../node/config.ts";
import { explainMissing } from "../node/wanted-blobs.ts";
import type { Command, CommandContext, ParsedArgs } from "./command.ts";
import { stringOption } from "./command.ts";
import { loadKey, openLedger } from "./workspace.ts";

function expectPositionals(args: ParsedArgs, count: number, usage: string): void {
  if (args.positionals.length !== count) {
    const what = args.positionals.length > count ? "too many arguments" : "missing argument";
    throw new UsageError(`${what}\nusage: gdo ${usage}`);
  }
}

async function withStore<T>(
  ctx: CommandContext,
  body: (store: BlobStore) => Promise<T>,
): Promise<T> {
  const store = await openBlobStore({ dataDir: ctx.dataDir });
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

async function ledgerExists(ctx: CommandContext): Promise<boolean> {
  try {
    await access(join(ctx.ledgerPath, "HEAD"));
    return true;
  } catch {
    return false;
  }
}

/** Without a ledger, the live manifests for gc are the store's own copies. */
async function* localManifests(store: BlobStore): AsyncGenerator<Manifest> {
  for await (const entry of store.manifests()) if (entry.manifest) yield entry.manifest;
}

function ioError(path: string, error: unknown): GdoError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new NotFoundError(`${path}: no such file`, { path });
  return new GdoError("io-error", `${path}: ${code ?? (error as Error).message}`, {
    path,
    errno: code,
  });
}

const putUsage = "blob put FILE|- [--path LEDGER_PATH.blob] [-m MESSAGE] [--no-ledger]";
const blobPut: Command = {
  name: "put",
  summary:
    "chunk and store a file (or stdin), record its pointer in the ledger, print its manifest id",
  usage: putUsage,
  options: {
    path: { type: "string" },
    message: { type: "string", short: "m" },
    "no-ledger": { type: "boolean" },
  },
  async run(ctx, args) {
    expectPositionals(args, 1, putUsage);
    const name = args.positionals[0]!;
    const pointerPath = stringOption(args, "path");
    // Before the file is stored: a bad --path should cost nothing.
    if (pointerPath !== undefined) checkPointerPath(pointerPath);
    let source: ChunkSource = process.stdin;
    let handle: FileHandle | undefined;
    if (name !== "-") {
      const path = resolve(ctx.cwd, name);
      try {
        handle = await open(path, "r");
        if (!(await handle.stat()).isFile()) throw new UsageError(`${path} is not a regular file`);
      } catch (error) {
        await handle?.close();
        if (error instanceof GdoError) throw error;
        throw ioError(path, error);
      }
      // Read straight into the chunker's blocks: no intermediate buffers.
      const file = handle;
      source = {
        read: async (into, offset, length) =>
          (await file.read(into, offset, length, null)).bytesRead,
      };
    }
    const result = await withStore(ctx, (store) => store.put({ source })).finally(() =>
      handle?.close(),
    );
    ctx.err(
      `gdo: stored ${result.manifest.size} bytes in ${result.manifest.chunks.length} chunks (${result.newChunks} new, ${result.newBytes} new bytes)\n`,
    );
    // The pointer goes into the ledger, so the blob is signed, versioned and
    // replicated like everything else (and kept by gc).
    if (!args.values["no-ledger"] && (await ledgerExists(ctx))) {
      const path = pointerPath ?? blobPointerPath(result.id);
      const ledger = await openLedger(ctx);
      const block = await ledger.commit({
        key: await loadKey(ctx),
        edits: [{ path, content: result.bytes }],
        message:
          stringOption(args, "message") ??
          `Add blob ${basename(name)} (${result.manifest.size} bytes)`,
      });
      ctx.err(`gdo: recorded ${path} in block ${block}\n`);
    }
    ctx.out(`${result.id}\n`);
    return 0;
  },
};

/** Writes to stdout honouring backpressure (binary data cannot go through ctx.out, which takes text). */
async function toStdout(pieces: AsyncIterable<Uint8Array>): Promise<void> {
  for await (const piece of pieces) {
    if (!process.stdout.write(piece)) await once(process.stdout, "drain");
  }
}

/**
 * Writes to `path` through a temp file in the same folder, renamed into place
 * only after the whole-blob hash verified: a failed get leaves no partial
 * output and does not clobber an existing file.
 */
async function toFile(path: string, pieces: AsyncIterable<Uint8Array>): Promise<void> {
  let special = false;
  try {
    special = !(await stat(path)).isFile();
  } catch {}
  const target = special
    ? path
    : join(dirname(path), `.${basename(path)}.gdo-partial-${process.pid}`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(target, special ? "w" : "wx", 0o644);
  } catch (error) {
    throw ioError(target, error);
  }
  try {
    for await (const piece of pieces) await handle.write(piece);
    await handle.close();
    if (!special) await rename(target, path);
  } catch (error) {
    await handle.close().catch(() => {});
    if (!special) await unlink(target).catch(() => {});
    throw error;
  }
}

const getUsage = "blob get ID [-o FILE]";
const blobGet: Command = {
  name: "get",
  summary: "write a blob to stdout or FILE, verifying every chunk and the whole",
  usage: getUsage,
  options: { output: { type: "string", short: "o" } },
  async run(ctx, args) {
    expectPositionals(args, 1, getUsage);
    const id = args.positionals[0]!;
    const output = stringOption(args, "output");
    await withStore(ctx, async (store) => {
      // Fail before creating any output, saying why the blob is not here.
      await store.manifest({ id }).catch(async (error) => {
        throw error instanceof BlobNotFoundError ? await explained(ctx, id, error) : error;
      });
      const pieces = store.get({ id });
      if (output === undefined || output === "-") await toStdout(pieces);
      else await toFile(resolve(ctx.cwd, output), pieces);
    });
    return 0;
  },
};

const lsUsage = "blob ls";
const blobLs: Command = {
  name: "ls",
  summary: "list stored blobs: id, size, chunk count",
  usage: lsUsage,
  async run(ctx, args) {
    expectPositionals(args, 0, lsUsage);
    await withStore(ctx, async (store) => {
      for await (const entry of store.manifests()) {
        if (entry.manifest) {
          ctx.out(`${entry.id} ${entry.manifest.size} ${entry.manifest.chunks.length}\n`);
        } else ctx.err(`gdo: ${entry.id}: ${entry.error?.message}\n`);
      }
    });
    return 0;
  },
};

const checkUsage = "blob check [--read-data]";
const blobCheck: Command = {
  name: "check",
  summary: "verify manifests and chunks (--read-data re-hashes every chunk); exit 1 if any is bad",
  usage: checkUsage,
  options: { "read-data": { type: "boolean" } },
  async run(ctx, args) {
    expectPositionals(args, 0, checkUsage);
    const readData = args.values["read-data"] === true;
    const report = await withStore(ctx, (store) => store.check({ readData }));
    for (const m of report.badManifests) ctx.out(`bad manifest ${m.id}: ${m.reason}\n`);
    for (const c of report.missingChunks)
      ctx.out(`missing chunk ${c.chunk} (blobs: ${c.blobs.join(", ")})\n`);
    for (const c of report.corruptChunks) {
      ctx.out(`corrupt chunk ${c.chunk}: ${c.reason} (blobs: ${c.blobs.join(", ") || "none"})\n`);
    }
    for (const b of report.affectedBlobs) ctx.out(`affected blob ${b}\n`);
    for (const d of report.damagedPacks) ctx.out(`damaged chunk pack ${d.path}: ${d.reason}\n`);
    for (const p of report.strayFiles) ctx.err(`gdo: stray file ${p} (ignored)\n`);
    const what = readData
      ? `${report.chunks} chunks re-hashed (${report.checkedBytes} bytes)`
      : `${report.chunks} chunks`;
    ctx.out(`checked ${report.blobs} blobs, ${what}\n`);
    if (!report.ok) {
      throw new StoreCheckError(
        `${report.affectedBlobs.length} blob(s) affected: ${report.missingChunks.length} missing chunk(s), ${report.corruptChunks.length} corrupt chunk(s), ${report.badManifests.length} bad manifest(s), ${report.damagedPacks.length} damaged pack(s)`,
        {
          badChunks: report.corruptChunks.map((c) => c.chunk),
          missingChunks: report.missingChunks.map((c) => c.chunk),
          blobs: report.affectedBlobs,
          badManifests: report.badManifests.map((m) => m.id),
          damagedPacks: report.damagedPacks.map((d) => d.path),
        },
      );
    }
    return 0;
  },
};

const gcUsage = "blob gc [--grace SECONDS]";
const blobGc: Command = {
  name: "gc",
  summary: "remove chunks no stored manifest references (older than the grace period)",
  usage: gcUsage,
  options: { grace: { type: "string" } },
  async run(ctx, args) {
    expectPositionals(args, 0, gcUsage);
    const grace = stringOption(args, "grace");
    if (grace !== undefined && !/^\d+$/.test(grace)) {
      throw new UsageError(`--grace must be a number of seconds\nusage: gdo ${gcUsage}`);
    }
    const graceMs = grace === undefined ? DEFAULT_GC_GRACE_MS : Number(grace) * 1000;
    // Live: what any ledger branch points at; without a ledger, the store's own manifests.
    const live = (await ledgerExists(ctx)) ? ledgerManifests(await openLedger(ctx)) : undefined;
    const r = await withStore(ctx, (store) =>
      store.gc({ liveManifests: live ?? localManifests(store), graceMs }),
    );
    ctx.out(
      `removed ${r.removedChunks} chunks (${r.removedBytes} bytes), ${r.removedManifests} manifests, ${r.removedTempFiles} temp files; kept ${r.keptChunks} chunks (${r.keptByGrace} within the grace period)\n`,
    );
    return 0;
  },
};

const statsUsage = "blob stats";
const blobStats: Command = {
  name: "stats",
  summary: "blobs, chunks, logical vs stored bytes, dedup ratio",
  usage: statsUsage,
  async run(ctx, args) {
    expectPositionals(args, 0, statsUsage);
    const s = await withStore(ctx, (store) => store.stats());
    ctx.out(
      [
        `blobs: ${s.blobs}`,
        `chunks: ${s.chunks}`,
        `logical bytes: ${s.logicalBytes}`,
        `stored bytes: ${s.storedBytes}`,
        `unreferenced chunks: ${s.unreferencedChunks}`,
        `dedup ratio: ${s.dedupRatio.toFixed(2)}`,
        `chunker: ${s.chunker}`,
        "",
      ].join("\n"),
    );
    return 0;
  },
};

export const blobCommand: Command = {
  name: "blob",
  summary: "store, fetch, check and collect content-chunked blobs (RFC 0004)",
  usage: "blob <put|get|ls|check|gc|stats> [options]",
  subcommands: [blobPut, blobGet, blobLs, blobCheck, blobGc, blobStats],
};

/** `error` with why the blob is not here, where the ledger tells (see `explainMissing`). */
async function explained(
  ctx: CommandContext,
  id: string,
  error: BlobNotFoundError,
): Promise<BlobNotFoundError> {
  let ledger: Ledger;
  let main: VerifiedBlock;
  let replicate: string[];
  try {
    ledger = await Ledger.open({ gitdir: ctx.ledgerPath });
    main = await ledger.verifiedBlock(await ledger.requireHead());
    replicate = (await loadConfig(ctx.dataDir)).replicate;
  } catch {
    // No ledger (a bare store) or no readable config: the store's own words stand.
    return error;
  }
  const key = await readKeyFile(ctx.keyPath ?? join(ctx.dataDir, "key")).catch(() => undefined);
  return explainMissing(error, {
    id,
    reader: ledger.reader,
    tree: main.tree,
    replicate,
    member: (key && main.charter.memberByKey(key.publicKey)?.name) ?? "",
  });
}
