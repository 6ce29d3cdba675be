import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AuthClient } from './auth'

const disc = {
  issuer: 'http://localhost:3000/oauth2',
  authorization_endpoint: 'http://localhost:3000/oauth2/authorize',
  token_endpoint: 'http://localhost:3000/oauth2/token',
  end_session_endpoint: 'http://localhost:3000/oauth2/logout',
  revocation_endpoint: 'http://localhost:3000/oauth2/revoke',
}

function fakeProvider() {
  const tokenBodies: URLSearchParams[] = []
  let n = 0
  const f = vi.fn(async (url: string, init?: RequestInit) => {
    if (url.endsWith('openid-configuration')) return Response.json(disc)
    if (url === disc.token_endpoint) {
      const b = new URLSearchParams(init?.body as URLSearchParams)
      tokenBodies.push(b)
      if (b.get('grant_type') === 'refresh_token' && b.get('refresh_token') === 'dead') return Response.json({ error: 'invalid_grant' }, { status: 400 })
      n++
      return Response.json({ access_token: `at${n}`, refresh_token: `rt${n}`, id_token: 'idt', expires_in: 300, token_type: 'Bearer' })
    }
    return new Response('', { status: 200 })
  })
  return { f, tokenBodies }
}

describe('AuthClient', () => {
  let assign: ReturnType<typeof vi.fn>
  beforeEach(() => {
    sessionStorage.clear()
    localStorage.clear()
    assign = vi.fn()
    vi.spyOn(window, 'location', 'get').mockReturnValue({ ...window.location, assign, origin: 'http://localhost:3000', pathname: '/sessions/1', search: '', hash: '' } as unknown as Location)
  })
  afterEach(() => vi.restoreAllMocks())

  it('redirects to authorize with PKCE S256 and completes the callback', async () => {
    const p = fakeProvider()
    const a = new AuthClient({}, p.f as unknown as typeof fetch)
    await a.login()
    const u = new URL(assign.mock.calls[0][0])
    expect(u.origin + u.pathname).toBe(disc.authorization_endpoint)
    expect(u.searchParams.get('client_id')).toBe('mgx-web')
    expect(u.searchParams.get('code_challenge_method')).toBe('S256')
    expect(u.searchParams.get('redirect_uri')).toBe('http://localhost:3000/auth/callback')
    const state = u.searchParams.get('state')!

    const back = await a.handleCallback(new URL(`http://localhost:3000/auth/callback?code=abc&state=${state}`))
    expect(back).toBe('/sessions/1')
    expect(p.tokenBodies[0].get('grant_type')).toBe('authorization_code')
    expect(p.tokenBodies[0].get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43,128}$/)
    expect(await a.getAccessToken()).toBe('at1')
    // Nothing about tokens is stored anywhere but memory.
    const stored = JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })
    expect(stored).not.toContain('at1')
    expect(stored).not.toContain('rt1')
    expect(sessionStorage.getItem('mgx.auth.pending')).toBeNull()
  })

  it('rejects a callback whose state does not match', async () => {
    const p = fakeProvider()
    const a = new AuthClient({}, p.f as unknown as typeof fetch)
    await a.login()
    await expect(a.handleCallback(new URL('http://localhost:3000/auth/callback?code=abc&state=forged'))).rejects.toThrow(/did not match/)
    expect(p.tokenBodies).toHaveLength(0)
  })

  it('refreshes with rotation and signs out when the refresh token is refused', async () => {
    const p = fakeProvider()
    const a = new AuthClient({}, p.f as unknown as typeof fetch)
    a._setTokensForTest({ accessToken: 'old', refreshToken: 'rt0', expiresAt: Date.now() + 1000 })
    expect(await a.getAccessToken()).toBe('at1') // about to expire: refreshed
    expect(p.tokenBodies[0].get('refresh_token')).toBe('rt0')
    await a.getAccessToken(true)
    expect(p.tokenBodies[1].get('refresh_token')).toBe('rt1') // rotated
    a._setTokensForTest({ accessToken: 'x', refreshToken: 'dead', expiresAt: Date.now() })
    const changes = vi.fn()
    a.subscribe(changes)
    await expect(a.refresh()).rejects.toThrow()
    expect(a.signedIn).toBe(false)
    expect(changes).toHaveBeenCalled()
  })

  it('signs out through end_session after revoking the refresh token', async () => {
    const p = fakeProvider()
    const a = new AuthClient({}, p.f as unknown as typeof fetch)
    a._setTokensForTest({ accessToken: 'a', refreshToken: 'r', idToken: 'idt', expiresAt: Date.now() + 60_000 })
    await a.logout()
    expect(p.f.mock.calls.some(([u]) => u === disc.revocation_endpoint)).toBe(true)
    const u = new URL(assign.mock.calls[0][0])
    expect(u.origin + u.pathname).toBe(disc.end_session_endpoint)
    expect(u.searchParams.get('id_token_hint')).toBe('idt')
    expect(u.searchParams.get('post_logout_redirect_uri')).toBe('http://localhost:3000/')
    expect(a.signedIn).toBe(false)
    expect(a.signedOutOnPurpose).toBe(true)
  })
})
