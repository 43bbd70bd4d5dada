/**
 * The plugin host: loads plugins, checks that no two own the same path, routes
 * each change to its owner and runs validators under a time limit.
 *
 * Two ways to load a plugin:
 *
 * - a module reference `{ module, export?, options? }`: the factory is imported
 *   and run inside a worker thread, never in the host's thread. A validator that
 *   loops forever, even synchronously, is stopped by terminating its worker
 *   after `timeoutMs` (the next run starts a fresh worker); a heap limit caps
 *   its memory. This is the mode the ledger uses.
 * - a plugin object (from `definePlugin`): runs in the host's thread. The time
 *   limit then only refuses validators that never *settle*; a synchronous
 *   infinite loop cannot be interrupted in-thread and would hang the host. Use it
 *   for tests and trusted built-ins.
 *
 * Either way a validator reads only through `TreeView`s scoped to its `owns`
 * and `reads` globs, and a throw becomes a `validator-threw` diagnostic.
 *
 * ```
 *  host thread                          worker (one per module plugin)
 *  validate(changes) ── route ──► {type: validate, changes} ──► plugin.validate
 *         ▲   tree.read / list  ◄── {type: tree, id, op, path} ◄── TreeView proxy
 *         └── timeout: worker.terminate()   {type: result | threw} ──┘
 * ```
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type {
  Change,
  Diagnostic,
  Plugin,
  Requirement,
  TreeView,
  ValidationInput,
  ValidationResult,
} from "./api.ts";
import { PluginAccessError, PluginConflictError, PluginLoadError } from "./errors.ts";
import { globsOverlap, matchGlob } from "./glob.ts";

/** A plugin loaded from a module and run in a worker thread. */
export interface PluginModuleRef {
  /**
   * A file URL, an absolute path, or a package specifier. A relative path is
   * resolved against the current directory.
   */
  module: string | URL;
  /** The named export holding the factory; default `"default"`. */
  export?: string;
  /** Passed to the factory. Must be structured-cloneable: it crosses into the worker. */
  options?: unknown;
}

export type PluginEntry = Plugin | PluginModuleRef;

export interface HostOptions {
  plugins: readonly PluginEntry[];
  /** Time limit for one plugin's validation, in ms. Default 30 000. */
  timeoutMs?: number;
  /** Heap limit of each worker, in MB. Default 512. */
  memoryLimitMb?: number;
}

/** A requirement with the name of the plugin that stated it. */
export type HostRequirement = Requirement & { readonly plugin: string };

export interface HostValidation {
  /** Every plugin's diagnostics (with `source`), sorted by file, line, column, rule. */
  diagnostics: Diagnostic[];
  /** Every plugin's requirements, in plugin order. */
  requirements: HostRequirement[];
  /** Changes no plugin owns: the ledger core decides about these (charter, policy…). */
  unowned: Change[];
}

export interface PluginHost extends AsyncDisposable {
  /** The loaded plugins' declarations, in load order. */
  readonly plugins: readonly Plugin[];
  /** The plugin owning `path`, if any. */
  ownerOf(path: string): Plugin | undefined;
  /** Splits changes by owning plugin name. */
  route(changes: readonly Change[]): { routed: Map<string, Change[]>; unowned: Change[] };
  /** Runs every plugin with routed changes; never throws for a plugin's failure. */
  validate(input: {
    before: TreeView;
    after: TreeView;
    changes: readonly Change[];
    genesis?: boolean;
    signal?: AbortSignal;
  }): Promise<HostValidation>;
  /** Stops the workers. */
  close(): Promise<void>;
}

interface Runner {
  readonly plugin: Plugin;
  run(input: ValidationInput, signal: AbortSignal | undefined): Promise<ValidationResult>;
  close(): Promise<void>;
}

/** Thrown inside runners to signal the time limit; turned into a diagnostic. */
class TimedOut extends Error {}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MEMORY_MB = 512;

/**
 * Loads plugins (module references start their worker now, so a broken module
 * fails here) and checks names and owned globs.
 *
 * @throws PluginLoadError when a module cannot be loaded or is not a plugin factory.
 * @throws PluginConflictError when two plugins share a name or an owned path.
 */
export async function loadPlugins(options: HostOptions): Promise<PluginHost> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const memoryMb = options.memoryLimitMb ?? DEFAULT_MEMORY_MB;
  const runners: Runner[] = [];
  try {
    for (const entry of options.plugins) {
      runners.push(
        isPluginObject(entry)
          ? new InlineRunner(entry, timeoutMs)
          : await WorkerRunner.start(entry, timeoutMs, memoryMb),
      );
    }
    checkConflicts(runners.map((r) => r.plugin));
  } catch (error) {
    await Promise.all(runners.map((r) => r.close()));
    throw error;
  }
  const plugins = Object.freeze(runners.map((r) => r.plugin));

  const ownerOf = (path: string) => plugins.find((p) => p.owns.some((g) => matchGlob(g, path)));
  const route = (changes: readonly Change[]) => {
    const routed = new Map<string, Change[]>();
    const unowned: Change[] = [];
    for (const change of [...changes].sort((a, b) => compare(a.path, b.path))) {
      const owner = ownerOf(change.path);
      if (!owner) unowned.push(change);
      else routed.set(owner.name, [...(routed.get(owner.name) ?? []), change]);
    }
    return { routed, unowned };
  };

  const host: PluginHost = {
    plugins,
    ownerOf,
    route,
    async validate({ before, after, changes, genesis, signal }) {
      signal?.throwIfAborted();
      const { routed, unowned } = route(changes);
      const outcomes = await Promise.all(
        runners.map(async (runner) => {
          const mine = routed.get(runner.plugin.name);
          if (!mine || !runner.plugin.validate) return undefined;
          const globs = [...runner.plugin.owns, ...runner.plugin.reads];
          const input: ValidationInput = {
            before: scopedTree(before, globs, runner.plugin.name),
            after: scopedTree(after, globs, runner.plugin.name),
            changes: mine,
            ...(genesis ? { genesis } : {}),
          };
          return runGuarded(runner, input, timeoutMs, signal);
        }),
      );
      signal?.throwIfAborted();
      const diagnostics: Diagnostic[] = [];
      const requirements: HostRequirement[] = [];
      for (const outcome of outcomes) {
        if (!outcome) continue;
        diagnostics.push(...outcome.diagnostics);
        requirements.push(...outcome.requirements);
      }
      diagnostics.sort(compareDiagnostics);
      return { diagnostics, requirements, unowned };
    },
    async close() {
      await Promise.all(runners.map((r) => r.close()));
    },
    [Symbol.asyncDispose]() {
      return host.close();
    },
  };
  return host;
}

function isPluginObject(entry: PluginEntry): entry is Plugin {
  return typeof (entry as Plugin).name === "string" && Array.isArray((entry as Plugin).owns);
}

function checkConflicts(plugins: readonly Plugin[]) {
  for (let i = 0; i < plugins.length; i++) {
    for (let j = i + 1; j < plugins.length; j++) {
      const a = plugins[i]!;
      const b = plugins[j]!;
      if (a.name === b.name)
        throw new PluginConflictError(`two plugins are named '${a.name}'`, { plugin: a.name });
      for (const ga of a.owns)
        for (const gb of b.owns)
          if (globsOverlap(ga, gb))
            throw new PluginConflictError(
              `plugins '${a.name}' (${ga}) and '${b.name}' (${gb}) own overlapping paths`,
              { plugins: [a.name, b.name], globs: [ga, gb] },
            );
    }
  }
}

/** Runs one plugin, turning a throw, a timeout or a malformed result into diagnostics. */
async function runGuarded(
  runner: Runner,
  input: ValidationInput,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ diagnostics: Diagnostic[]; requirements: HostRequirement[] }> {
  const name = runner.plugin.name;
  const file = input.changes[0]?.path ?? "";
  const fail = (ruleId: string, reason: string) => ({
    diagnostics: [
      { file, line: 1, column: 1, ruleId, reason, severity: "error" as const, source: name },
    ],
    requirements: [],
  });
  let raw: ValidationResult;
  try {
    raw = await runner.run(input, signal);
  } catch (error) {
    if (signal?.aborted) return { diagnostics: [], requirements: [] };
    if (error instanceof TimedOut)
      return fail(
        "validator-timeout",
        `the '${name}' validator did not finish within ${timeoutMs} ms; the change is refused`,
      );
    return fail(
      "validator-threw",
      `the '${name}' validator threw: ${(error as Error)?.message ?? String(error)}`,
    );
  }
  const problem = resultProblem(raw);
  if (problem)
    return fail("validator-invalid-result", `the '${name}' validator returned ${problem}`);
  return {
    diagnostics: raw.diagnostics.map((d) => ({ ...d, source: name })),
    requirements: raw.requirements.map((r) => ({ ...r, plugin: name })),
  };
}

/** Why `raw` is not a ValidationResult, or undefined. */
function resultProblem(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null) return "no result object";
  const { diagnostics, requirements } = raw as Record<string, unknown>;
  if (!Array.isArray(diagnostics) || !Array.isArray(requirements))
    return "a result without diagnostics[] and requirements[]";
  for (const d of diagnostics as Diagnostic[]) {
    const ok =
      typeof d === "object" &&
      d !== null &&
      typeof d.file === "string" &&
      Number.isInteger(d.line) &&
      Number.isInteger(d.column) &&
      typeof d.ruleId === "string" &&
      typeof d.reason === "string" &&
      (d.severity === "error" || d.severity === "warning");
    if (!ok) return `a malformed diagnostic: ${safeJson(d)}`;
  }
  for (const r of requirements as Requirement[]) {
    if (
      typeof r !== "object" ||
      r === null ||
      typeof r.kind !== "string" ||
      typeof r.path !== "string"
    )
      return `a malformed requirement: ${safeJson(r)}`;
  }
  return undefined;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 200) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A TreeView that refuses reads outside `globs` and hides other paths from listings. */
export function scopedTree(tree: TreeView, globs: readonly string[], plugin: string): TreeView {
  const allowed = (path: string) => globs.some((g) => matchGlob(g, path));
  return {
    async read(path) {
      if (!allowed(path))
        throw new PluginAccessError(`plugin '${plugin}' may not read '${path}'`, { plugin, path });
      return tree.read(path);
    },
    async list(prefix) {
      return (await tree.list(prefix)).filter(allowed);
    },
  };
}

class InlineRunner implements Runner {
  readonly plugin: Plugin;
  readonly #timeoutMs: number;
  constructor(plugin: Plugin, timeoutMs: number) {
    this.plugin = plugin;
    this.#timeoutMs = timeoutMs;
  }
  async run(input: ValidationInput, signal: AbortSignal | undefined) {
    const validate = this.plugin.validate!;
    return withTimeout((async () => validate(input))(), this.#timeoutMs, signal, () => {});
  }
  async close() {}
}

/** Settles with `work`, or rejects with TimedOut / the abort reason, calling `stop` first. */
function withTimeout<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  stop: () => void,
): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () => {
      cleanup();
      stop();
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      cleanup();
      stop();
      reject(new TimedOut());
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        cleanup();
        resolvePromise(value);
      },
      (error) => {
        cleanup();
        reject(error);
      },
    );
  });
}

/** Messages between host and worker; see host-worker.ts for the other side. */
export type ToWorker =
  | { type: "init"; module: string; export: string; options: unknown }
  | { type: "validate"; changes: Change[]; genesis?: boolean }
  | { type: "tree"; id: number; bytes?: Uint8Array; paths?: string[]; error?: string };
export type FromWorker =
  | { type: "ready"; name: string; owns: string[]; reads: string[]; validates: boolean }
  | { type: "init-failed"; message: string }
  | { type: "tree"; id: number; tree: "before" | "after"; op: "read" | "list"; path: string }
  | { type: "result"; result: ValidationResult }
  | { type: "threw"; message: string };

class WorkerRunner implements Runner {
  readonly plugin: Plugin;
  readonly #ref: { module: string; export: string; options: unknown };
  readonly #timeoutMs: number;
  readonly #memoryMb: number;
  #worker: Worker | undefined;
  /** Runs of one worker are serialised: its messages carry no run id. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    plugin: Plugin,
    ref: { module: string; export: string; options: unknown },
    worker: Worker,
    timeoutMs: number,
    memoryMb: number,
  ) {
    this.plugin = plugin;
    this.#ref = ref;
    this.#worker = worker;
    this.#timeoutMs = timeoutMs;
    this.#memoryMb = memoryMb;
  }

  static async start(entry: PluginModuleRef, timeoutMs: number, memoryMb: number) {
    const ref = {
      module: moduleUrl(entry.module),
      export: entry.export ?? "default",
      options: entry.options,
    };
    const { worker, ready } = await spawn(ref, timeoutMs, memoryMb);
    const plugin: Plugin = Object.freeze({
      name: ready.name,
      owns: Object.freeze(ready.owns),
      reads: Object.freeze(ready.reads),
      // Marker only: the real validator runs in the worker.
      ...(ready.validates ? { validate: () => ({ diagnostics: [], requirements: [] }) } : {}),
    });
    worker.unref();
    return new WorkerRunner(plugin, ref, worker, timeoutMs, memoryMb);
  }

  run(input: ValidationInput, signal: AbortSignal | undefined): Promise<ValidationResult> {
    const next = this.#queue.then(() => this.#runNow(input, signal));
    this.#queue = next.catch(() => {});
    return next;
  }

  async #runNow(input: ValidationInput, signal: AbortSignal | undefined) {
    signal?.throwIfAborted();
    if (!this.#worker) {
      const { worker } = await spawn(this.#ref, this.#timeoutMs, this.#memoryMb);
      this.#worker = worker;
    }
    const worker = this.#worker;
    worker.ref();
    const work = new Promise<ValidationResult>((resolvePromise, reject) => {
      const onMessage = async (message: FromWorker) => {
        if (message.type === "tree") {
          const reply = await answerTree(input, message);
          worker.postMessage(reply, reply.bytes ? [reply.bytes.buffer as ArrayBuffer] : []);
          return;
        }
        off();
        if (message.type === "result") resolvePromise(message.result);
        else if (message.type === "threw") reject(new Error(message.message));
        else reject(new Error(`unexpected message '${message.type}' from the worker`));
      };
      const onError = (error: Error) => {
        off();
        this.#worker = undefined;
        reject(error);
      };
      const onExit = (code: number) => {
        off();
        this.#worker = undefined;
        reject(new Error(`the worker exited with code ${code}`));
      };
      const off = () => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage({
        type: "validate",
        changes: [...input.changes],
        genesis: input.genesis === true,
      } satisfies ToWorker);
    });
    try {
      return await withTimeout(work, this.#timeoutMs, signal, () => {
        // Terminating is the only way to stop a synchronous loop; a fresh worker
        // is started on the next run.
        this.#worker = undefined;
        void worker.terminate();
      });
    } finally {
      this.#worker?.unref();
    }
  }

  async close() {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }
}

async function answerTree(
  input: ValidationInput,
  message: Extract<FromWorker, { type: "tree" }>,
): Promise<Extract<ToWorker, { type: "tree" }>> {
  const tree = message.tree === "before" ? input.before : input.after;
  try {
    if (message.op === "read") {
      const bytes = await tree.read(message.path);
      if (!bytes) return { type: "tree", id: message.id };
      // A copy, transferred to the worker: the caller's bytes may be a view into a
      // shared buffer (Node's Buffer pool; Buffer#slice would not copy).
      const copy = new Uint8Array(bytes.byteLength);
      copy.set(bytes);
      return { type: "tree", id: message.id, bytes: copy };
    }
    return { type: "tree", id: message.id, paths: await tree.list(message.path) };
  } catch (error) {
    return { type: "tree", id: message.id, error: (error as Error)?.message ?? String(error) };
  }
}

function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (module.startsWith("file:")) return module;
  if (isAbsolute(module) || module.startsWith(".")) return pathToFileURL(resolve(module)).href;
  return module;
}

async function spawn(
  ref: { module: string; export: string; options: unknown },
  timeoutMs: number,
  memoryMb: number,
) {
  const worker = new Worker(new URL("./host-worker.ts", import.meta.url), {
    env: {},
    resourceLimits: { maxOldGenerationSizeMb: memoryMb },
  });
  let off = () => {};
  const ready = await withTimeout(
    new Promise<Extract<FromWorker, { type: "ready" }>>((resolvePromise, reject) => {
      const onMessage = (message: FromWorker) => {
        if (message.type === "ready") resolvePromise(message);
        else if (message.type === "init-failed") reject(new Error(message.message));
        else reject(new Error(`unexpected message '${message.type}'`));
      };
      const onExit = (code: number) => reject(new Error(`the worker exited with code ${code}`));
      // Only our own listeners are removed: Worker uses listener hooks internally.
      off = () => {
        worker.off("message", onMessage);
        worker.off("error", reject);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", reject);
      worker.on("exit", onExit);
      worker.postMessage({
        type: "init",
        module: ref.module,
        export: ref.export,
        options: ref.options,
      } satisfies ToWorker);
    }),
    timeoutMs,
    undefined,
    () => void worker.terminate(),
  ).catch(async (error: unknown) => {
    off();
    await worker.terminate();
    const reason = error instanceof TimedOut ? `timed out after ${timeoutMs} ms` : String(error);
    throw new PluginLoadError(
      `cannot load plugin module ${ref.module}: ${reason}`,
      { module: ref.module },
      { cause: error },
    );
  });
  off();
  // A worker that fails between runs must not crash the host; run() listens too.
  worker.on("error", () => {});
  return { worker, ready };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    compare(a.source ?? "", b.source ?? "") ||
    compare(a.file, b.file) ||
    a.line - b.line ||
    a.column - b.column ||
    compare(a.ruleId, b.ruleId)
  );
}
