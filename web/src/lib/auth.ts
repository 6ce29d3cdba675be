// Sign-in with the MGX provider: authorization code + PKCE (S256) for the public client
// `mgx-web`. Tokens live in memory only — never in localStorage, cookies or URLs. After a
// reload the app simply runs the authorize redirect again; the provider's SSO cookie makes
// it instant. Only the PKCE verifier, state and nonce of a pending sign-in sit in
// sessionStorage between the redirect and the callback, and are deleted there.
import { authorizeUrl, challengeS256, createVerifier, randomString } from './pkce'

export interface Discovery {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  userinfo_endpoint?: string
  end_session_endpoint?: string
  revocation_endpoint?: string
}

export interface TokenSet {
  accessToken: string
  refreshToken?: string
  idToken?: string
  /** epoch ms */
  expiresAt: number
}

export interface AuthConfig {
  clientId: string
  discoveryUrl: string
  redirectPath: string
  scope: string
}

export const defaultAuthConfig: AuthConfig = {
  clientId: 'mgx-web',
  discoveryUrl: '/oauth2/.well-known/openid-configuration',
  redirectPath: '/auth/callback',
  scope: 'openid profile email offline_access',
}

const PENDING_KEY = 'mgx.auth.pending'
const SIGNED_OUT_KEY = 'mgx.auth.signedOut'
const SCOPE_KEY = 'mgx.auth.scope'

interface Pending {
  verifier: string
  state: string
  nonce: string
  returnTo: string
  scope: string
}

export class AuthError extends Error {
  code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

type Listener = () => void

export class AuthClient {
  private cfg: AuthConfig
  private disc?: Promise<Discovery>
  private tokens: TokenSet | null = null
  private refreshing: Promise<TokenSet | null> | null = null
  private timer: ReturnType<typeof setTimeout> | undefined
  private listeners = new Set<Listener>()
  private fetchImpl: typeof fetch

  constructor(cfg: Partial<AuthConfig> = {}, fetchImpl?: typeof fetch) {
    this.cfg = { ...defaultAuthConfig, ...cfg }
    this.fetchImpl = fetchImpl ?? ((...a) => fetch(...a))
  }

  get redirectUri(): string {
    return `${window.location.origin}${this.cfg.redirectPath}`
  }

  isCallback(loc: Location | URL = window.location): boolean {
    return loc.pathname === this.cfg.redirectPath
  }

  get signedIn(): boolean {
    return this.tokens !== null
  }

  /** The user signed out on purpose: show the signed-out page instead of redirecting. */
  get signedOutOnPurpose(): boolean {
    return sessionStorage.getItem(SIGNED_OUT_KEY) === '1'
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private emit() {
    for (const fn of this.listeners) fn()
  }

  discovery(): Promise<Discovery> {
    if (!this.disc) {
      this.disc = this.fetchImpl(this.cfg.discoveryUrl, { headers: { Accept: 'application/json' } }).then(async (r) => {
        if (!r.ok) throw new AuthError('discovery_failed', `The sign-in service did not answer (HTTP ${r.status}).`)
        return (await r.json()) as Discovery
      })
      this.disc.catch(() => {
        this.disc = undefined
      })
    }
    return this.disc
  }

  private loggingIn: Promise<void> | null = null
  private callback: Promise<string> | null = null

  /** Starts the authorize redirect; `returnTo` is where the person lands afterwards. */
  login(returnTo = window.location.pathname + window.location.search + window.location.hash): Promise<void> {
    // One redirect at a time (React StrictMode runs effects twice in development).
    if (!this.loggingIn) {
      this.loggingIn = this.startLogin(returnTo)
      this.loggingIn.catch(() => {}).finally(() => setTimeout(() => (this.loggingIn = null), 3000))
    }
    return this.loggingIn
  }

  private async startLogin(returnTo: string): Promise<void> {
    const d = await this.discovery()
    const verifier = createVerifier()
    const scope = sessionStorage.getItem(SCOPE_KEY) ?? this.cfg.scope
    const pending: Pending = {
      verifier,
      state: randomString(24),
      nonce: randomString(24),
      returnTo: returnTo.startsWith('/') && !returnTo.startsWith('//') ? returnTo : '/',
      scope,
    }
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending))
    sessionStorage.removeItem(SIGNED_OUT_KEY)
    const url = authorizeUrl(d.authorization_endpoint, {
      clientId: this.cfg.clientId,
      redirectUri: this.redirectUri,
      scope,
      state: pending.state,
      nonce: pending.nonce,
      challenge: await challengeS256(verifier),
    })
    window.location.assign(url)
  }

  /**
   * Completes the sign-in on `/auth/callback`: checks state, trades the code for tokens and
   * returns the path to go back to. The caller removes the code from the address bar.
   */
  handleCallback(url: URL = new URL(window.location.href)): Promise<string> {
    if (!this.callback) this.callback = this.completeCallback(url)
    return this.callback
  }

  private async completeCallback(url: URL): Promise<string> {
    const raw = sessionStorage.getItem(PENDING_KEY)
    sessionStorage.removeItem(PENDING_KEY)
    const err = url.searchParams.get('error')
    if (err) {
      // Some providers do not grant offline_access to every client: try once without it.
      if (err === 'invalid_scope' && !sessionStorage.getItem(SCOPE_KEY)) {
        sessionStorage.setItem(SCOPE_KEY, this.cfg.scope.replace(/\s*offline_access/, ''))
        const p = raw ? (JSON.parse(raw) as Pending) : null
        await this.startLogin(p?.returnTo ?? '/')
        return new Promise(() => {}) // navigating away
      }
      throw new AuthError(err, url.searchParams.get('error_description') ?? `Sign-in failed: ${err}`)
    }
    if (!raw) throw new AuthError('no_pending', 'This sign-in link has expired. Please sign in again.')
    const p = JSON.parse(raw) as Pending
    const code = url.searchParams.get('code')
    const state = url.searchParams.get('state')
    if (!code) throw new AuthError('no_code', 'The sign-in service did not return a code.')
    if (state !== p.state) throw new AuthError('state_mismatch', 'The sign-in response did not match this browser tab. Please sign in again.')
    const d = await this.discovery()
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri,
      client_id: this.cfg.clientId,
      code_verifier: p.verifier,
    })
    this.setTokens(await this.tokenRequest(d.token_endpoint, body))
    return p.returnTo
  }

  private async tokenRequest(endpoint: string, body: URLSearchParams): Promise<TokenSet> {
    const r = await this.fetchImpl(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body,
      credentials: 'same-origin',
    })
    const j = (await r.json().catch(() => ({}))) as Record<string, unknown>
    if (!r.ok || typeof j.access_token !== 'string') {
      throw new AuthError(
        typeof j.error === 'string' ? j.error : 'token_failed',
        typeof j.error_description === 'string' ? j.error_description : `The sign-in service refused the request (HTTP ${r.status}).`,
      )
    }
    const expiresIn = typeof j.expires_in === 'number' ? j.expires_in : 300
    return {
      accessToken: j.access_token,
      refreshToken: typeof j.refresh_token === 'string' ? j.refresh_token : undefined,
      idToken: typeof j.id_token === 'string' ? j.id_token : undefined,
      expiresAt: Date.now() + expiresIn * 1000,
    }
  }

  private setTokens(t: TokenSet | null) {
    const prev = this.tokens
    this.tokens = t
    clearTimeout(this.timer)
    if (t) {
      // Refresh a little before expiry (at 80% of the lifetime, at least 5 s ahead).
      const life = t.expiresAt - Date.now()
      const wait = Math.max(1000, Math.min(life * 0.8, life - 5000))
      if (t.refreshToken) this.timer = setTimeout(() => void this.refresh().catch(() => {}), wait)
    }
    if (!!prev !== !!t) this.emit()
  }

  /** A valid access token, refreshed when it is about to expire; null when signed out. */
  async getAccessToken(force = false): Promise<string | null> {
    const t = this.tokens
    if (!t) return null
    if (!force && t.expiresAt - Date.now() > 10_000) return t.accessToken
    const r = await this.refresh()
    return r?.accessToken ?? null
  }

  /** refresh_token grant with rotation; one request at a time. Signs out when it fails. */
  refresh(): Promise<TokenSet | null> {
    if (this.refreshing) return this.refreshing
    const rt = this.tokens?.refreshToken
    if (!rt) {
      // No refresh token: the provider's SSO session gives a new code instantly.
      this.setTokens(null)
      return Promise.resolve(null)
    }
    this.refreshing = (async () => {
      try {
        const d = await this.discovery()
        const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt, client_id: this.cfg.clientId })
        const t = await this.tokenRequest(d.token_endpoint, body)
        if (!t.refreshToken) t.refreshToken = rt
        if (!t.idToken) t.idToken = this.tokens?.idToken
        this.setTokens(t)
        return t
      } catch (e) {
        if (e instanceof AuthError) this.setTokens(null)
        throw e
      } finally {
        this.refreshing = null
      }
    })()
    return this.refreshing
  }

  /** Revokes the refresh token, forgets the tokens and ends the provider session. */
  async logout(): Promise<void> {
    const t = this.tokens
    sessionStorage.setItem(SIGNED_OUT_KEY, '1')
    let d: Discovery | undefined
    try {
      d = await this.discovery()
    } catch {
      /* fall through to the plain redirect */
    }
    if (d?.revocation_endpoint && t?.refreshToken) {
      await this.fetchImpl(d.revocation_endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: t.refreshToken, token_type_hint: 'refresh_token', client_id: this.cfg.clientId }),
      }).catch(() => {})
    }
    this.setTokens(null)
    const end = d?.end_session_endpoint ?? (d ? `${d.issuer.replace(/\/$/, '')}/logout` : '/oauth2/logout')
    const u = new URL(end, window.location.origin)
    if (t?.idToken) u.searchParams.set('id_token_hint', t.idToken)
    u.searchParams.set('client_id', this.cfg.clientId)
    u.searchParams.set('post_logout_redirect_uri', `${window.location.origin}/`)
    window.location.assign(u.toString())
  }

  /** For tests. */
  _setTokensForTest(t: TokenSet | null) {
    this.setTokens(t)
  }
}
