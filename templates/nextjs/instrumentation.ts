// Next.js calls register() once when the server starts. The Node.js part lives in
// lib/startup.ts so the Edge bundle never sees Node APIs.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { startup } = await import("./lib/startup");
    await startup();
  }
}
