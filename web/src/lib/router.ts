// A tiny history router: the SPA has three routes, not worth a dependency.
import { useSyncExternalStore } from 'react'

const listeners = new Set<() => void>()
const notify = () => listeners.forEach((l) => l())
window.addEventListener('popstate', notify)

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (opts.replace) window.history.replaceState(null, '', to)
  else window.history.pushState(null, '', to)
  notify()
  if (!opts.replace) window.scrollTo?.(0, 0)
}

export function usePath(): string {
  return useSyncExternalStore(
    (cb) => {
      listeners.add(cb)
      return () => listeners.delete(cb)
    },
    () => window.location.pathname,
  )
}

export type Route =
  | { name: 'home' }
  | { name: 'session'; id: string }
  | { name: 'callback' }
  | { name: 'notfound' }

export function matchRoute(path: string): Route {
  if (path === '/' || path === '') return { name: 'home' }
  if (path === '/auth/callback') return { name: 'callback' }
  const m = /^\/sessions\/([^/]+)\/?$/.exec(path)
  if (m) return { name: 'session', id: decodeURIComponent(m[1]) }
  return { name: 'notfound' }
}

/** Link clicks: plain left click navigates in-app; modified clicks keep browser behaviour. */
export function onLinkClick(e: React.MouseEvent<HTMLAnchorElement>, to: string) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  e.preventDefault()
  navigate(to)
}
