import { createHash, timingSafeEqual } from "node:crypto";
import type { IndexDescription, ObjectId } from "mongodb";
import type { NextRequest, NextResponse } from "next/server";
import { getConfig, type Config } from "@/lib/config";
import { getDb } from "@/lib/db";
import { log } from "@/lib/log";
import { discover, OAuthError, randomToken, refreshTokens, revokeToken, type TokenSet } from "@/lib/oauth";
import { toUser, users, type User } from "@/lib/users";

/** The session cookie: an opaque random id; the tokens stay on the server. */
export const SESSION_COOKIE = "app_session";
/** Binds a login's state to the browser that started it. */
export const STATE_COOKIE = "app_oauth_state";

const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;
const STATE_TTL_MS = 10 * 60 * 1000;
/** Refresh the access token when it has less than this left. */
const REFRESH_MARGIN_MS = 60 * 1000;

type SessionDoc = {
  /** sha256 of the cookie value: a database leak does not hand out live cookies. */
  _id: string;
  user_id: ObjectId;
  access_token: string;
  refresh_token?: string;
  access_expires_at: Date;
  created_at: Date;
  expires_at: Date;
};

type AuthStateDoc = { _id: string; verifier: string; created_at: Date };

export const sessionIndexes: IndexDescription[] = [
  { key: { user_id: 1 }, name: "user" },
  { key: { expires_at: 1 }, name: "expires" },
];
export const authStateIndexes: IndexDescription[] = [{ key: { created_at: 1 }, name: "created" }];

const sessions = () => getDb().collection<SessionDoc>("sessions");
const authStates = () => getDb().collection<AuthStateDoc>("auth_states");
const hash = (value: string) => createHash("sha256").update(value).digest("hex");

function cookieBase(cfg: Config) {
  return {
    httpOnly: true,
    secure: cfg.publicUrl.startsWith("https:"),
    sameSite: "lax" as const,
    // Scoped to this app: other apps under the same domain never receive it.
    path: cfg.basePath || "/",
  };
}

/** beginLogin stores a single-use login transaction and returns its state and PKCE verifier. */
export async function beginLogin(): Promise<{ state: string; verifier: string }> {
  const state = randomToken();
  const verifier = randomToken(48);
  await authStates().insertOne({ _id: state, verifier, created_at: new Date() });
  return { state, verifier };
}

/** setStateCookie binds the login's state to this browser for ten minutes. */
export function setStateCookie(res: NextResponse, state: string): void {
  res.cookies.set(STATE_COOKIE, state, { ...cookieBase(getConfig()), maxAge: STATE_TTL_MS / 1000 });
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * finishLogin checks the callback's state against the browser's cookie and the stored
 * transaction, consumes it, and returns its PKCE verifier; null means refuse the callback.
 */
export async function finishLogin(req: NextRequest, state: string | null): Promise<string | null> {
  const cookie = req.cookies.get(STATE_COOKIE)?.value;
  if (!state || !cookie || !sameString(state, cookie)) return null;
  const doc = await authStates().findOneAndDelete({ _id: state });
  if (!doc || Date.now() - doc.created_at.getTime() > STATE_TTL_MS) return null;
  return doc.verifier;
}

export function clearStateCookie(res: NextResponse): void {
  res.cookies.set(STATE_COOKIE, "", { ...cookieBase(getConfig()), maxAge: 0 });
}

function expiry(tokens: TokenSet): Date {
  return new Date(Date.now() + (tokens.expires_in ?? 300) * 1000);
}

/** createSession stores the tokens and sets the session cookie on res. */
export async function createSession(res: NextResponse, userId: ObjectId, tokens: TokenSet): Promise<void> {
  const id = randomToken();
  const now = new Date();
  await sessions().insertOne({
    _id: hash(id),
    user_id: userId,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    access_expires_at: expiry(tokens),
    created_at: now,
    expires_at: new Date(now.getTime() + SESSION_TTL_MS),
  });
  res.cookies.set(SESSION_COOKIE, id, { ...cookieBase(getConfig()), maxAge: SESSION_TTL_MS / 1000 });
}

/**
 * currentUser returns the signed-in user of req, or null. An access token close to expiry
 * is refreshed (the provider rotates the refresh token); a refused refresh ends the session,
 * so a user the provider disabled is signed out here too.
 */
export async function currentUser(req: NextRequest): Promise<User | null> {
  const id = req.cookies.get(SESSION_COOKIE)?.value;
  if (!id) return null;
  const session = await sessions().findOne({ _id: hash(id) });
  if (!session || session.expires_at.getTime() < Date.now()) return null;
  if (session.access_expires_at.getTime() - Date.now() < REFRESH_MARGIN_MS) {
    if (!session.refresh_token || !(await refresh(session))) {
      await sessions().deleteOne({ _id: session._id });
      return null;
    }
  }
  const user = await users().findOne({ _id: session.user_id });
  return user ? toUser(user) : null;
}

async function refresh(session: SessionDoc): Promise<boolean> {
  const cfg = getConfig();
  try {
    const tokens = await refreshTokens(await discover(cfg), cfg, session.refresh_token!);
    await sessions().updateOne(
      { _id: session._id },
      {
        $set: {
          access_token: tokens.access_token,
          refresh_token: tokens.refresh_token ?? session.refresh_token,
          access_expires_at: expiry(tokens),
        },
      },
    );
    return true;
  } catch (err) {
    const code = err instanceof OAuthError ? err.code : "network";
    log.warn("token refresh failed; session ended", { code });
    return false;
  }
}

/** endSession deletes the session, revokes its refresh token and clears the cookie. */
export async function endSession(req: NextRequest, res: NextResponse): Promise<void> {
  const cfg = getConfig();
  const id = req.cookies.get(SESSION_COOKIE)?.value;
  if (id) {
    const session = await sessions().findOneAndDelete({ _id: hash(id) });
    if (session?.refresh_token) {
      await discover(cfg)
        .then((d) => revokeToken(d, cfg, session.refresh_token!, "refresh_token"))
        .catch(() => undefined);
    }
  }
  res.cookies.set(SESSION_COOKIE, "", { ...cookieBase(cfg), maxAge: 0 });
}
