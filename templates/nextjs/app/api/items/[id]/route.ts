import { NextResponse, type NextRequest } from "next/server";
import { requireUser } from "@/lib/auth";
import { jsonError, readJson } from "@/lib/http";
import { deleteItem, parseItemUpdate, updateItem } from "@/lib/items";

export const dynamic = "force-dynamic";

type Params = { params: Promise<{ id: string }> };

/** PATCH /api/items/{id} {"title"?, "done"?}: update an item → 200 with the item. */
export async function PATCH(req: NextRequest, { params }: Params) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  const { id } = await params;
  const patch = parseItemUpdate(await readJson(req));
  if (!patch.ok) return jsonError(400, "invalid_item", patch.message);
  const item = await updateItem(user.id, id, patch.value);
  return item ? NextResponse.json(item) : jsonError(404, "not_found", "no such item");
}

/** DELETE /api/items/{id} → 204. */
export async function DELETE(req: NextRequest, { params }: Params) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  const { id } = await params;
  if (!(await deleteItem(user.id, id))) return jsonError(404, "not_found", "no such item");
  return new NextResponse(null, { status: 204 });
}
