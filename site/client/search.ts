/**
 * The search page: loads Pagefind's browser module from the built site and
 * lists matching RFCs. Pagefind fetches its index in fragments (with
 * cache-busting query strings); the service worker serves them from the
 * precache, ignoring the query, so search works with the network cut.
 */
interface PagefindResult {
  data(): Promise<{ url: string; excerpt: string; meta: { title?: string } }>;
}
interface Pagefind {
  search(query: string): Promise<{ results: PagefindResult[] }>;
  options?(options: Record<string, unknown>): Promise<void>;
}

// The site's root as an absolute path: the meta holds it relative to this page.
const base = new URL(
  document.querySelector<HTMLMetaElement>('meta[name="gdo-base"]')?.content ?? "/",
  location.href,
).pathname;
const form = document.querySelector<HTMLFormElement>("[data-search]");
const input = form?.querySelector<HTMLInputElement>("input[name=q]");
const list = document.querySelector<HTMLOListElement>("[data-search-results]");
const status = document.querySelector<HTMLElement>("[data-search-status]");
let pagefind: Promise<Pagefind> | undefined;

// Pagefind's module exists only in the built site, so it is imported at run time, past the
// bundler (whose preload rewriting of a dynamic import() would break it).
const importAtRuntime = new Function("url", "return import(url)") as (
  url: string,
) => Promise<unknown>;

function load(): Promise<Pagefind> {
  pagefind ??= (importAtRuntime(`${base}pagefind/pagefind.js`) as Promise<Pagefind>).then(
    async (module) => {
      // Result URLs are relative to the site's base, which the index does not know.
      await module.options?.({ baseUrl: base });
      return module;
    },
  );
  return pagefind;
}

async function search(query: string) {
  if (!list || !status) return;
  list.replaceChildren();
  if (query.trim() === "") {
    status.textContent = "";
    return;
  }
  status.textContent = "Searching…";
  try {
    const found = await (await load()).search(query);
    const data = await Promise.all(found.results.slice(0, 30).map((r) => r.data()));
    for (const item of data) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = item.url;
      a.textContent = item.meta.title ?? item.url;
      const p = document.createElement("p");
      // Pagefind's excerpt is escaped text with <mark> around matches.
      p.innerHTML = item.excerpt;
      li.append(a, p);
      list.append(li);
    }
    status.textContent = `${found.results.length} result${found.results.length === 1 ? "" : "s"} for “${query}”`;
    document.documentElement.dataset.searched = query;
  } catch (error) {
    status.textContent = `Search is unavailable: ${(error as Error).message}`;
  }
}

form?.addEventListener("submit", (event) => {
  event.preventDefault();
  const query = input?.value ?? "";
  history.replaceState(null, "", `?q=${encodeURIComponent(query)}`);
  void search(query);
});

const initial = new URLSearchParams(location.search).get("q");
if (initial && input) {
  input.value = initial;
  void search(initial);
}
