import { describe, expect, it } from "vitest";
import { GET } from "@/app/api/health/route";
import { useFakeDb } from "./helpers";

describe("health", () => {
  const t = useFakeDb();

  it("is ok when the database answers and creates indexes", async () => {
    const res = await GET();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", database: "ok" });
    expect(t.db.collection("users").indexes).toContainEqual(expect.objectContaining({ unique: true, key: { sub: 1 } }));
  });

  it("reports a database that is down", async () => {
    t.db.down = new Error("connect ECONNREFUSED");
    const res = await GET();
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: "error", database: "unreachable" });
  });
});
