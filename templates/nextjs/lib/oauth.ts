import { createHash, randomBytes } from "node:crypto";
import type { Config } from "@/lib/config";

/** The parts of the provider's OIDC discovery document the app uses. */
export type Discovery = {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
  revocation_endpoint?: string;
  end_session_endpoint?: string;
  token_endpoint_auth_methods_supported?: string[];
};

export type TokenSet = {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
  id_token?: string;
};

export type UserInfo = { sub: string; email?: string; name?: string; preferred_username?: string };

/** OAuthError is a failed exchange with the provider; code is the OAuth error code. */
export class OAuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 5000;
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
let cache: { issuer: string; at: number; doc: Discovery } | undefined;

/** base64url of random bytes: state values, PKCE verifiers and session ids. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** pkceChallenge is the S256 code challenge of a verifier (RFC 7636). */
export function pkceChallenge(verifier: string): string {
  return createHash("sha256").update(verifier).digest("base64url");
}

/**
 * discover fetches $MGX_OAUTH_ISSUER/.well-known/openid-configuration (cached for an hour).
 * The browser goes to authorization_endpoint as published; the server's own calls (token,
 * userinfo, revocation) are sent to the origin of MGX_OAUTH_ISSUER, which may be an
 * internal address (host.docker.internal) when the published one is the public URL.
 */
export async function discover(cfg: Config): Promise<Discovery> {
  const issuer = cfg.oauth.issuer;
  if (cache && cache.issuer === issuer && Date.now() - cache.at < DISCOVERY_TTL_MS) return cache.doc;
  const res = await fetch(`${issuer}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(TIMEOUT_MS),
    headers: { accept: "application/json" },
  });
  if (!res.ok) throw new OAuthError("discovery_failed", `discovery answered ${res.status}`);
  const doc = (await res.json()) as Discovery;
  for (const key of ["issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint"] as const) {
    if (typeof doc[key] !== "string" || doc[key] === "") {
      throw new OAuthError("discovery_failed", `discovery document has no ${key}`);
    }
  }
  const backChannel = (url?: string) =>
    url && url.startsWith(doc.issuer) ? issuer + url.slice(doc.issuer.length) : url;
  const resolved: Discovery = {
    ...doc,
    token_endpoint: backChannel(doc.token_endpoint)!,
    userinfo_endpoint: backChannel(doc.userinfo_endpoint)!,
    revocation_endpoint: backChannel(doc.revocation_endpoint),
  };
  cache = { issuer, at: Date.now(), doc: resolved };
  return resolved;
}

/** resetDiscovery forgets the cached discovery document (tests). */
export function resetDiscovery(): void {
  cache = undefined;
}

export function redirectUri(cfg: Config): string {
  return `${cfg.publicUrl}/api/auth/callback`;
}

/** authorizeUrl is where login sends the browser: authorization code flow with PKCE S256. */
export function authorizeUrl(d: Discovery, cfg: Config, state: string, verifier: string): string {
  const url = new URL(d.authorization_endpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", cfg.oauth.clientId);
  url.searchParams.set("redirect_uri", redirectUri(cfg));
  url.searchParams.set("scope", cfg.oauth.scopes);
  url.searchParams.set("state", state);
  url.searchParams.set("code_challenge", pkceChallenge(verifier));
  url.searchParams.set("code_challenge_method", "S256");
  return url.toString();
}

/** tokenRequest posts to the token endpoint as a confidential client. */
async function tokenRequest(d: Discovery, cfg: Config, params: Record<string, string>): Promise<TokenSet> {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  const methods = d.token_endpoint_auth_methods_supported;
  if (methods && !methods.includes("client_secret_basic") && methods.includes("client_secret_post")) {
    body.set("client_id", cfg.oauth.clientId);
    body.set("client_secret", cfg.oauth.clientSecret);
  } else {
    const id = encodeURIComponent(cfg.oauth.clientId);
    const secret = encodeURIComponent(cfg.oauth.clientSecret);
    headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
  }
  const res = await fetch(d.token_endpoint, {
    method: "POST",
    headers,
    body,
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const json = (await res.json().catch(() => ({}))) as Partial<TokenSet> & { error?: string };
  if (!res.ok || typeof json.access_token !== "string") {
    throw new OAuthError(json.error ?? "token_failed", `token endpoint answered ${res.status}`);
  }
  return json as TokenSet;
}

export function exchangeCode(d: Discovery, cfg: Config, code: string, verifier: string): Promise<TokenSet> {
  return tokenRequest(d, cfg, {
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri(cfg),
    code_verifier: verifier,
  });
}

export function refreshTokens(d: Discovery, cfg: Config, refreshToken: string): Promise<TokenSet> {
  return tokenRequest(d, cfg, { grant_type: "refresh_token", refresh_token: refreshToken });
}

export async function fetchUserInfo(d: Discovery, accessToken: string): Promise<UserInfo> {
  const res = await fetch(d.userinfo_endpoint, {
    headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const json = (await res.json().catch(() => ({}))) as Partial<UserInfo>;
  if (!res.ok || typeof json.sub !== "string" || json.sub === "") {
    throw new OAuthError("userinfo_failed", `userinfo answered ${res.status}`);
  }
  return json as UserInfo;
}

/** revokeToken tells the provider a token is no longer needed; failures are ignored. */
export async function revokeToken(d: Discovery, cfg: Config, token: string, hint: string): Promise<void> {
  if (!d.revocation_endpoint) return;
  const id = encodeURIComponent(cfg.oauth.clientId);
  const secret = encodeURIComponent(cfg.oauth.clientSecret);
  await fetch(d.revocation_endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ token, token_type_hint: hint }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).catch(() => undefined);
}
