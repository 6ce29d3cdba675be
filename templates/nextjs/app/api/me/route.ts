import { NextResponse, type NextRequest } from "next/server";
import { requireUser } from "@/lib/auth";

export const dynamic = "force-dynamic";

/** GET /api/me: the signed-in user, or 401. */
export async function GET(req: NextRequest) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  return NextResponse.json(user);
}
