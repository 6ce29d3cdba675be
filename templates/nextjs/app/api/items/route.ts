import { NextResponse, type NextRequest } from "next/server";
import { requireUser } from "@/lib/auth";
import { jsonError, readJson } from "@/lib/http";
import { createItem, listItems, parseItemCreate } from "@/lib/items";

export const dynamic = "force-dynamic";

/** GET /api/items: the signed-in user's items, newest first. */
export async function GET(req: NextRequest) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  return NextResponse.json({ items: await listItems(user.id) });
}

/** POST /api/items {"title"}: create an item → 201 with the item. */
export async function POST(req: NextRequest) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  const input = parseItemCreate(await readJson(req));
  if (!input.ok) return jsonError(400, "invalid_item", input.message);
  return NextResponse.json(await createItem(user.id, input.value), { status: 201 });
}
