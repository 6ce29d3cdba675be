import { describe, expect, it } from "vitest";
import { getConfig } from "@/lib/config";
import { authorizeUrl, discover, pkceChallenge } from "@/lib/oauth";
import { mockProvider, useFakeDb } from "./helpers";

describe("oauth helpers", () => {
  useFakeDb();

  it("computes the RFC 7636 S256 challenge", () => {
    expect(pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("sends the browser to the published endpoint and the server to the configured issuer", async () => {
    mockProvider();
    const d = await discover(getConfig());
    expect(d.authorization_endpoint).toBe("http://public.mgx.test/oauth2/authorize");
    expect(d.token_endpoint).toBe("http://mgx.test/oauth2/token");
    const url = new URL(authorizeUrl(d, getConfig(), "st", "verifier"));
    expect(url.searchParams.get("redirect_uri")).toBe("http://mgx.test/apps/demo/api/auth/callback");
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("code_challenge")).toBe(pkceChallenge("verifier"));
    expect(url.searchParams.get("client_id")).toBe("app-demo");
  });
});
