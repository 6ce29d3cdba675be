import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@/lib/config";

const good = {
  BASE_PATH: "/apps/demo",
  PUBLIC_URL: "https://mgx.example/apps/demo/",
  MGX_OAUTH_ISSUER: "https://mgx.example/oauth2",
  MGX_OAUTH_CLIENT_ID: "app-demo",
  MGX_OAUTH_CLIENT_SECRET: "s",
  MONGODB_URL: "mongodb://db:27017",
  MONGODB_DB: "demo",
};

describe("loadConfig", () => {
  it("accepts a complete environment", () => {
    const cfg = loadConfig(good, "/apps/demo");
    expect(cfg.publicUrl).toBe("https://mgx.example/apps/demo");
    expect(cfg.oauth.scopes).toContain("openid");
  });

  const cases: { name: string; env: Record<string, string>; built?: string; want: RegExp }[] = [
    { name: "missing MONGODB_URL", env: { ...good, MONGODB_URL: "" }, want: /MONGODB_URL is not set/ },
    { name: "missing secret", env: { ...good, MGX_OAUTH_CLIENT_SECRET: " " }, want: /MGX_OAUTH_CLIENT_SECRET is not set/ },
    { name: "bad issuer", env: { ...good, MGX_OAUTH_ISSUER: "mgx" }, want: /MGX_OAUTH_ISSUER is not an http/ },
    { name: "bad mongo url", env: { ...good, MONGODB_URL: "postgres://x" }, want: /MONGODB_URL must start/ },
    { name: "bad db name", env: { ...good, MONGODB_DB: "a/b" }, want: /MONGODB_DB is not a valid/ },
    { name: "base path differs from build", env: { ...good, BASE_PATH: "/dev/demo" }, want: /BASE_PATH is "\/dev\/demo" but the app was built with "\/apps\/demo"/ },
    { name: "public url without base path", env: { ...good, PUBLIC_URL: "https://mgx.example/" }, want: /PUBLIC_URL must end with BASE_PATH/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with one line naming it`, () => {
      let err: unknown;
      try {
        loadConfig(c.env, c.built ?? "/apps/demo");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message).toMatch(c.want);
      expect(message).not.toContain("\n");
    });
  }

  it("names every missing variable at once", () => {
    expect(() => loadConfig({}, "")).toThrow(/PUBLIC_URL is not set; MGX_OAUTH_ISSUER is not set;.*MONGODB_DB is not set/);
  });
});
