import { ObjectId } from "mongodb";
import { beforeEach, describe, expect, it } from "vitest";
import { DELETE, PATCH } from "@/app/api/items/[id]/route";
import { GET, POST } from "@/app/api/items/route";
import { SESSION_COOKIE } from "@/lib/session";
import type { FakeDb } from "./fake-db";
import { request, useFakeDb } from "./helpers";
import { createHash } from "node:crypto";

/** session inserts a signed-in user directly and returns their cookie header. */
async function session(db: FakeDb, sub: string): Promise<string> {
  const userId = new ObjectId();
  await db.collection("users").insertOne({ _id: userId, sub, email: `${sub}@x`, name: sub });
  const token = `tok-${sub}`;
  await db.collection("sessions").insertOne({
    _id: createHash("sha256").update(token).digest("hex"),
    user_id: userId,
    access_token: "at",
    access_expires_at: new Date(Date.now() + 3600_000),
    created_at: new Date(),
    expires_at: new Date(Date.now() + 3600_000),
  });
  return `${SESSION_COOKIE}=${token}`;
}

const params = (id: string) => ({ params: Promise.resolve({ id }) });

describe("items API", () => {
  const t = useFakeDb();
  let alice = "";
  let bob = "";
  beforeEach(async () => {
    alice = await session(t.db, "alice");
    bob = await session(t.db, "bob");
  });

  it("needs a session", async () => {
    expect((await GET(request("/api/items"))).status).toBe(401);
    expect((await POST(request("/api/items", { method: "POST", body: { title: "x" } }))).status).toBe(401);
  });

  it("creates, lists, updates and deletes", async () => {
    const created = await POST(request("/api/items", { method: "POST", cookie: alice, body: { title: "  Buy milk " } }));
    expect(created.status).toBe(201);
    const item = await created.json();
    expect(item).toMatchObject({ title: "Buy milk", done: false });

    const list = await (await GET(request("/api/items", { cookie: alice }))).json();
    expect(list.items.map((i: { id: string }) => i.id)).toEqual([item.id]);

    const patched = await PATCH(
      request(`/api/items/${item.id}`, { method: "PATCH", cookie: alice, body: { done: true } }),
      params(item.id),
    );
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: item.id, done: true, title: "Buy milk" });

    const deleted = await DELETE(request(`/api/items/${item.id}`, { method: "DELETE", cookie: alice }), params(item.id));
    expect(deleted.status).toBe(204);
    expect((await (await GET(request("/api/items", { cookie: alice }))).json()).items).toEqual([]);
  });

  const invalid: { name: string; body: unknown }[] = [
    { name: "missing title", body: {} },
    { name: "blank title", body: { title: "   " } },
    { name: "non-string title", body: { title: 5 } },
    { name: "too long title", body: { title: "x".repeat(201) } },
    { name: "not an object", body: "hello" },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name}`, async () => {
      const res = await POST(request("/api/items", { method: "POST", cookie: alice, body: c.body }));
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe("invalid_item");
    });
  }

  it("refuses a bad update", async () => {
    const item = await (await POST(request("/api/items", { method: "POST", cookie: alice, body: { title: "a" } }))).json();
    for (const body of [{}, { done: "yes" }, { title: "" }]) {
      const res = await PATCH(request(`/api/items/${item.id}`, { method: "PATCH", cookie: alice, body }), params(item.id));
      expect(res.status).toBe(400);
    }
  });

  it("keeps users' items apart", async () => {
    const item = await (await POST(request("/api/items", { method: "POST", cookie: alice, body: { title: "a" } }))).json();
    expect((await (await GET(request("/api/items", { cookie: bob }))).json()).items).toEqual([]);
    const patch = await PATCH(request(`/api/items/${item.id}`, { method: "PATCH", cookie: bob, body: { done: true } }), params(item.id));
    expect(patch.status).toBe(404);
    const del = await DELETE(request(`/api/items/${item.id}`, { method: "DELETE", cookie: bob }), params(item.id));
    expect(del.status).toBe(404);
    expect(t.db.collection("items").docs).toHaveLength(1);
  });

  it("answers 404 for malformed ids", async () => {
    for (const id of ["nope", "../x", "0123456789abcdef0123456z"]) {
      const res = await DELETE(request(`/api/items/${id}`, { method: "DELETE", cookie: alice }), params(id));
      expect(res.status).toBe(404);
    }
  });
});
