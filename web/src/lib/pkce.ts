// PKCE (RFC 7636) and the random values of an authorization request.

const b64url = (bytes: Uint8Array): string => {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export const base64url = b64url

/** A URL-safe random string from `bytes` random bytes (32 bytes → 43 characters). */
export function randomString(bytes = 32): string {
  const buf = new Uint8Array(bytes)
  crypto.getRandomValues(buf)
  return b64url(buf)
}

/** A code verifier: 43–128 characters from the unreserved set (RFC 7636 §4.1). */
export function createVerifier(): string {
  return randomString(48) // 64 characters
}

/** BASE64URL(SHA256(ASCII(verifier))) — the S256 code challenge. */
export async function challengeS256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))
  return b64url(new Uint8Array(digest))
}

export interface AuthorizeParams {
  clientId: string
  redirectUri: string
  scope: string
  state: string
  nonce: string
  challenge: string
}

export function authorizeUrl(endpoint: string, p: AuthorizeParams): string {
  const u = new URL(endpoint, window.location.origin)
  u.searchParams.set('response_type', 'code')
  u.searchParams.set('client_id', p.clientId)
  u.searchParams.set('redirect_uri', p.redirectUri)
  u.searchParams.set('scope', p.scope)
  u.searchParams.set('state', p.state)
  u.searchParams.set('nonce', p.nonce)
  u.searchParams.set('code_challenge', p.challenge)
  u.searchParams.set('code_challenge_method', 'S256')
  return u.toString()
}
