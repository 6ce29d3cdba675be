import type { NextRequest } from "next/server";
import { jsonError } from "@/lib/http";
import { currentUser } from "@/lib/session";
import type { User } from "@/lib/users";

/**
 * requireUser is the guard of every protected API route:
 *
 *   const auth = await requireUser(req);
 *   if (auth instanceof Response) return auth;   // 401
 *   auth.id …
 */
export async function requireUser(req: NextRequest): Promise<User | Response> {
  const user = await currentUser(req);
  return user ?? jsonError(401, "unauthorized", "sign in first");
}
