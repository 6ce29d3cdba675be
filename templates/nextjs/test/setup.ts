// Every test runs with a complete, valid environment; tests that need a broken one pass
// their own env to loadConfig.
process.env.NEXT_PUBLIC_BASE_PATH = "/apps/demo";
Object.assign(process.env, {
  BASE_PATH: "/apps/demo",
  PUBLIC_URL: "http://mgx.test/apps/demo",
  MGX_OAUTH_ISSUER: "http://mgx.test/oauth2",
  MGX_OAUTH_CLIENT_ID: "app-demo",
  MGX_OAUTH_CLIENT_SECRET: "client-secret",
  MONGODB_URL: "mongodb://db.invalid:27017",
  MONGODB_DB: "demo",
});
