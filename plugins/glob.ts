/**
 * Ledger path globs, small on purpose so that overlap between two plugins'
 * globs is decidable exactly (node's `path.matchesGlob` can match, but cannot
 * tell whether two globs share a path).
 *
 *   rfcs/**            every path under rfcs/
 *   rfcs/*.md          .md files directly in rfcs/
 *   inventory/item-*   literal text with `*` wildcards inside one segment
 *
 * Segments are separated by `/`. `*` matches any run of characters inside a
 * segment; a segment that is exactly `**` matches zero or more segments. No
 * `?`, classes or braces: they are refused, not silently treated as literals.
 */

/** Why `glob` is not valid, or undefined when it is. */
export function checkGlob(glob: string): string | undefined {
  if (glob.length === 0) return "is empty";
  if (glob.startsWith("/")) return "must be relative (no leading '/')";
  if (/[?[\]{}\\]/.test(glob)) return "uses unsupported syntax (only '*' and '**' are wildcards)";
  for (const segment of glob.split("/")) {
    if (segment === "") return "has an empty segment";
    if (segment === "." || segment === "..") return "has a '.' or '..' segment";
    if (segment.includes("**") && segment !== "**") return "uses '**' inside a segment";
  }
  return undefined;
}

/** True when `path` matches `glob`. */
export function matchGlob(glob: string, path: string): boolean {
  return segmentsOverlap(glob.split("/"), path.split("/"), (p, s) => segmentMatches(p, s), false);
}

/** True when some path matches both globs. */
export function globsOverlap(a: string, b: string): boolean {
  return segmentsOverlap(a.split("/"), b.split("/"), segmentPatternsOverlap, true);
}

/**
 * Walks two segment lists where `**` in `a` (and, when `bothWild`, in `b`)
 * stands for any number of segments; `meet` decides whether two single
 * segments can be equal. Memoised: O(|a|·|b|) calls to `meet`.
 */
function segmentsOverlap(
  a: string[],
  b: string[],
  meet: (x: string, y: string) => boolean,
  bothWild: boolean,
): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    let result = false;
    if (i === a.length && j === b.length) result = true;
    else if (i < a.length && a[i] === "**") result = go(i + 1, j) || (j < b.length && go(i, j + 1));
    else if (bothWild && j < b.length && b[j] === "**")
      result = go(i, j + 1) || (i < a.length && go(i + 1, j));
    else if (i < a.length && j < b.length && meet(a[i]!, b[j]!)) result = go(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}

function segmentMatches(pattern: string, segment: string): boolean {
  return segmentPatternsOverlap(pattern, segment.replaceAll("*", "\0"));
}

/** Can one string match both segment patterns (`*` = any run of characters)? */
function segmentPatternsOverlap(p: string, q: string): boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (q.length + 1) + j;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    let result = false;
    if (i === p.length && j === q.length) result = true;
    else if (i < p.length && p[i] === "*") result = go(i + 1, j) || (j < q.length && go(i, j + 1));
    else if (j < q.length && q[j] === "*") result = go(i, j + 1) || (i < p.length && go(i + 1, j));
    else if (i < p.length && j < q.length && p[i] === q[j]) result = go(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return go(0, 0);
}
