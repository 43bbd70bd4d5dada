/** Site-relative URL under the configured base (`url("rfcs/12/")` → `/archive/rfcs/12/`). */
export function url(path: string): string {
  const base = import.meta.env.BASE_URL.endsWith("/")
    ? import.meta.env.BASE_URL
    : `${import.meta.env.BASE_URL}/`;
  return `${base}${path.replace(/^\/+/, "")}`;
}

/** Date of a git timestamp (seconds), as YYYY-MM-DD HH:MM UTC. */
export function when(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ");
}
