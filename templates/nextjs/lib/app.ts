/** The app's display name, set when MGX created the app. */
export const APP_NAME = "__MGX_APP_NAME__";

/** The app's URL-safe name; also the default OpenTelemetry service name. */
export const APP_SLUG = "__MGX_APP_SLUG__";

/**
 * Where the app is served ("/apps/<slug>", "/dev/<slug>", "" at the root). Fixed at build
 * time from BASE_PATH (next.config.ts). <Link> and redirect() add it by themselves; fetch()
 * and plain <a href> to API routes need it: use apiUrl().
 */
export const BASE_PATH = process.env.NEXT_PUBLIC_BASE_PATH ?? "";

/** apiUrl("/api/items") → "/apps/<slug>/api/items". */
export function apiUrl(path: string): string {
  return `${BASE_PATH}${path}`;
}
