import type { IndexDescription, ObjectId } from "mongodb";
import { getDb } from "@/lib/db";
import type { UserInfo } from "@/lib/oauth";

/** A person who signed in to this app through MGX. */
export type User = { id: string; sub: string; email: string; name: string };

export type UserDoc = {
  _id: ObjectId;
  /** The provider's stable subject id: the key users are matched on. */
  sub: string;
  email: string;
  name: string;
  created_at: Date;
  last_login_at: Date;
};

export const userIndexes: IndexDescription[] = [
  { key: { sub: 1 }, name: "sub_unique", unique: true },
  { key: { email: 1 }, name: "email" },
];

export function users() {
  return getDb().collection<UserDoc>("users");
}

export function toUser(doc: UserDoc): User {
  return { id: doc._id.toHexString(), sub: doc.sub, email: doc.email, name: doc.name };
}

/** upsertUser records a sign-in: the first one creates the user, later ones refresh it. */
export async function upsertUser(info: UserInfo): Promise<UserDoc> {
  const now = new Date();
  const email = info.email ?? "";
  const name = info.name || info.preferred_username || email || info.sub;
  const doc = await users().findOneAndUpdate(
    { sub: info.sub },
    { $set: { email, name, last_login_at: now }, $setOnInsert: { created_at: now } },
    { upsert: true, returnDocument: "after" },
  );
  if (!doc) throw new Error("user upsert returned nothing");
  return doc;
}
