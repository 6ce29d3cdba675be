import { renderToString } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { HomePage } from "./pages/HomePage";
import { ItemsPage } from "./pages/ItemsPage";
import { routePath } from "./navigation";

describe("routing under a base path", () => {
  const cases = [
    { name: "base root", path: "/apps/demo/", want: "/" },
    { name: "base without slash", path: "/apps/demo", want: "/" },
    { name: "page", path: "/apps/demo/items", want: "/items" },
  ];
  for (const c of cases) {
    it(c.name, () => expect(routePath(c.path, "/apps/demo/")).toBe(c.want));
  }
  it("works at the root", () => expect(routePath("/items", "/")).toBe("/items"));
});

describe("pages render", () => {
  it("home links to the items page under the base path", () => {
    const html = renderToString(<HomePage />);
    expect(html).toContain(`href="${import.meta.env.BASE_URL}items"`);
  });
  it("items page starts loading", () => {
    expect(renderToString(<ItemsPage />)).toContain("Loading");
  });
});
