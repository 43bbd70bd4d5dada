/**
 * The plugin contract. A gdo plugin adds one domain to an organisation's ledger
 * (the RFC archive, later inventory, door access): it owns some ledger paths and
 * validates every change to them. Later hooks (site sections, container
 * workloads, CLI commands) are added to this same object.
 *
 * A plugin is a factory returning a frozen object, in the style of Astro
 * integrations:
 *
 * ```ts
 * export default function rfcPlugin(options: RfcOptions = {}) {
 *   return definePlugin({ name: "rfc", owns: ["rfcs/**"], validate: (input) => … });
 * }
 * ```
 *
 * The ledger calls `validate` for every proposed change (a block), and again
 * whenever it verifies history: so a validator must be a pure function of its
 * input. It must be deterministic: no clock, no randomness, no network, no
 * files beyond the two trees it is given. The host enforces a time limit and
 * reads only through the narrow `TreeView` capability.
 *
 * @module
 */
import { checkGlob } from "./glob.ts";

/** Read access to one version of the ledger's file tree. Paths use `/`, no leading slash. */
export interface TreeView {
  /** The file's bytes, or undefined when no file exists at `path`. */
  read(path: string): Promise<Uint8Array | undefined>;
  /**
   * Every file path under the folder `prefix` ("rfcs" or "rfcs/"), recursively,
   * as full paths ("rfcs/0005-x.md"). `""` lists the whole tree.
   */
  list(prefix: string): Promise<string[]>;
}

export type ChangeKind = "add" | "modify" | "delete";

/** One changed path between the `before` and `after` trees. */
export interface Change {
  path: string;
  kind: ChangeKind;
}

export type Severity = "error" | "warning";

/**
 * A problem in content, reported (never thrown) so that all problems are shown
 * at once. Like a vfile message: where, which rule, why.
 */
export interface Diagnostic {
  /** Ledger path (validators) or the file as given (CLI lint). */
  file: string;
  /** 1-based line; 1 when the problem concerns the whole file. */
  line: number;
  /** 1-based column. */
  column: number;
  /** Stable rule id (`front-matter-missing`, `unknown-status`…): scripts and docs key on it. */
  ruleId: string;
  /** The front matter field concerned, if any. */
  field?: string;
  /** Human-readable explanation. */
  reason: string;
  /** Any `error` refuses the change; `warning`s are shown only. */
  severity: Severity;
  /** The plugin (or `host`) that reported it; set by the host. */
  source?: string;
}

/**
 * Something a change needs beyond the path policy, e.g. a status change:
 * `{ kind: "status-change", path, rfc, from, to }`. The ledger's policy maps
 * requirement kinds to approvals (for instance 2 of `editor`). Each plugin
 * documents its kinds; extra fields are plain JSON values.
 */
export interface Requirement {
  readonly kind: string;
  readonly path: string;
  readonly [field: string]: unknown;
}

export interface ValidationInput {
  /** The tree before the change (empty for the first block). */
  before: TreeView;
  /** The tree after the change. */
  after: TreeView;
  /** Only the changes to paths this plugin owns, sorted by path. */
  changes: readonly Change[];
  /**
   * True for a ledger's genesis block: its archive is taken as found (like an
   * import), so documents may start anywhere in their lifecycle.
   */
  genesis?: boolean;
}

export interface ValidationResult {
  diagnostics: Diagnostic[];
  requirements: Requirement[];
}

/** One page of a plugin's site section: an Astro route pattern and the page module. */
export interface SiteRoute {
  /** Astro route pattern, under the section's path ("/rfcs/[rfc]"). */
  pattern: string;
  /** The page (`.astro`, or `.ts` for an endpoint), as a file URL or an absolute path. */
  entrypoint: string | URL;
}

/**
 * A plugin's section of the archive site. The site's integration injects each
 * route; pages read the ledger through the site's content collections.
 */
export interface SiteSection {
  /** Label in the site's navigation ("RFCs"). */
  title: string;
  /** The section's first path segment ("rfcs"); the navigation links to `/<path>/`. */
  path: string;
  routes: readonly SiteRoute[];
}

/** What a plugin factory passes to {@link definePlugin}. */
export interface PluginSpec {
  /** Lower-case kebab name, unique among loaded plugins ("rfc", "inventory"). */
  name: string;
  /**
   * Ledger path globs this plugin owns ("rfcs/**"). Every change to a matching
   * path is routed to this plugin and to no other: owned globs of two plugins
   * must not overlap. Syntax: `/`-separated segments; `*` matches within one
   * segment, `**` (a whole segment) matches any number of segments.
   */
  owns: readonly string[];
  /** Globs outside `owns` the validator may also read (another domain's data). */
  reads?: readonly string[];
  /**
   * Validates the changes to owned paths. Must be deterministic: the same input
   * gives the same result, with no clock, no randomness and no network.
   * Problems in content are diagnostics; a throw is reported as `validator-threw`.
   */
  validate?: (input: ValidationInput) => Promise<ValidationResult> | ValidationResult;
  /** The plugin's pages on the archive site, if it has any. */
  site?: SiteSection;
}

/** A loaded plugin: the frozen result of {@link definePlugin}. */
export interface Plugin {
  readonly name: string;
  readonly owns: readonly string[];
  readonly reads: readonly string[];
  readonly validate?: (input: ValidationInput) => Promise<ValidationResult> | ValidationResult;
  readonly site?: SiteSection;
}

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/**
 * Checks a plugin's declaration and freezes it (configuration is fixed before
 * anything runs). Throws a `TypeError` for a malformed declaration: that is a
 * programming error in the plugin, not a content problem.
 */
export function definePlugin(spec: PluginSpec): Plugin {
  if (!NAME.test(spec.name)) throw new TypeError(`plugin name '${spec.name}' is not kebab-case`);
  if (spec.owns.length === 0) throw new TypeError(`plugin '${spec.name}' owns no paths`);
  for (const glob of [...spec.owns, ...(spec.reads ?? [])]) {
    const problem = checkGlob(glob);
    if (problem) throw new TypeError(`plugin '${spec.name}': glob '${glob}' ${problem}`);
  }
  const plugin: Plugin = {
    name: spec.name,
    owns: Object.freeze([...spec.owns]),
    reads: Object.freeze([...(spec.reads ?? [])]),
    ...(spec.validate ? { validate: spec.validate } : {}),
    ...(spec.site
      ? { site: Object.freeze({ ...spec.site, routes: Object.freeze([...spec.site.routes]) }) }
      : {}),
  };
  return Object.freeze(plugin);
}

/** An empty result, for validators with nothing to say. */
export function emptyResult(): ValidationResult {
  return { diagnostics: [], requirements: [] };
}

/** True when any diagnostic is an error. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}
