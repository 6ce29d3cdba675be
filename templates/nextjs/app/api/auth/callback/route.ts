import { NextResponse, type NextRequest } from "next/server";
import { getConfig } from "@/lib/config";
import { jsonError } from "@/lib/http";
import { log } from "@/lib/log";
import { discover, exchangeCode, fetchUserInfo } from "@/lib/oauth";
import { clearStateCookie, createSession, finishLogin } from "@/lib/session";
import { upsertUser } from "@/lib/users";

export const dynamic = "force-dynamic";

/** GET /api/auth/callback: MGX returns here with ?code&state after sign-in. */
export async function GET(req: NextRequest) {
  const cfg = getConfig();
  const params = req.nextUrl.searchParams;
  const verifier = await finishLogin(req, params.get("state"));
  if (!verifier) {
    return jsonError(400, "invalid_state", "this sign-in link is invalid or expired; start again");
  }
  const providerError = params.get("error");
  const code = params.get("code");
  if (providerError || !code) {
    return jsonError(400, "access_denied", `sign-in did not complete: ${providerError ?? "no code"}`);
  }
  try {
    const provider = await discover(cfg);
    const tokens = await exchangeCode(provider, cfg, code, verifier);
    const info = await fetchUserInfo(provider, tokens.access_token);
    const user = await upsertUser(info);
    const res = NextResponse.redirect(`${cfg.publicUrl}/`, 302);
    await createSession(res, user._id, tokens);
    clearStateCookie(res);
    log.info("user signed in", { user_id: user._id.toHexString() });
    return res;
  } catch (err) {
    log.error("sign-in callback failed", { error: String(err) });
    return jsonError(502, "sign_in_failed", "sign-in could not be completed; start again");
  }
}
