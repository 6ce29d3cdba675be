/** The app's display name, set when MGX created the app. */
export const APP_NAME = "__MGX_APP_NAME__";

/**
 * Where the app is served, with a trailing slash ("/apps/<slug>/", "/" at the root); Vite
 * sets it from BASE_PATH at build time. Links and API calls must go through it.
 */
export const BASE_URL: string = import.meta.env.BASE_URL;

/** url("/items") → "/apps/<slug>/items"; url("/api/items") → "/apps/<slug>/api/items". */
export function url(path: string): string {
  return BASE_URL.replace(/\/$/, "") + path;
}
