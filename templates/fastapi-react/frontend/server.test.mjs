import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStaticServer } from "./server.mjs";

describe("static server", () => {
  let server;
  let origin;
  beforeAll(async () => {
    const root = mkdtempSync(path.join(tmpdir(), "dist-"));
    mkdirSync(path.join(root, "assets"));
    writeFileSync(path.join(root, "index.html"), "<!doctype html><title>app</title>");
    writeFileSync(path.join(root, "assets", "index-abc.js"), "console.log(1)");
    writeFileSync(path.join(path.dirname(root), "secret.txt"), "secret");
    server = createStaticServer({ root, basePath: "/apps/demo" });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${server.address().port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const get = (p, init) => fetch(origin + p, { redirect: "manual", ...init });

  const cases = [
    { name: "index under the base path", path: "/apps/demo/", status: 200, type: /text\/html/, cache: "no-cache" },
    { name: "hashed asset", path: "/apps/demo/assets/index-abc.js", status: 200, type: /javascript/, cache: "immutable" },
    { name: "client-side route falls back to index", path: "/apps/demo/items", status: 200, type: /text\/html/ },
    { name: "missing asset is 404", path: "/apps/demo/assets/nope.js", status: 404 },
    { name: "outside the base path is 404", path: "/apps/other/", status: 404 },
    { name: "prefix without slash boundary is 404", path: "/apps/demox/", status: 404 },
    { name: "encoded traversal is refused", path: "/apps/demo/..%2f..%2fsecret.txt", status: 404 },
    { name: "bad escape is 400", path: "/apps/demo/%E0%A4%A", status: 400 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const res = await get(c.path);
      expect(res.status).toBe(c.status);
      if (c.type) expect(res.headers.get("content-type")).toMatch(c.type);
      if (c.cache) expect(res.headers.get("cache-control")).toContain(c.cache);
    });
  }

  it("redirects the bare base path to its slash form", async () => {
    const res = await get("/apps/demo");
    expect(res.status).toBe(308);
    expect(res.headers.get("location")).toBe("/apps/demo/");
  });

  it("refuses writes", async () => {
    expect((await get("/apps/demo/", { method: "POST" })).status).toBe(405);
  });
});
