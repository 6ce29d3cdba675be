import { BASE_PATH } from "@/lib/app";

/** Settings the app reads from its environment (DESIGN "Apps under a subpath"). */
export type Config = {
  /** PUBLIC_URL: the app's public address including the base path, no trailing slash. */
  publicUrl: string;
  /** BASE_PATH: must equal the one the app was built with. */
  basePath: string;
  oauth: {
    /** MGX_OAUTH_ISSUER: the provider; endpoints come from its OIDC discovery document. */
    issuer: string;
    clientId: string;
    clientSecret: string;
    /** OAUTH_SCOPES (optional), default "openid profile email offline_access". */
    scopes: string;
  };
  mongo: { url: string; db: string };
};

/** ConfigError's message is one line naming every bad variable. */
export class ConfigError extends Error {}

const REQUIRED = [
  "PUBLIC_URL",
  "MGX_OAUTH_ISSUER",
  "MGX_OAUTH_CLIENT_ID",
  "MGX_OAUTH_CLIENT_SECRET",
  "MONGODB_URL",
  "MONGODB_DB",
] as const;

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

/** loadConfig validates env and reports every problem at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env, builtBasePath = BASE_PATH): Config {
  const problems: string[] = [];
  const get = (name: string) => (env[name] ?? "").trim();
  for (const name of REQUIRED) {
    if (get(name) === "") problems.push(`${name} is not set`);
  }
  const basePath = get("BASE_PATH") === "/" ? "" : get("BASE_PATH");
  if (basePath !== builtBasePath) {
    problems.push(
      `BASE_PATH is ${JSON.stringify(basePath)} but the app was built with ${JSON.stringify(builtBasePath)} (rebuild with the same BASE_PATH)`,
    );
  }
  const publicUrl = get("PUBLIC_URL").replace(/\/+$/, "");
  if (publicUrl && !isHttpUrl(publicUrl)) problems.push("PUBLIC_URL is not an http(s) URL");
  else if (publicUrl && basePath && !new URL(publicUrl).pathname.endsWith(basePath)) {
    problems.push(`PUBLIC_URL must end with BASE_PATH ${basePath}`);
  }
  const issuer = get("MGX_OAUTH_ISSUER").replace(/\/+$/, "");
  if (issuer && !isHttpUrl(issuer)) problems.push("MGX_OAUTH_ISSUER is not an http(s) URL");
  const mongoUrl = get("MONGODB_URL");
  if (mongoUrl && !/^mongodb(\+srv)?:\/\//.test(mongoUrl)) {
    problems.push("MONGODB_URL must start with mongodb:// or mongodb+srv://");
  }
  const db = get("MONGODB_DB");
  if (db && !/^[^/\\. "$]{1,63}$/.test(db)) problems.push("MONGODB_DB is not a valid database name");
  if (problems.length > 0) throw new ConfigError(`config: ${problems.join("; ")}`);
  return {
    publicUrl,
    basePath,
    oauth: {
      issuer,
      clientId: get("MGX_OAUTH_CLIENT_ID"),
      clientSecret: get("MGX_OAUTH_CLIENT_SECRET"),
      scopes: get("OAUTH_SCOPES") || "openid profile email offline_access",
    },
    mongo: { url: mongoUrl, db },
  };
}

let cached: Config | undefined;

/** getConfig returns the process's config, loading it on first use. */
export function getConfig(): Config {
  cached ??= loadConfig();
  return cached;
}

/** resetConfig forgets the cached config (tests change the environment). */
export function resetConfig(): void {
  cached = undefined;
}
