import { describe, expect, it, vi } from "vitest";
import { GET as callback } from "@/app/api/auth/callback/route";
import { GET as login } from "@/app/api/auth/login/route";
import { POST as logout } from "@/app/api/auth/logout/route";
import { GET as me } from "@/app/api/me/route";
import { SESSION_COOKIE, STATE_COOKIE } from "@/lib/session";
import { mockProvider, request, setCookie, useFakeDb } from "./helpers";

/** signIn walks login → callback like a browser and returns the session cookie header. */
async function signIn(): Promise<string> {
  const start = await login();
  const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
  const res = await callback(
    request(`/api/auth/callback?code=the-code&state=${state}`, { cookie: `${STATE_COOKIE}=${state}` }),
  );
  expect(res.status).toBe(302);
  return `${SESSION_COOKIE}=${setCookie(res, SESSION_COOKIE)!.value}`;
}

describe("sign-in", () => {
  const t = useFakeDb();

  it("login redirects to the provider with PKCE and a state cookie scoped to the base path", async () => {
    mockProvider();
    const res = await login();
    expect(res.status).toBe(302);
    const url = new URL(res.headers.get("location")!);
    expect(url.origin + url.pathname).toBe("http://public.mgx.test/oauth2/authorize");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    const state = url.searchParams.get("state")!;
    const cookie = setCookie(res, STATE_COOKIE)!;
    expect(cookie.value).toBe(state);
    expect(cookie.header).toMatch(/Path=\/apps\/demo/);
    expect(cookie.header).toMatch(/HttpOnly/i);
    expect(t.db.collection("auth_states").docs).toHaveLength(1);
  });

  it("login answers 502 when the provider is down", async () => {
    vi.stubGlobal("fetch", async () => {
      throw new TypeError("fetch failed");
    });
    const res = await login();
    expect(res.status).toBe(502);
  });

  const badStates: { name: string; query: string; cookie?: string }[] = [
    { name: "no state", query: "code=c" },
    { name: "state without cookie", query: "code=c&state=S" },
    { name: "state not matching cookie", query: "code=c&state=S", cookie: `${STATE_COOKIE}=OTHER` },
    { name: "unknown state", query: "code=c&state=S", cookie: `${STATE_COOKIE}=S` },
  ];
  for (const c of badStates) {
    it(`callback refuses ${c.name}`, async () => {
      const calls = mockProvider();
      const res = await callback(request(`/api/auth/callback?${c.query}`, { cookie: c.cookie }));
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe("invalid_state");
      expect(calls.token).toHaveLength(0);
    });
  }

  it("callback cannot be replayed", async () => {
    mockProvider();
    const start = await login();
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const cb = () =>
      callback(request(`/api/auth/callback?code=c&state=${state}`, { cookie: `${STATE_COOKIE}=${state}` }));
    expect((await cb()).status).toBe(302);
    expect((await cb()).status).toBe(400);
  });

  it("a full sign-in exchanges the code with the verifier, upserts the user and sets the session", async () => {
    const calls = mockProvider();
    const cookie = await signIn();
    const params = calls.token[0];
    expect(params.get("grant_type")).toBe("authorization_code");
    expect(params.get("code")).toBe("the-code");
    expect(params.get("code_verifier")).toBeTruthy();
    expect(calls.auth[0]).toBe(`Basic ${Buffer.from("app-demo:client-secret").toString("base64")}`);
    const users = t.db.collection("users").docs;
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ sub: "user-1", email: "ada@example.com", name: "Ada" });

    const res = await me(request("/api/me", { cookie }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ email: "ada@example.com", name: "Ada" });
    // The cookie is opaque: tokens are not in it and the database stores only its hash.
    expect(cookie).not.toContain("at-");
    expect(t.db.collection("sessions").docs[0]._id).not.toBe(cookie.split("=")[1]);

    await signIn();
    expect(t.db.collection("users").docs).toHaveLength(1);
  });

  it("me is 401 without a session", async () => {
    expect((await me(request("/api/me"))).status).toBe(401);
    expect((await me(request("/api/me", { cookie: `${SESSION_COOKIE}=forged` }))).status).toBe(401);
  });

  it("refreshes an expiring access token and keeps the rotated refresh token", async () => {
    const calls = mockProvider();
    const cookie = await signIn();
    const session = t.db.collection("sessions").docs[0];
    session.access_expires_at = new Date(Date.now() - 1000);
    const oldRefresh = session.refresh_token;
    expect((await me(request("/api/me", { cookie }))).status).toBe(200);
    expect(calls.token[1].get("grant_type")).toBe("refresh_token");
    expect(calls.token[1].get("refresh_token")).toBe(oldRefresh);
    expect(session.refresh_token).not.toBe(oldRefresh);
    expect(session.access_token).toBe("at-refresh_token");
  });

  it("ends the session when the provider refuses the refresh", async () => {
    mockProvider((p) =>
      p.get("grant_type") === "refresh_token"
        ? { status: 400, body: { error: "invalid_grant" } }
        : { status: 200, body: { access_token: "at", refresh_token: "rt", expires_in: 900 } },
    );
    const cookie = await signIn();
    t.db.collection("sessions").docs[0].access_expires_at = new Date(0);
    expect((await me(request("/api/me", { cookie }))).status).toBe(401);
    expect(t.db.collection("sessions").docs).toHaveLength(0);
  });

  it("logout deletes the session, revokes the refresh token and clears the cookie", async () => {
    const calls = mockProvider();
    const cookie = await signIn();
    const res = await logout(request("/api/auth/logout", { method: "POST", cookie }));
    expect(res.status).toBe(200);
    expect(setCookie(res, SESSION_COOKIE)!.header).toMatch(/Max-Age=0/);
    expect(t.db.collection("sessions").docs).toHaveLength(0);
    expect(calls.revoke[0].get("token_type_hint")).toBe("refresh_token");
    expect((await me(request("/api/me", { cookie }))).status).toBe(401);
  });
});
