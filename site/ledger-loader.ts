/**
 * Astro content loaders over the ledger, in the style of Astro's own
 * (`{ name, load(context) }`). All collections come from one snapshot of the
 * branch (read and verified once per build) and one rendering of the archive.
 *
 *   rfcs        one entry per RFC (id: its number): fields, rendered HTML, relations, blocks, decisions
 *   decisions   every decision on the branch (id: block-rfc), newest last
 *   members     the charter's members at the head (id: name), keys included
 *   ledger      one entry "ledger": organisation name, id, branch, head, site sections,
 *               open proposals (and what each still needs), unmerged divergent decisions
 */

import { join } from "node:path";
import type { Loader, LoaderContext } from "astro/loaders";
import { type Archive, buildArchive } from "./archive.ts";
import { globalRegistry } from "./global-registry.ts";
import { buildState, type SiteOptions } from "./options.ts";
import { readSnapshot, type Snapshot } from "./snapshot.ts";

export interface LedgerView {
  snapshot: Snapshot;
  archive: Archive;
}

type Memo = Map<string, Promise<LedgerView>>;
const memo: Memo = globalRegistry("archives");

/** The snapshot and rendered archive of a build (memoised per build id and head). */
export async function ledgerView(buildId: string): Promise<LedgerView> {
  const state = buildState(buildId);
  const { gitdir, ref, base } = state.options;
  const snapshot = await readSnapshot({ gitdir, ref });
  const key = `${buildId}\0${snapshot.head}`;
  let view = memo.get(key);
  if (!view) {
    for (const old of memo.keys()) if (old.startsWith(`${buildId}\0`)) memo.delete(old);
    view = Promise.resolve().then(() => {
      const archive = buildArchive(snapshot, { base });
      state.diagnostics = [...archive.diagnostics];
      return { snapshot, archive };
    });
    memo.set(key, view);
  }
  return view;
}

export function forgetLedgerViews(buildId: string): void {
  for (const key of memo.keys()) if (key.startsWith(`${buildId}\0`)) memo.delete(key);
}

type Entries = (view: LedgerView, options: SiteOptions) => Array<{ id: string; data: object }>;

function ledgerLoader(collection: string, buildId: string, entries: Entries): Loader {
  const sync = async ({ store, meta, logger, generateDigest }: LoaderContext) => {
    const view = await ledgerView(buildId);
    const head = view.snapshot.head;
    if (meta.get("head") === head && store.keys().length > 0) return;
    store.clear();
    for (const { id, data } of entries(view, buildState(buildId).options)) {
      const record = data as Record<string, unknown>;
      store.set({ id, data: record, digest: generateDigest(record) });
    }
    meta.set("head", head);
    logger.debug(
      `${store.keys().length} entries from ${view.snapshot.ref} at ${head.slice(0, 12)}`,
    );
  };
  return {
    name: `gdo-ledger-${collection}`,
    async load(context: LoaderContext) {
      await sync(context);
      // `astro dev`: load again when a branch of the ledger moves.
      const { watcher, logger } = context;
      if (!watcher) return;
      const { gitdir } = buildState(buildId).options;
      watcher.add([join(gitdir, "refs", "heads"), join(gitdir, "packed-refs")]);
      watcher.on("all", (_event, path) => {
        if (path.startsWith(gitdir)) sync(context).catch((e: Error) => logger.error(e.message));
      });
    },
  };
}

const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** The collections of a build, for `content.config.ts`. */
export function ledgerLoaders(buildId: string): Record<string, Loader> {
  return {
    rfcs: ledgerLoader("rfcs", buildId, ({ archive }) =>
      archive.rfcs.map((rfc) => ({ id: String(rfc.number), data: json(rfc) })),
    ),
    decisions: ledgerLoader("decisions", buildId, ({ snapshot, archive }) => {
      const titles = new Map(archive.rfcs.map((r) => [r.number, r.title]));
      return snapshot.decisions.map((d, i) => ({
        id: `${String(i).padStart(6, "0")}-${d.block.slice(0, 12)}-${d.rfc}`,
        data: json({ ...d, title: titles.get(d.rfc) ?? `RFC ${d.rfc}` }),
      }));
    }),
    members: ledgerLoader("members", buildId, ({ snapshot }) =>
      snapshot.members.map((m) => ({ id: m.name, data: json(m) })),
    ),
    ledger: ledgerLoader("ledger", buildId, ({ snapshot }, options) => [
      {
        id: "ledger",
        data: {
          name: snapshot.name,
          id: snapshot.ledgerId,
          ref: snapshot.ref,
          head: snapshot.head,
          blocks: snapshot.blockCount,
          // Usually empty lists: kept in this entry, not in collections of their own.
          proposals: json(snapshot.proposals),
          conflicts: json(snapshot.conflicts),
          roles: snapshot.roles,
          sections: options.plugins.flatMap((p) =>
            p.site ? [{ plugin: p.name, title: p.site.title, path: p.site.path }] : [],
          ),
        },
      },
    ]),
  };
}
