import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, apiFetch, fetchMe } from "./client";
import { createItem } from "./items";

function answer(status: number, body?: unknown) {
  const fn = vi.fn(async () =>
    new Response(body === undefined ? null : JSON.stringify(body), { status }),
  );
  vi.stubGlobal("fetch", fn);
  return fn;
}

afterEach(() => vi.unstubAllGlobals());

describe("api client", () => {
  it("calls the API under the base path with JSON", async () => {
    const fetch = answer(201, { id: "1", title: "a", done: false, created_at: "2026-01-01T00:00:00Z" });
    const item = await createItem({ title: "a" });
    expect(item.id).toBe("1");
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe(`${import.meta.env.BASE_URL.replace(/\/$/, "")}/api/items`);
    expect(init.method).toBe("POST");
    expect(init.body).toBe('{"title":"a"}');
  });

  it("turns error answers into ApiError", async () => {
    answer(422, { error: { code: "invalid_request", message: "title: too short" } });
    await expect(apiFetch("/api/items")).rejects.toEqual(new ApiError(422, "invalid_request", "title: too short"));
  });

  it("copes with an error answer that is not JSON", async () => {
    vi.stubGlobal("fetch", async () => new Response("<html>bad gateway</html>", { status: 502 }));
    const err = await apiFetch("/api/items").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(502);
  });

  it("gives undefined for 204", async () => {
    answer(204);
    expect(await apiFetch("/api/items/1", { method: "DELETE" })).toBeUndefined();
  });

  it("fetchMe is null when signed out", async () => {
    answer(401, { error: { code: "unauthorized", message: "sign in first" } });
    expect(await fetchMe()).toBeNull();
  });
});
