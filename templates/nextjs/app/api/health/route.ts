import { NextResponse } from "next/server";
import { pingDb } from "@/lib/db";
import { ensureIndexes } from "@/lib/indexes";

export const dynamic = "force-dynamic";

/** GET /api/health: 200 when the database answers, 503 (within seconds) when it does not. */
export async function GET() {
  try {
    await pingDb();
  } catch (err) {
    return NextResponse.json(
      { status: "error", database: "unreachable", detail: String(err) },
      { status: 503 },
    );
  }
  await ensureIndexes();
  return NextResponse.json({ status: "ok", database: "ok" });
}
