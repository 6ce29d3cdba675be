import { NextResponse } from "next/server";

/** jsonError answers the one error shape: {"error": {"code", "message"}}. */
export function jsonError(status: number, code: string, message: string): NextResponse {
  return NextResponse.json({ error: { code, message } }, { status });
}

/** readJson parses a JSON body of at most maxBytes; null when it is missing or malformed. */
export async function readJson(req: Request, maxBytes = 64 * 1024): Promise<unknown | null> {
  const text = await req.text();
  if (text.length === 0 || text.length > maxBytes) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
