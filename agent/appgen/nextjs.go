package appgen

import (
	"fmt"
	"regexp"
	"strings"
)

// planNext adds each entity the way templates/nextjs/AGENTS.md describes: lib/<e>.ts,
// app/api/<e>/route.ts, app/api/<e>/[id]/route.ts, app/<e>/page.tsx, app/<e>/<e>-view.tsx,
// test/<e>.test.ts, a line in lib/indexes.ts and a nav link in app/layout.tsx; the home page
// points at the new entities.
func planNext(spec Spec) ([]Op, error) {
	var ops []Op
	for _, e := range spec.Entities {
		n := namesOf(e)
		ops = append(ops,
			Op{Path: "lib/" + n.kebab + ".ts", Content: nextLib(e, n)},
			Op{Path: "app/api/" + n.kebab + "/route.ts", Content: nextRoute(e, n)},
			Op{Path: "app/api/" + n.kebab + "/[id]/route.ts", Content: nextIDRoute(e, n)},
			Op{Path: "app/" + n.kebab + "/page.tsx", Content: nextPage(e, n)},
			Op{Path: "app/" + n.kebab + "/" + n.kebab + "-view.tsx", Content: nextView(e, n)},
			Op{Path: "test/" + n.kebab + ".test.ts", Content: nextTest(e, n)},
		)
	}
	ops = append(ops,
		Op{Path: "lib/indexes.ts", Patch: func(old string) (string, error) { return patchNextIndexes(old, spec) }},
		Op{Path: "app/layout.tsx", Patch: func(old string) (string, error) { return patchNextNav(old, spec) }},
		Op{Path: "app/page.tsx", Patch: func(old string) (string, error) {
			return mergeHome(old, nextHome(spec), spec, `<Link href="/%s" className="button">
          Open %s
        </Link>
`), nil
		}},
	)
	return ops, nil
}

func nextLib(e Entity, n names) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := e.Fields[0].Name
	w("// The %s entity, added by MGX following the items pattern (AGENTS.md).\n", n.lower)
	w("import { ObjectId, type IndexDescription } from \"mongodb\";\nimport { getDb } from \"@/lib/db\";\n\n")
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, fmt.Sprintf("%s: %s", f.Name, tsType(f)))
	}
	w("/** A %s as the API returns it. */\n", n.lower)
	w("export type %s = { id: string; %s; created_at: string };\n\n", n.E, strings.Join(fields, "; "))
	w("/** A %s as MongoDB stores it; owner_id scopes every query to the signed-in user. */\n", n.lower)
	w("type %sDoc = { _id: ObjectId; owner_id: ObjectId; %s; created_at: Date };\n\n", n.E, strings.Join(fields, "; "))
	w("export type %sInput = { %s };\nexport type %sUpdate = Partial<%sInput>;\n\n", n.E, strings.Join(fields, "; "), n.E, n.E)
	w("export const %sIndexes: IndexDescription[] = [{ key: { owner_id: 1, created_at: -1 }, name: \"owner_created\" }];\n\n", n.e)
	w("const collection = () => getDb().collection<%sDoc>(%q);\n\n", n.E, n.coll)
	w("function to%s(doc: %sDoc): %s {\n  return {\n    id: doc._id.toHexString(),\n", n.E, n.E, n.E)
	for _, f := range e.Fields {
		w("    %s: doc.%s ?? %s,\n", f.Name, f.Name, defaultTS(f))
	}
	w("    created_at: doc.created_at.toISOString(),\n  };\n}\n\n")
	w("type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };\n\n")
	used := map[string]bool{}
	for _, f := range e.Fields {
		used[f.Type] = true
	}
	if used[TypeString] || used[TypeText] {
		w(`function parseText(v: unknown, field: string, max: number, required: boolean): Parsed<string> {
  if (typeof v !== "string") return { ok: false, message: ` + "`${field} must be text`" + ` };
  const s = v.trim();
  if (required && s === "") return { ok: false, message: ` + "`${field} is required`" + ` };
  if (s.length > max) return { ok: false, message: ` + "`${field} is longer than ${max} characters`" + ` };
  return { ok: true, value: s };
}

`)
	}
	if used[TypeInt] {
		w(`function parseWhole(v: unknown, field: string): Parsed<number> {
  if (typeof v !== "number" || !Number.isInteger(v) || Math.abs(v) > 1e12) {
    return { ok: false, message: ` + "`${field} must be a whole number`" + ` };
  }
  return { ok: true, value: v };
}

`)
	}
	if used[TypeFloat] {
		w(`function parseNumber(v: unknown, field: string): Parsed<number> {
  if (typeof v !== "number" || !Number.isFinite(v) || Math.abs(v) > 1e15) {
    return { ok: false, message: ` + "`${field} must be a number`" + ` };
  }
  return { ok: true, value: v };
}

`)
	}
	if used[TypeBool] {
		w(`function parseFlag(v: unknown, field: string): Parsed<boolean> {
  if (typeof v !== "boolean") return { ok: false, message: ` + "`${field} must be true or false`" + ` };
  return { ok: true, value: v };
}

`)
	}
	if used[TypeDate] {
		w(`function parseDay(v: unknown, field: string): Parsed<string> {
  if (v === "") return { ok: true, value: "" };
  if (typeof v !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(v))) {
    return { ok: false, message: ` + "`${field} must be a date (YYYY-MM-DD)`" + ` };
  }
  return { ok: true, value: v };
}

`)
	}
	parse := func(f Field, expr string) string {
		switch f.Type {
		case TypeString:
			return fmt.Sprintf("parseText(%s, %q, 200, %v)", expr, f.Name, f.Name == title)
		case TypeText:
			return fmt.Sprintf("parseText(%s, %q, 10000, false)", expr, f.Name)
		case TypeInt:
			return fmt.Sprintf("parseWhole(%s, %q)", expr, f.Name)
		case TypeFloat:
			return fmt.Sprintf("parseNumber(%s, %q)", expr, f.Name)
		case TypeBool:
			return fmt.Sprintf("parseFlag(%s, %q)", expr, f.Name)
		default:
			return fmt.Sprintf("parseDay(%s, %q)", expr, f.Name)
		}
	}
	var names []string
	for _, f := range e.Fields {
		names = append(names, f.Name)
	}
	w("/** parse%sCreate validates a POST body; only %s is required. */\n", n.E, title)
	w("export function parse%sCreate(body: unknown): Parsed<%sInput> {\n", n.E, n.E)
	w("  if (typeof body !== \"object\" || body === null || Array.isArray(body)) return { ok: false, message: \"expected a JSON object\" };\n")
	w("  const b = body as Record<string, unknown>;\n")
	var assigns []string
	for _, f := range e.Fields {
		expr := "b." + f.Name
		if f.Name != title {
			expr = fmt.Sprintf("b.%s ?? %s", f.Name, defaultTS(f))
		}
		w("  const v_%s = %s;\n  if (!v_%s.ok) return v_%s;\n", f.Name, parse(f, expr), f.Name, f.Name)
		assigns = append(assigns, fmt.Sprintf("%s: v_%s.value", f.Name, f.Name))
	}
	w("  return { ok: true, value: { %s } };\n}\n\n", strings.Join(assigns, ", "))
	w("/** parse%sUpdate validates a PATCH body: any of the fields. */\n", n.E)
	w("export function parse%sUpdate(body: unknown): Parsed<%sUpdate> {\n", n.E, n.E)
	w("  if (typeof body !== \"object\" || body === null || Array.isArray(body)) return { ok: false, message: \"expected a JSON object\" };\n")
	w("  const b = body as Record<string, unknown>;\n  const out: %sUpdate = {};\n", n.E)
	for _, f := range e.Fields {
		w("  if (%q in b) {\n    const v = %s;\n    if (!v.ok) return v;\n    out.%s = v.value;\n  }\n", f.Name, parse(f, "b."+f.Name), f.Name)
	}
	w("  if (Object.keys(out).length === 0) return { ok: false, message: \"nothing to update (%s)\" };\n", strings.Join(names, ", "))
	w("  return { ok: true, value: out };\n}\n\n")
	w(`function objectId(id: string): ObjectId | null {
  return ObjectId.isValid(id) && /^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : null;
}

export async function list%[2]s(ownerId: string): Promise<%[1]s[]> {
  const docs = await collection()
    .find({ owner_id: new ObjectId(ownerId) })
    .sort({ created_at: -1 })
    .limit(500)
    .toArray();
  return docs.map(to%[1]s);
}

export async function create%[1]s(ownerId: string, input: %[1]sInput): Promise<%[1]s> {
  const doc: %[1]sDoc = { _id: new ObjectId(), owner_id: new ObjectId(ownerId), ...input, created_at: new Date() };
  await collection().insertOne(doc);
  return to%[1]s(doc);
}

/** update%[1]s returns null when the %[3]s does not exist or belongs to someone else. */
export async function update%[1]s(ownerId: string, id: string, patch: %[1]sUpdate): Promise<%[1]s | null> {
  const _id = objectId(id);
  if (!_id) return null;
  const doc = await collection().findOneAndUpdate(
    { _id, owner_id: new ObjectId(ownerId) },
    { $set: patch },
    { returnDocument: "after" },
  );
  return doc ? to%[1]s(doc) : null;
}

/** delete%[1]s returns false when the %[3]s does not exist or belongs to someone else. */
export async function delete%[1]s(ownerId: string, id: string): Promise<boolean> {
  const _id = objectId(id);
  if (!_id) return false;
  const res = await collection().deleteOne({ _id, owner_id: new ObjectId(ownerId) });
  return res.deletedCount === 1;
}
`, n.E, n.Es, n.lower)
	return b.String()
}

func nextRoute(e Entity, n names) string {
	return fmt.Sprintf(`import { NextResponse, type NextRequest } from "next/server";
import { requireUser } from "@/lib/auth";
import { jsonError, readJson } from "@/lib/http";
import { create%[1]s, list%[2]s, parse%[1]sCreate } from "@/lib/%[3]s";

export const dynamic = "force-dynamic";

/** GET /api/%[3]s: the signed-in user's %[4]s, newest first. */
export async function GET(req: NextRequest) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  return NextResponse.json({ %[5]s: await list%[2]s(user.id) });
}

/** POST /api/%[3]s: create a %[6]s → 201 with the %[6]s. */
export async function POST(req: NextRequest) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  const input = parse%[1]sCreate(await readJson(req));
  if (!input.ok) return jsonError(400, %[7]q, input.message);
  return NextResponse.json(await create%[1]s(user.id, input.value), { status: 201 });
}
`, n.E, n.Es, n.kebab, n.lowers, n.coll, n.lower, n.errCode)
}

func nextIDRoute(e Entity, n names) string {
	return fmt.Sprintf(`import { NextResponse, type NextRequest } from "next/server";
import { requireUser } from "@/lib/auth";
import { jsonError, readJson } from "@/lib/http";
import { delete%[1]s, parse%[1]sUpdate, update%[1]s } from "@/lib/%[2]s";

export const dynamic = "force-dynamic";

type Params = { params: Promise<{ id: string }> };

/** PATCH /api/%[2]s/{id}: update a %[3]s → 200 with the %[3]s. */
export async function PATCH(req: NextRequest, { params }: Params) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  const { id } = await params;
  const patch = parse%[1]sUpdate(await readJson(req));
  if (!patch.ok) return jsonError(400, %[4]q, patch.message);
  const row = await update%[1]s(user.id, id, patch.value);
  return row ? NextResponse.json(row) : jsonError(404, "not_found", "no such %[3]s");
}

/** DELETE /api/%[2]s/{id} → 204. */
export async function DELETE(req: NextRequest, { params }: Params) {
  const user = await requireUser(req);
  if (user instanceof Response) return user;
  const { id } = await params;
  if (!(await delete%[1]s(user.id, id))) return jsonError(404, "not_found", "no such %[3]s");
  return new NextResponse(null, { status: 204 });
}
`, n.E, n.kebab, n.lower, n.errCode)
}

func nextPage(e Entity, n names) string {
	return fmt.Sprintf(`import type { Metadata } from "next";
import { %[1]sView } from "@/app/%[2]s/%[2]s-view";

export const metadata: Metadata = { title: %[3]q };

export default function %[1]sPage() {
  return (
    <section>
      <div className="page-head">
        <h1>%[3]s</h1>
        <p className="muted">Add, change and delete your %[4]s.</p>
      </div>
      <%[1]sView />
    </section>
  );
}
`, n.Es, n.kebab, n.labels, n.lowers)
}

func nextView(e Entity, n names) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := e.Fields[0]
	var firstBool *Field
	for i := range e.Fields {
		if e.Fields[i].Type == TypeBool {
			firstBool = &e.Fields[i]
			break
		}
	}
	w("\"use client\";\n\nimport { useEffect, useState, type FormEvent } from \"react\";\nimport { apiUrl } from \"@/lib/app\";\nimport type { %s } from \"@/lib/%s\";\n\n", n.E, n.kebab)
	b.WriteString(tsForm(e, n))
	w(`async function errorMessage(res: Response): Promise<string> {
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  return body?.error?.message ?? ` + "`request failed (${res.status})`" + `;
}

`)
	w("type Loaded = { status: \"ready\"; rows: %s[] } | { status: \"signed-out\" } | { status: \"error\"; message: string };\n\n", n.E)
	w(`async function load(): Promise<Loaded> {
  try {
    const res = await fetch(apiUrl("/api/%[1]s"), { cache: "no-store" });
    if (res.status === 401) return { status: "signed-out" };
    if (!res.ok) return { status: "error", message: await errorMessage(res) };
    return { status: "ready", rows: ((await res.json()) as { %[2]s: %[3]s[] }).%[2]s };
  } catch {
    return { status: "error", message: "the server cannot be reached" };
  }
}

/** The %[4]s list: create, edit and delete through /api/%[1]s. */
export function %[5]sView() {
  const [rows, setRows] = useState<%[3]s[]>([]);
  const [status, setStatus] = useState<"loading" | "ready" | "signed-out" | "error">("loading");
  const [error, setError] = useState("");
  const [form, setForm] = useState<Form>(EMPTY);
  const [editing, setEditing] = useState<{ id: string; form: Form } | null>(null);

  useEffect(() => {
    let active = true;
    load().then((result) => {
      if (!active) return;
      if (result.status === "ready") setRows(result.rows);
      if (result.status === "error") setError(result.message);
      setStatus(result.status);
    });
    return () => {
      active = false;
    };
  }, []);

  async function send(path: string, method: string, body?: unknown): Promise<Response | null> {
    setError("");
    const res = await fetch(apiUrl(path), {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) {
      setError(await errorMessage(res));
      return null;
    }
    return res;
  }

  async function create(e: FormEvent) {
    e.preventDefault();
    const out = toBody(form);
    if ("error" in out) return setError(out.error);
    const res = await send("/api/%[1]s", "POST", out.body);
    if (!res) return;
    const row = (await res.json()) as %[3]s;
    setRows((prev) => [row, ...prev]);
    setForm(EMPTY);
  }

  async function update(id: string, body: Record<string, unknown>) {
    const res = await send(`+"`/api/%[1]s/${id}`"+`, "PATCH", body);
    if (!res) return;
    const row = (await res.json()) as %[3]s;
    setRows((prev) => prev.map((r) => (r.id === id ? row : r)));
    setEditing(null);
  }

  function save(e: FormEvent) {
    e.preventDefault();
    if (!editing) return;
    const out = toBody(editing.form);
    if ("error" in out) return setError(out.error);
    void update(editing.id, out.body);
  }

  async function remove(id: string) {
    if (await send(`+"`/api/%[1]s/${id}`"+`, "DELETE")) setRows((prev) => prev.filter((r) => r.id !== id));
  }

  if (status === "loading") return <div className="card muted">Loading…</div>;
  if (status === "signed-out") {
    return (
      <div className="card empty">
        <p>Sign in to see your %[4]s.</p>
        <a className="button button-primary" href={apiUrl("/api/auth/login")}>
          Sign in with MGX
        </a>
      </div>
    );
  }

  return (
    <div className="card">
      <form className="stack" style={{ display: "grid", gap: "0.5rem" }} onSubmit={create}>
        <Fields form={form} onChange={setForm} />
        <button className="button button-primary" type="submit" disabled={form.%[6]s.trim() === ""}>
          Add %[7]s
        </button>
      </form>
      {error && (
        <p className="alert" role="alert">
          {error}
        </p>
      )}
      {rows.length === 0 ? (
        <p className="empty muted">No %[4]s yet. Add your first one above.</p>
      ) : (
        <ul className="list">
          {rows.map((row) => (
            <li key={row.id} className="list-row">
`, n.kebab, n.coll, n.E, n.lowers, n.Es, title.Name, n.lower)
	if firstBool != nil {
		w(`              <input
                type="checkbox"
                className="check"
                aria-label={`+"`%[2]s: ${row.%[3]s}`"+`}
                checked={row.%[1]s}
                onChange={() => update(row.id, { %[1]s: !row.%[1]s })}
              />
`, firstBool.Name, firstBool.Label, title.Name)
	}
	w(`              {editing?.id === row.id ? (
                <form className="grow" style={{ display: "grid", gap: "0.5rem" }} onSubmit={save}>
                  <Fields form={editing.form} onChange={(f) => setEditing({ id: row.id, form: f })} />
                  <div className="row">
                    <button className="button" type="submit">
                      Save
                    </button>
                    <button className="button button-ghost" type="button" onClick={() => setEditing(null)}>
                      Cancel
                    </button>
                  </div>
                </form>
              ) : (
                <>
                  <span className="grow">
                    <span className="title">{row.%[1]s}</span> <Details row={row} />
                  </span>
                  <button className="button button-ghost" type="button" onClick={() => setEditing({ id: row.id, form: toForm(row) })}>
                    Edit
                  </button>
                  <button className="button button-danger" type="button" onClick={() => remove(row.id)}>
                    Delete
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
`, title.Name)
	return b.String()
}

func nextTest(e Entity, n names) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := e.Fields[0]
	var sample, defaults []string
	for _, f := range e.Fields {
		sample = append(sample, fmt.Sprintf("%s: %s", f.Name, sampleTS(f)))
		if f.Name != title.Name {
			defaults = append(defaults, fmt.Sprintf("%s: %s", f.Name, defaultTS(f)))
		}
	}
	w(`import { ObjectId } from "mongodb";
import { createHash } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import { DELETE, PATCH } from "@/app/api/%[1]s/[id]/route";
import { GET, POST } from "@/app/api/%[1]s/route";
import { SESSION_COOKIE } from "@/lib/session";
import type { FakeDb } from "./fake-db";
import { request, useFakeDb } from "./helpers";

/** session inserts a signed-in user directly and returns their cookie header. */
async function session(db: FakeDb, sub: string): Promise<string> {
  const userId = new ObjectId();
  await db.collection("users").insertOne({ _id: userId, sub, email: `+"`${sub}@x`"+`, name: sub });
  const token = `+"`tok-${sub}`"+`;
  await db.collection("sessions").insertOne({
    _id: createHash("sha256").update(token).digest("hex"),
    user_id: userId,
    access_token: "at",
    access_expires_at: new Date(Date.now() + 3600_000),
    created_at: new Date(),
    expires_at: new Date(Date.now() + 3600_000),
  });
  return `+"`${SESSION_COOKIE}=${token}`"+`;
}

const params = (id: string) => ({ params: Promise.resolve({ id }) });
const sample = { %[2]s };

describe("%[1]s API", () => {
  const t = useFakeDb();
  let alice = "";
  let bob = "";
  beforeEach(async () => {
    alice = await session(t.db, "alice");
    bob = await session(t.db, "bob");
  });

  it("needs a session", async () => {
    expect((await GET(request("/api/%[1]s"))).status).toBe(401);
    expect((await POST(request("/api/%[1]s", { method: "POST", body: sample }))).status).toBe(401);
  });

  it("creates, lists, updates and deletes", async () => {
    const created = await POST(request("/api/%[1]s", { method: "POST", cookie: alice, body: sample }));
    expect(created.status).toBe(201);
    const row = await created.json();
    expect(row).toMatchObject(sample);

    const list = await (await GET(request("/api/%[1]s", { cookie: alice }))).json();
    expect(list.%[3]s.map((r: { id: string }) => r.id)).toEqual([row.id]);

    const patched = await PATCH(
      request(`+"`/api/%[1]s/${row.id}`"+`, { method: "PATCH", cookie: alice, body: { %[4]s: "Changed" } }),
      params(row.id),
    );
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ ...sample, id: row.id, %[4]s: "Changed" });

    const deleted = await DELETE(request(`+"`/api/%[1]s/${row.id}`"+`, { method: "DELETE", cookie: alice }), params(row.id));
    expect(deleted.status).toBe(204);
    expect((await (await GET(request("/api/%[1]s", { cookie: alice }))).json()).%[3]s).toEqual([]);
  });

  it("fills in defaults", async () => {
    const res = await POST(request("/api/%[1]s", { method: "POST", cookie: alice, body: { %[4]s: "Only this" } }));
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ %[4]s: "Only this"%[5]s });
  });

  const invalid: { name: string; body: unknown }[] = [
    { name: "missing %[4]s", body: {} },
    { name: "blank %[4]s", body: { %[4]s: "   " } },
    { name: "too long %[4]s", body: { %[4]s: "x".repeat(201) } },
    { name: "not an object", body: "hello" },
`, n.kebab, strings.Join(sample, ", "), n.coll, title.Name, prefixComma(defaults))
	for _, f := range e.Fields[1:] {
		w("    { name: \"bad %s\", body: { ...sample, %s: %s } },\n", f.Name, f.Name, badTS(f))
	}
	w(`  ];
  for (const c of invalid) {
    it(`+"`refuses ${c.name}`"+`, async () => {
      const res = await POST(request("/api/%[1]s", { method: "POST", cookie: alice, body: c.body }));
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe(%[2]q);
    });
  }

  it("refuses a bad update", async () => {
    const row = await (await POST(request("/api/%[1]s", { method: "POST", cookie: alice, body: sample }))).json();
    for (const body of [{}, { %[3]s: "" }]) {
      const res = await PATCH(request(`+"`/api/%[1]s/${row.id}`"+`, { method: "PATCH", cookie: alice, body }), params(row.id));
      expect(res.status).toBe(400);
    }
  });

  it("keeps users' %[4]s apart", async () => {
    const row = await (await POST(request("/api/%[1]s", { method: "POST", cookie: alice, body: sample }))).json();
    expect((await (await GET(request("/api/%[1]s", { cookie: bob }))).json()).%[5]s).toEqual([]);
    const patch = await PATCH(request(`+"`/api/%[1]s/${row.id}`"+`, { method: "PATCH", cookie: bob, body: { %[3]s: "x" } }), params(row.id));
    expect(patch.status).toBe(404);
    const del = await DELETE(request(`+"`/api/%[1]s/${row.id}`"+`, { method: "DELETE", cookie: bob }), params(row.id));
    expect(del.status).toBe(404);
    expect(t.db.collection(%[6]q).docs).toHaveLength(1);
  });

  it("answers 404 for malformed ids", async () => {
    for (const id of ["nope", "../x", "0123456789abcdef0123456z"]) {
      const res = await DELETE(request(`+"`/api/%[1]s/${id}`"+`, { method: "DELETE", cookie: alice }), params(id));
      expect(res.status).toBe(404);
    }
  });
});
`, n.kebab, n.errCode, title.Name, n.lowers, n.coll, n.coll)
	return b.String()
}

func prefixComma(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

// mergeHome replaces the template's home page with fresh, or, on a home page an earlier run
// or a person already changed, adds a link for each entity it lacks.
func mergeHome(old, fresh string, spec Spec, linkFormat string) string {
	if strings.Contains(old, "Open items") || !strings.Contains(old, `className="hero-actions"`) {
		return fresh
	}
	i := strings.Index(old, `className="hero-actions"`)
	j := strings.Index(old[i:], "      </div>")
	if j < 0 {
		return old
	}
	at := i + j
	var add strings.Builder
	for _, e := range spec.Entities {
		n := namesOf(e)
		if strings.Contains(old, `"/`+n.kebab+`"`) {
			continue
		}
		add.WriteString("        " + fmt.Sprintf(linkFormat, n.kebab, n.lowers))
	}
	return old[:at] + add.String() + old[at:]
}

var importRE = regexp.MustCompile(`(?m)^import .*;\n`)

func patchNextIndexes(old string, spec Spec) (string, error) {
	s := old
	for _, e := range spec.Entities {
		n := namesOf(e)
		if strings.Contains(s, n.e+"Indexes") {
			continue
		}
		imp := fmt.Sprintf("import { %sIndexes } from \"@/lib/%s\";\n", n.e, n.kebab)
		locs := importRE.FindAllStringIndex(s, -1)
		if len(locs) == 0 {
			return "", fmt.Errorf("no imports in lib/indexes.ts")
		}
		at := locs[len(locs)-1][1]
		s = s[:at] + imp + s[at:]
		entry := fmt.Sprintf("  %s: %sIndexes,\n", n.coll, n.e)
		i := strings.Index(s, "Record<string, IndexDescription[]> = {")
		if i < 0 {
			return "", fmt.Errorf("lib/indexes.ts has no INDEXES map")
		}
		j := strings.Index(s[i:], "\n};")
		if j < 0 {
			return "", fmt.Errorf("lib/indexes.ts: INDEXES map does not end with };")
		}
		at = i + j + 1
		s = s[:at] + entry + s[at:]
	}
	return s, nil
}

func patchNextNav(old string, spec Spec) (string, error) {
	var links []string
	for _, e := range spec.Entities {
		n := namesOf(e)
		link := fmt.Sprintf("<Link href=\"/%s\">%s</Link>", n.kebab, n.labels)
		if !strings.Contains(old, link) {
			links = append(links, link)
		}
	}
	if len(links) == 0 {
		return old, nil
	}
	itemLink := `<Link href="/items">Items</Link>`
	if i := strings.Index(old, itemLink); i >= 0 {
		indent := old[strings.LastIndex(old[:i], "\n")+1 : i]
		return old[:i] + strings.Join(links, "\n"+indent) + old[i+len(itemLink):], nil
	}
	i := strings.Index(old, "</nav>")
	if i < 0 {
		return "", fmt.Errorf("app/layout.tsx has no <nav>")
	}
	indent := old[strings.LastIndex(old[:i], "\n")+1 : i]
	return old[:i] + "  " + strings.Join(links, "\n"+indent+"  ") + "\n" + indent + old[i:], nil
}

func nextHome(spec Spec) string {
	var links []string
	var labels []string
	for i, e := range spec.Entities {
		n := namesOf(e)
		class := "button"
		if i == 0 {
			class = "button button-primary"
		}
		links = append(links, fmt.Sprintf("        <Link href=\"/%s\" className=%q>\n          Open %s\n        </Link>\n", n.kebab, class, n.lowers))
		labels = append(labels, n.lowers)
	}
	what := labels[0]
	if len(labels) > 1 {
		what = strings.Join(labels[:len(labels)-1], ", ") + " and " + labels[len(labels)-1]
	}
	return fmt.Sprintf(`import Link from "next/link";
import { APP_NAME } from "@/lib/app";

export default function HomePage() {
  return (
    <section className="hero">
      <p className="eyebrow">Welcome</p>
      <h1>{APP_NAME}</h1>
      <p className="lead">
        Sign in with your MGX account, then keep track of your %s. Everything you add is stored
        in MongoDB and only visible to you.
      </p>
      <div className="hero-actions">
%s      </div>
    </section>
  );
}
`, what, strings.Join(links, ""))
}
