/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// BASE_PATH is where MGX serves the app: "/dev/<slug>" in development, "/apps/<slug>" in
// production, "" (or unset) at the root. Vite bakes it into the build as `base`.
function basePathFromEnv(): string {
  const raw = process.env.BASE_PATH ?? "";
  if (raw === "" || raw === "/") return "";
  if (!/^\/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~-]$/.test(raw) || raw.includes("//")) {
    console.error(`config: BASE_PATH must start with "/" and not end with "/" (got ${JSON.stringify(raw)})`);
    process.exit(1);
  }
  return raw;
}

const basePath = basePathFromEnv();
const port = Number(process.env.PORT ?? 5173);
// Outside MGX, API_PROXY_TARGET=http://127.0.0.1:8000 sends /api to a local uvicorn (MGX's
// gateway does this itself, stripping BASE_PATH).
const apiTarget = process.env.API_PROXY_TARGET;

export default defineConfig({
  base: `${basePath}/`,
  plugins: [react()],
  server: {
    host: "0.0.0.0",
    port,
    strictPort: true,
    // Requests arrive through the MGX gateway with the platform's host name.
    allowedHosts: true,
    proxy: apiTarget
      ? {
          [`${basePath}/api`]: {
            target: apiTarget,
            rewrite: (path: string) => path.slice(basePath.length),
          },
        }
      : undefined,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.{ts,tsx}", "*.test.mjs"],
  },
});
