// The example entity. To add another one, copy this file, app/api/items/**, app/items/**
// and test/items.test.ts under the new name, and register its indexes in lib/indexes.ts
// (see AGENTS.md).
import { ObjectId, type IndexDescription } from "mongodb";
import { getDb } from "@/lib/db";

/** An item as the API returns it. */
export type Item = { id: string; title: string; done: boolean; created_at: string };

/** An item as MongoDB stores it; owner_id scopes every query to the signed-in user. */
type ItemDoc = { _id: ObjectId; owner_id: ObjectId; title: string; done: boolean; created_at: Date };

export type ItemCreate = { title: string };
export type ItemUpdate = { title?: string; done?: boolean };

export const itemIndexes: IndexDescription[] = [
  { key: { owner_id: 1, created_at: -1 }, name: "owner_created" },
];

const TITLE_MAX = 200;
const items = () => getDb().collection<ItemDoc>("items");

function toItem(doc: ItemDoc): Item {
  return { id: doc._id.toHexString(), title: doc.title, done: doc.done, created_at: doc.created_at.toISOString() };
}

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function parseTitle(v: unknown): Parsed<string> {
  if (typeof v !== "string" || v.trim() === "") return { ok: false, message: "title is required" };
  if (v.trim().length > TITLE_MAX) return { ok: false, message: `title is longer than ${TITLE_MAX} characters` };
  return { ok: true, value: v.trim() };
}

/** parseItemCreate validates a POST body: {"title": "…"}. */
export function parseItemCreate(body: unknown): Parsed<ItemCreate> {
  if (typeof body !== "object" || body === null) return { ok: false, message: "expected a JSON object" };
  const title = parseTitle((body as Record<string, unknown>).title);
  return title.ok ? { ok: true, value: { title: title.value } } : title;
}

/** parseItemUpdate validates a PATCH body: {"title"?: "…", "done"?: bool}. */
export function parseItemUpdate(body: unknown): Parsed<ItemUpdate> {
  if (typeof body !== "object" || body === null) return { ok: false, message: "expected a JSON object" };
  const b = body as Record<string, unknown>;
  const out: ItemUpdate = {};
  if ("title" in b) {
    const title = parseTitle(b.title);
    if (!title.ok) return title;
    out.title = title.value;
  }
  if ("done" in b) {
    if (typeof b.done !== "boolean") return { ok: false, message: "done must be true or false" };
    out.done = b.done;
  }
  if (Object.keys(out).length === 0) return { ok: false, message: "nothing to update (title, done)" };
  return { ok: true, value: out };
}

function objectId(id: string): ObjectId | null {
  return ObjectId.isValid(id) && /^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : null;
}

export async function listItems(ownerId: string): Promise<Item[]> {
  const docs = await items()
    .find({ owner_id: new ObjectId(ownerId) })
    .sort({ created_at: -1 })
    .limit(500)
    .toArray();
  return docs.map(toItem);
}

export async function createItem(ownerId: string, input: ItemCreate): Promise<Item> {
  const doc: ItemDoc = {
    _id: new ObjectId(),
    owner_id: new ObjectId(ownerId),
    title: input.title,
    done: false,
    created_at: new Date(),
  };
  await items().insertOne(doc);
  return toItem(doc);
}

/** updateItem returns null when the item does not exist or belongs to someone else. */
export async function updateItem(ownerId: string, id: string, patch: ItemUpdate): Promise<Item | null> {
  const _id = objectId(id);
  if (!_id) return null;
  const doc = await items().findOneAndUpdate(
    { _id, owner_id: new ObjectId(ownerId) },
    { $set: patch },
    { returnDocument: "after" },
  );
  return doc ? toItem(doc) : null;
}

/** deleteItem returns false when the item does not exist or belongs to someone else. */
export async function deleteItem(ownerId: string, id: string): Promise<boolean> {
  const _id = objectId(id);
  if (!_id) return false;
  const res = await items().deleteOne({ _id, owner_id: new ObjectId(ownerId) });
  return res.deletedCount === 1;
}
