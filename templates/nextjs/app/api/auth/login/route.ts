import { NextResponse } from "next/server";
import { getConfig } from "@/lib/config";
import { jsonError } from "@/lib/http";
import { log } from "@/lib/log";
import { authorizeUrl, discover } from "@/lib/oauth";
import { beginLogin, setStateCookie } from "@/lib/session";

export const dynamic = "force-dynamic";

/** GET /api/auth/login: send the browser to MGX's sign-in page (code flow + PKCE). */
export async function GET() {
  const cfg = getConfig();
  try {
    const provider = await discover(cfg);
    const { state, verifier } = await beginLogin();
    const res = NextResponse.redirect(authorizeUrl(provider, cfg, state, verifier), 302);
    setStateCookie(res, state);
    return res;
  } catch (err) {
    log.error("login failed", { error: String(err) });
    return jsonError(502, "provider_unavailable", "the sign-in provider cannot be reached; try again");
  }
}
