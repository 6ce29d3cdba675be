import { ConfigError, loadConfig } from "@/lib/config";

/**
 * startup checks the environment (a bad one stops the server with one line naming the
 * variable), then starts telemetry before any route loads the MongoDB driver, so database
 * calls are traced, and creates indexes in the background.
 */
export async function startup(): Promise<void> {
  try {
    loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const { startTelemetry } = await import("@/lib/telemetry");
  startTelemetry();
  const { ensureIndexes } = await import("@/lib/indexes");
  void ensureIndexes();
}
