// Client-side navigation that knows the base path. Pages are listed in App.tsx; links use
// <Link> from router.tsx.
import { useSyncExternalStore } from "react";
import { BASE_URL, url } from "./app";

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener("popstate", listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("popstate", listener);
  };
}

/** routePath turns a browser path into the app's route: "/apps/x/items" → "/items". */
export function routePath(pathname: string, base = BASE_URL): string {
  const prefix = base.replace(/\/$/, "");
  const rest = pathname.startsWith(prefix) ? pathname.slice(prefix.length) : pathname;
  return rest === "" ? "/" : rest;
}

/** usePath is the current route ("/", "/items"), updated on navigation. */
export function usePath(): string {
  return useSyncExternalStore(
    subscribe,
    () => routePath(window.location.pathname),
    () => "/",
  );
}

export function navigate(to: string): void {
  window.history.pushState(null, "", url(to));
  listeners.forEach((l) => l());
}
