import { NextResponse, type NextRequest } from "next/server";
import { endSession } from "@/lib/session";

export const dynamic = "force-dynamic";

/** POST /api/auth/logout: end the session here and revoke its refresh token at MGX. */
export async function POST(req: NextRequest) {
  const res = NextResponse.json({ signed_out: true });
  await endSession(req, res);
  return res;
}
