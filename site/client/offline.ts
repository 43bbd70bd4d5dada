/**
 * Registers the service worker (production builds only) and says in the
 * header once every page of this build is available offline.
 */
const state = document.getElementById("offline-state");
// The site's root as an absolute path: the meta holds it relative to this page.
const base = new URL(
  document.querySelector<HTMLMetaElement>('meta[name="gdo-base"]')?.content ?? "/",
  location.href,
).pathname;

if ("serviceWorker" in navigator && import.meta.env.PROD) {
  if (state) state.textContent = "Saving for offline reading…";
  navigator.serviceWorker
    .register(`${base}sw.js`, { scope: base })
    .then(() => navigator.serviceWorker.ready)
    .then(() => {
      document.documentElement.dataset.offline = "ready";
      if (state) state.textContent = "Available offline";
    })
    .catch((error: Error) => {
      if (state) state.textContent = "";
      console.warn(`offline reading unavailable: ${error.message}`);
    });
}
