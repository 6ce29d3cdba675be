import type { NextConfig } from "next";

// BASE_PATH is where MGX serves the app: "/dev/<slug>" in development, "/apps/<slug>" in
// production, "" (or unset) at the root. Next.js bakes it into the build.
function basePathFromEnv(): string {
  const raw = process.env.BASE_PATH ?? "";
  if (raw === "" || raw === "/") return "";
  if (!/^\/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~-]$/.test(raw) || raw.includes("//")) {
    console.error(
      `config: BASE_PATH must start with "/" and not end with "/" (got ${JSON.stringify(raw)})`,
    );
    process.exit(1);
  }
  return raw;
}

function publicHost(): string[] {
  try {
    return process.env.PUBLIC_URL ? [new URL(process.env.PUBLIC_URL).hostname] : [];
  } catch {
    return [];
  }
}

const basePath = basePathFromEnv();

const nextConfig: NextConfig = {
  basePath,
  output: "standalone",
  poweredByHeader: false,
  // Client code needs the base path for fetch() calls; <Link> adds it by itself.
  env: { NEXT_PUBLIC_BASE_PATH: basePath },
  // Loaded with require() at run time so OpenTelemetry can instrument them.
  serverExternalPackages: [
    "mongodb",
    "@opentelemetry/sdk-node",
    "@opentelemetry/instrumentation-http",
    "@opentelemetry/instrumentation-mongodb",
  ],
  // `next dev` sits behind the MGX gateway: let the page's origin (PUBLIC_URL's host) load
  // dev resources and open the hot-reload socket.
  allowedDevOrigins: publicHost(),
};

export default nextConfig;
