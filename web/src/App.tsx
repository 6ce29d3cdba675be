import { useEffect, useMemo, useRef, useState } from 'react'
import { Api } from './lib/api'
import { AuthClient, AuthError } from './lib/auth'
import { ServicesContext, type Services } from './lib/context'
import { matchRoute, navigate, onLinkClick, usePath } from './lib/router'
import { useTheme, type ThemePref } from './lib/theme'
import type { Me } from './lib/types'
import { Icon, Logo, Spinner } from './components/Icon'
import { Empty, ErrorState } from './components/States'
import { ErrorBoundary } from './components/ErrorBoundary'
import { Home } from './pages/Home'
import { SessionPage } from './pages/Session'

type Boot = { kind: 'booting' } | { kind: 'redirecting' } | { kind: 'ready' } | { kind: 'signedout' } | { kind: 'error'; message: string }

function ThemeSwitch({ pref, set }: { pref: ThemePref; set: (p: ThemePref) => void }) {
  const next: Record<ThemePref, ThemePref> = { system: 'light', light: 'dark', dark: 'system' }
  const icon = pref === 'light' ? 'sun' : pref === 'dark' ? 'moon' : 'monitor'
  return (
    <button type="button" className="icon-btn" onClick={() => set(next[pref])} aria-label={`Theme: ${pref}. Switch to ${next[pref]}`} title={`Theme: ${pref}`} data-testid="theme">
      <Icon name={icon} size={15} />
    </button>
  )
}

function TopBar({ me, onSignOut, theme }: { me: Me | null; onSignOut?: () => void; theme: [ThemePref, (p: ThemePref) => void] }) {
  const [open, setOpen] = useState(false)
  const menuRef = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!open) return
    const close = (e: Event) => {
      if (e instanceof KeyboardEvent ? e.key === 'Escape' : !menuRef.current?.contains(e.target as Node)) setOpen(false)
    }
    document.addEventListener('pointerdown', close)
    document.addEventListener('keydown', close)
    return () => {
      document.removeEventListener('pointerdown', close)
      document.removeEventListener('keydown', close)
    }
  }, [open])
  const label = me?.name ?? me?.email ?? 'Account'
  return (
    <header className="topbar">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <a href="/" className="brand" onClick={(e) => onLinkClick(e, '/')} aria-label="MGX home">
        <Logo size={24} />
        <span>MGX</span>
      </a>
      <span className="grow" />
      <ThemeSwitch pref={theme[0]} set={theme[1]} />
      {onSignOut && (
        <div className="menu" ref={menuRef}>
          <button type="button" className="account" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen((o) => !o)} data-testid="account">
            <span className="account-avatar" aria-hidden="true">
              {label.slice(0, 1).toUpperCase()}
            </span>
            <span className="account-name">{label}</span>
            <Icon name="chevronDown" size={12} />
          </button>
          {open && (
            <div className="menu-pop" role="menu">
              {me?.email && <div className="menu-note">{me.email}{me.admin ? ' · admin' : ''}</div>}
              <button type="button" role="menuitem" className="menu-item" onClick={onSignOut} data-testid="sign-out" autoFocus>
                <Icon name="logout" size={14} /> Sign out
              </button>
            </div>
          )}
        </div>
      )}
    </header>
  )
}

export function App({ auth }: { auth: AuthClient }) {
  const api = useMemo(() => new Api(auth), [auth])
  const [boot, setBoot] = useState<Boot>({ kind: 'booting' })
  const [me, setMe] = useState<Me | null>(null)
  const [pref, setPref] = useTheme()
  const path = usePath()
  const route = matchRoute(path)

  useEffect(() => {
    let cancelled = false
    const start = async () => {
      try {
        if (auth.isCallback()) {
          const back = await auth.handleCallback()
          navigate(back, { replace: true }) // drops ?code=&state= from the address bar
        } else if (!auth.signedIn) {
          if (auth.signedOutOnPurpose) {
            setBoot({ kind: 'signedout' })
            return
          }
          setBoot({ kind: 'redirecting' })
          await auth.login()
          return
        }
        const m = await api.me().catch(() => null)
        if (cancelled) return
        setMe(m)
        setBoot({ kind: 'ready' })
      } catch (e) {
        if (cancelled) return
        setBoot({ kind: 'error', message: e instanceof AuthError || e instanceof Error ? e.message : String(e) })
      }
    }
    void start()
    api.onUnauthorized = () => void auth.login()
    const unsub = auth.subscribe(() => {
      // Lost the session (refresh failed): go through the provider again; SSO makes it quick.
      if (!auth.signedIn && !auth.signedOutOnPurpose) void auth.login()
    })
    return () => {
      cancelled = true
      unsub()
    }
  }, [auth, api])

  const services: Services = useMemo(() => ({ auth, api, me }), [auth, api, me])
  const theme: [ThemePref, (p: ThemePref) => void] = [pref, setPref]

  if (boot.kind === 'booting' || boot.kind === 'redirecting') {
    return (
      <div className="splash" role="status" aria-live="polite">
        <Logo size={40} />
        <div className="splash-text">
          <Spinner size={14} /> {boot.kind === 'redirecting' ? 'Signing you in…' : 'Loading…'}
        </div>
      </div>
    )
  }
  if (boot.kind === 'signedout' || boot.kind === 'error') {
    return (
      <>
        <TopBar me={null} theme={theme} />
        <main className="page-center" id="main">
          {boot.kind === 'signedout' ? (
            <div className="signedout">
              <Logo size={48} />
              <h1>You are signed out</h1>
              <p>Sign in to get back to your apps.</p>
              <button type="button" className="btn btn-primary btn-lg" onClick={() => void auth.login('/')} data-testid="sign-in">
                Sign in
              </button>
            </div>
          ) : (
            <ErrorState title="Sign-in did not complete" message={boot.message} onRetry={() => void auth.login('/')} />
          )}
        </main>
      </>
    )
  }

  return (
    <ServicesContext.Provider value={services}>
      <div className="app-shell">
        <TopBar me={me} onSignOut={() => void auth.logout()} theme={theme} />
        <ErrorBoundary what="This page" resetKey={path}>
          {route.name === 'home' && <Home />}
          {route.name === 'session' && <SessionPage key={route.id} id={route.id} />}
        </ErrorBoundary>
        {(route.name === 'notfound' || route.name === 'callback') && (
          <main className="page-center" id="main">
            <Empty
              icon="alert"
              title="Page not found"
              action={
                <a className="btn" href="/" onClick={(e) => onLinkClick(e, '/')}>
                  Back to your apps
                </a>
              }
            >
              There is nothing at {path}.
            </Empty>
          </main>
        )}
      </div>
    </ServicesContext.Provider>
  )
}
