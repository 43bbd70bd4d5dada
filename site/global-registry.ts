/**
 * A map shared by every copy of a module in this process. Astro evaluates the
 * content loader inside its Vite runner, which gives modules fresh instances;
 * state the build's host side must see (options, memoised snapshots) is kept
 * on `globalThis` under a registered symbol instead.
 */
export function globalRegistry<K, V>(name: string): Map<K, V> {
  const key = Symbol.for(`gdo.site.${name}`);
  const holder = globalThis as Record<symbol, unknown>;
  let map = holder[key] as Map<K, V> | undefined;
  if (!map) {
    map = new Map<K, V>();
    holder[key] = map;
  }
  return map;
}
