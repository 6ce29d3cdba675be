import type { Db } from "mongodb";
import { NextRequest } from "next/server";
import { afterEach, beforeEach, vi } from "vitest";
import { resetConfig } from "@/lib/config";
import { setDbForTests } from "@/lib/db";
import { resetDiscovery } from "@/lib/oauth";
import { FakeDb } from "./fake-db";

export const ORIGIN = "http://mgx.test";
export const BASE = "/apps/demo";

/** useFakeDb gives each test a fresh in-memory database. */
export function useFakeDb(): { db: FakeDb } {
  const ctx = { db: new FakeDb() };
  beforeEach(() => {
    ctx.db = new FakeDb();
    setDbForTests(ctx.db as unknown as Db);
    resetConfig();
    resetDiscovery();
  });
  afterEach(() => {
    setDbForTests(undefined);
    vi.unstubAllGlobals();
  });
  return ctx;
}

/** request builds a NextRequest for a path under the base path. */
export function request(path: string, init: { method?: string; cookie?: string; body?: unknown } = {}) {
  const headers = new Headers();
  if (init.cookie) headers.set("cookie", init.cookie);
  if (init.body !== undefined) headers.set("content-type", "application/json");
  return new NextRequest(`${ORIGIN}${BASE}${path}`, {
    method: init.method ?? "GET",
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

/** cookieValue reads a Set-Cookie value from a response ("" when cleared). */
export function setCookie(res: Response, name: string): { value: string; header: string } | null {
  for (const header of res.headers.getSetCookie()) {
    if (header.startsWith(`${name}=`)) return { value: header.slice(name.length + 1).split(";")[0], header };
  }
  return null;
}

export type ProviderCalls = { token: URLSearchParams[]; revoke: URLSearchParams[]; auth: string[] };

/**
 * mockProvider stands in for MGX's OAuth endpoints behind global fetch. tokenResponse
 * decides what the token endpoint answers for each request.
 */
export function mockProvider(
  tokenResponse: (params: URLSearchParams) => { status: number; body: unknown } = (p) => ({
    status: 200,
    body: {
      access_token: `at-${p.get("grant_type")}`,
      refresh_token: `rt-${Math.random()}`,
      expires_in: 900,
      token_type: "Bearer",
    },
  }),
  userinfo: Record<string, string> = { sub: "user-1", email: "ada@example.com", name: "Ada" },
): ProviderCalls {
  const calls: ProviderCalls = { token: [], revoke: [], auth: [] };
  const issuer = "http://public.mgx.test/oauth2";
  vi.stubGlobal("fetch", async (input: string | URL, init: RequestInit = {}) => {
    const url = String(input);
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
    if (url === `${ORIGIN}/oauth2/.well-known/openid-configuration`) {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        revocation_endpoint: `${issuer}/revoke`,
      });
    }
    // Back-channel calls must go to MGX_OAUTH_ISSUER's origin, not the published one.
    if (url === `${ORIGIN}/oauth2/token`) {
      const params = new URLSearchParams(String(init.body));
      calls.token.push(params);
      calls.auth.push(new Headers(init.headers).get("authorization") ?? "");
      const r = tokenResponse(params);
      return json(r.status, r.body);
    }
    if (url === `${ORIGIN}/oauth2/userinfo`) return json(200, userinfo);
    if (url === `${ORIGIN}/oauth2/revoke`) {
      calls.revoke.push(new URLSearchParams(String(init.body)));
      return new Response(null, { status: 200 });
    }
    throw new Error(`unexpected fetch ${url}`);
  });
  return calls;
}
