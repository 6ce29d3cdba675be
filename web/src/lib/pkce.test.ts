import { describe, expect, it } from 'vitest'
import { authorizeUrl, base64url, challengeS256, createVerifier, randomString } from './pkce'

describe('PKCE', () => {
  it('computes the RFC 7636 appendix B challenge', async () => {
    expect(await challengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')
  })
  it('makes verifiers of valid length and alphabet, all different', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 50; i++) {
      const v = createVerifier()
      expect(v).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/)
      seen.add(v)
    }
    expect(seen.size).toBe(50)
  })
  it('base64url has no padding or +/', () => {
    expect(base64url(new Uint8Array([251, 255, 191]))).toBe('-_-_')
    expect(randomString(1)).toMatch(/^[A-Za-z0-9_-]{2}$/)
  })
  it('builds the authorize URL with S256', () => {
    const u = new URL(
      authorizeUrl('/oauth2/authorize', { clientId: 'mgx-web', redirectUri: 'http://x/auth/callback', scope: 'openid', state: 's', nonce: 'n', challenge: 'c' }),
    )
    expect(u.pathname).toBe('/oauth2/authorize')
    expect(Object.fromEntries(u.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'mgx-web',
      redirect_uri: 'http://x/auth/callback',
      scope: 'openid',
      state: 's',
      nonce: 'n',
      code_challenge: 'c',
      code_challenge_method: 'S256',
    })
  })
})
