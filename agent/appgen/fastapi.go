package appgen

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// planFastAPI adds each entity the way the fastapi-react template's example entity `items`
// is built: backend model, routes and tests, its index and router registration; frontend
// API client and page, its route and nav link; the home page points at the new entities.
func planFastAPI(spec Spec) ([]Op, error) {
	var ops []Op
	for _, e := range spec.Entities {
		n := namesOf(e)
		ops = append(ops,
			Op{Path: "backend/app/models/" + n.coll + ".py", Content: pyModel(e, n)},
			Op{Path: "backend/app/routes/" + n.coll + ".py", Content: pyRoutes(e, n)},
			Op{Path: "backend/tests/test_" + n.coll + ".py", Content: pyTests(e, n)},
			Op{Path: "frontend/src/api/" + n.kebab + ".ts", Content: reactAPI(e, n)},
			Op{Path: "frontend/src/pages/" + n.Es + "Page.tsx", Content: reactPage(e, n)},
			Op{Path: "frontend/src/pages/" + n.Es + "Page.test.tsx", Content: reactPageTest(e, n)},
		)
	}
	ops = append(ops,
		Op{Path: "backend/app/factory.py", Patch: func(old string) (string, error) { return patchFactory(old, spec) }},
		Op{Path: "backend/app/db.py", Patch: func(old string) (string, error) { return patchPyIndexes(old, spec) }},
		Op{Path: "frontend/src/App.tsx", Patch: func(old string) (string, error) { return patchReactApp(old, spec) }},
		Op{Path: "frontend/src/pages/HomePage.tsx", Patch: func(old string) (string, error) {
			return mergeHome(old, reactHome(spec), spec, `<Link to="/%s" className="button">
          Open %s
        </Link>
`), nil
		}},
		// The template's test expects the home page to link to items; it now links to the app's entities.
		Op{Path: "frontend/src/router.test.tsx", Patch: func(old string) (string, error) {
			n := namesOf(spec.Entities[0])
			return strings.NewReplacer("${import.meta.env.BASE_URL}items\"", "${import.meta.env.BASE_URL}"+n.kebab+"\"",
				"home links to the items page", "home links to the "+n.lowers+" page").Replace(old), nil
		}},
	)
	return ops, nil
}

func pyType(f Field) string {
	switch f.Type {
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeBool:
		return "bool"
	}
	return "str"
}

func pyDefault(f Field) string {
	switch f.Type {
	case TypeInt:
		return "0"
	case TypeFloat:
		return "0.0"
	case TypeBool:
		return "False"
	}
	return `""`
}

func pyAnnot(f Field, title bool) string {
	switch f.Type {
	case TypeString:
		if title {
			return "Title"
		}
		return "ShortText"
	case TypeText:
		return "LongText"
	case TypeInt:
		return "StrictInt"
	case TypeFloat:
		return "Number"
	case TypeBool:
		return "StrictBool"
	}
	return "Day"
}

func pyModel(e Entity, n names) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	used := map[string]bool{}
	for i, f := range e.Fields {
		used[pyAnnot(f, i == 0)] = true
	}
	stored := []string{"_id", "owner_id"}
	for _, f := range e.Fields {
		stored = append(stored, f.Name)
	}
	stored = append(stored, "created_at")
	w("\"\"\"The %s entity, added by MGX following the items pattern.\n\n%s\n\"\"\"\n\nfrom __future__ import annotations\n\n",
		n.lower, pyWrap("Stored documents: {"+strings.Join(stored, ", ")+"}.", pyLineLength))
	if used["Day"] {
		w("from datetime import date, datetime\n")
	} else {
		w("from datetime import datetime\n")
	}
	imports := []string{"BaseModel", "ConfigDict"}
	if used["Title"] || used["ShortText"] || used["LongText"] {
		imports = append(imports, "StringConstraints")
	}
	if used["StrictInt"] {
		imports = append(imports, "StrictInt")
	}
	if used["StrictBool"] {
		imports = append(imports, "StrictBool")
	}
	if used["Number"] || used["Day"] {
		imports = append(imports, "BeforeValidator")
	}
	if used["Day"] {
		imports = append(imports, "AfterValidator")
	}
	sortPy(imports)
	w("from typing import Annotated, Any\n\nfrom pydantic import %s\n\n", strings.Join(imports, ", "))
	if used["Title"] {
		w("Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]\n")
	}
	if used["ShortText"] {
		w("ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]\n")
	}
	if used["LongText"] {
		w("LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10000)]\n")
	}
	if used["Number"] {
		w(`

def _number(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("must be a number")
    return float(v)


Number = Annotated[float, BeforeValidator(_number)]
`)
	}
	if used["Day"] {
		w(`

def _day(v: Any) -> Any:
    if not isinstance(v, str):
        raise ValueError("must be a date (YYYY-MM-DD)")
    return v


def _valid_day(v: str) -> str:
    if v:
        date.fromisoformat(v)
    return v


Day = Annotated[str, BeforeValidator(_day), AfterValidator(_valid_day)]
`)
	}
	w("\n\nclass %sCreate(BaseModel):\n    model_config = ConfigDict(extra=\"forbid\")\n", n.E)
	for i, f := range e.Fields {
		if i == 0 {
			w("    %s: %s\n", f.Name, pyAnnot(f, true))
		} else {
			w("    %s: %s = %s\n", f.Name, pyAnnot(f, false), pyDefault(f))
		}
	}
	w("\n\nclass %sUpdate(BaseModel):\n    model_config = ConfigDict(extra=\"forbid\")\n", n.E)
	for i, f := range e.Fields {
		w("    %s: %s | None = None\n", f.Name, pyAnnot(f, i == 0))
	}
	w("\n\nclass %s(BaseModel):\n    id: str\n", n.E)
	for _, f := range e.Fields {
		w("    %s: %s\n", f.Name, pyType(f))
	}
	w("    created_at: datetime\n\n    @classmethod\n    def from_doc(cls, doc: dict[str, Any]) -> %s:\n        return cls(\n            id=str(doc[\"_id\"]),\n", n.E)
	for _, f := range e.Fields {
		w("            %s=doc.get(%q, %s),\n", f.Name, f.Name, pyDefault(f))
	}
	w("            created_at=doc[\"created_at\"],\n        )\n\n\nclass %sList(BaseModel):\n    %s: list[%s]\n", n.E, n.coll, n.E)
	return b.String()
}

// sortPy orders names the way ruff's isort does: CONSTANTS, then Classes, then functions.
func sortPy(names []string) {
	kind := func(s string) int {
		switch {
		case strings.ToUpper(s) == s:
			return 0
		case s[:1] == strings.ToUpper(s[:1]):
			return 1
		}
		return 2
	}
	sort.Slice(names, func(i, j int) bool {
		if kind(names[i]) != kind(names[j]) {
			return kind(names[i]) < kind(names[j])
		}
		return names[i] < names[j]
	})
}

// pyLineLength is the backend's [tool.ruff] line-length (templates/fastapi-react/backend/
// pyproject.toml): generated lines stay within it, or `ruff check` (E501, I001) and `ruff
// format --check` fail the app.
const pyLineLength = 120

// pyFromImport is `from module import a, b` as ruff's isort writes it: one line when it
// fits, else parenthesized with one name per line.
func pyFromImport(module string, names []string) string {
	line := "from " + module + " import " + strings.Join(names, ", ")
	if len(line) <= pyLineLength {
		return line
	}
	var b strings.Builder
	b.WriteString("from " + module + " import (\n")
	for _, n := range names {
		b.WriteString("    " + n + ",\n")
	}
	b.WriteString(")")
	return b.String()
}

// pyModuleDoc is a module docstring: one line when it fits, else a summary line and a body.
func pyModuleDoc(summary, body string) string {
	if line := `"""` + summary + " " + body + `"""`; len(line) <= pyLineLength {
		return line
	}
	return `"""` + summary + "\n\n" + body + "\n" + `"""`
}

// pyCall is `head(args)tail` on one line when it fits, else one argument per line with a
// magic trailing comma (which ruff format keeps as it is).
func pyCall(indent, head string, args []string, tail string) string {
	if line := indent + head + "(" + strings.Join(args, ", ") + ")" + tail; len(line) <= pyLineLength {
		return line
	}
	var b strings.Builder
	b.WriteString(indent + head + "(\n")
	for _, a := range args {
		b.WriteString(indent + "    " + a + ",\n")
	}
	b.WriteString(indent + ")" + tail)
	return b.String()
}

// pyWrap breaks text into lines of at most width characters at spaces.
func pyWrap(text string, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

func pyRoutes(e Entity, n names) string {
	doc := pyModuleDoc(fmt.Sprintf("API of the %s entity: /api/%s.", n.lower, n.kebab),
		fmt.Sprintf("Every %s belongs to the user who created it.", n.lower))
	imp := pyFromImport("app.models."+n.coll, []string{n.E, n.E + "Create", n.E + "List", n.E + "Update"})
	// Lines whose length grows with the entity's names.
	coll := fmt.Sprintf("db[%q]", n.coll)
	list := "    docs = " + coll + `.find({"owner_id": ObjectId(user.id)}).sort("created_at", DESCENDING).limit(500)`
	if len(list) > pyLineLength {
		list = "    docs = " + coll + `.find({"owner_id": ObjectId(user.id)})` + "\n" +
			`    docs = docs.sort("created_at", DESCENDING).limit(500)`
	}
	lines := []string{
		pyCall("", "def list_"+n.coll, []string{"user: CurrentUser", "db: Db"}, " -> "+n.E+"List:"),
		list,
		pyCall("    ", "return "+n.E+"List", []string{n.coll + "=[" + n.E + ".from_doc(d) for d in docs]"}, ""),
		pyCall("", "def create_"+n.snake, []string{"body: " + n.E + "Create", "user: CurrentUser", "db: Db"}, " -> "+n.E+":"),
		pyCall("", "def update_"+n.snake, []string{"row_id: str", "body: " + n.E + "Update", "user: CurrentUser", "db: Db"}, " -> "+n.E+":"),
		pyCall("", "def delete_"+n.snake, []string{"row_id: str", "user: CurrentUser", "db: Db"}, " -> Response:"),
		pyCall("    ", "res = "+coll+".delete_one", []string{`{"_id": _object_id(row_id), "owner_id": ObjectId(user.id)}`}, ""),
	}
	return fmt.Sprintf(`%[7]s

from __future__ import annotations

from datetime import UTC, datetime

from bson import ObjectId
from fastapi import APIRouter, Response
from pymongo import DESCENDING, ReturnDocument

from app.auth import CurrentUser, Db
from app.errors import ApiError
%[8]s

router = APIRouter(prefix="/api/%[5]s", tags=[%[2]q])


def _object_id(value: str) -> ObjectId:
    if not ObjectId.is_valid(value) or len(value) != 24:
        raise ApiError(404, "not_found", "no such %[3]s")
    return ObjectId(value)


@router.get("", summary="The signed-in user's %[4]s, newest first")
%[9]s
%[10]s
%[11]s


@router.post("", status_code=201, summary="Create %[16]s")
%[12]s
    doc = {"owner_id": ObjectId(user.id), **body.model_dump(), "created_at": datetime.now(UTC)}
    doc["_id"] = db[%[2]q].insert_one(doc).inserted_id
    return %[1]s.from_doc(doc)


@router.patch("/{row_id}", summary="Update %[16]s")
%[13]s
    patch = body.model_dump(exclude_none=True)
    if not patch:
        raise ApiError(422, "invalid_request", "nothing to update")
    doc = db[%[2]q].find_one_and_update(
        {"_id": _object_id(row_id), "owner_id": ObjectId(user.id)},
        {"$set": patch},
        return_document=ReturnDocument.AFTER,
    )
    if doc is None:
        raise ApiError(404, "not_found", "no such %[3]s")
    return %[1]s.from_doc(doc)


@router.delete("/{row_id}", status_code=204, summary="Delete %[16]s")
%[14]s
%[15]s
    if res.deleted_count != 1:
        raise ApiError(404, "not_found", "no such %[3]s")
    return Response(status_code=204)
`, n.E, n.coll, n.lower, n.lowers, n.kebab, n.snake, doc, imp,
		lines[0], lines[1], lines[2], lines[3], lines[4], lines[5], lines[6], withArticle(n.lower))
}

// withArticle puts "a" or "an" before a noun, by its first letter ("an experiment").
func withArticle(noun string) string {
	if noun != "" && strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}

func pySample(f Field) string {
	switch f.Type {
	case TypeInt:
		return "42"
	case TypeFloat:
		return "12.5"
	case TypeBool:
		return "True"
	case TypeDate:
		return `"2026-01-15"`
	case TypeText:
		return `"Some ` + strings.ToLower(f.Label) + `\nover two lines"`
	}
	return `"Sample ` + strings.ToLower(f.Label) + `"`
}

func pyBad(f Field) string {
	switch f.Type {
	case TypeInt:
		return "1.5"
	case TypeFloat:
		return `"lots"`
	case TypeBool:
		return `"maybe"`
	case TypeDate:
		return `"tomorrow"`
	}
	return "5"
}

func pyTests(e Entity, n names) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	title := e.Fields[0].Name
	var sample, defaults []string
	for _, f := range e.Fields {
		sample = append(sample, fmt.Sprintf("%q: %s", f.Name, pySample(f)))
		if f.Name != title {
			defaults = append(defaults, fmt.Sprintf("%q: %s", f.Name, pyDefault(f)))
		}
	}
	url := "/api/" + n.kebab
	w(`"""API tests of /api/%[1]s, added by MGX following tests/test_items.py."""

import pytest

BASE = "/apps/demo"
URL = f"{BASE}%[2]s"
SAMPLE = {
%[3]s
}
DEFAULTS: dict = {
%[6]s
}


def test_needs_a_session(client):
    assert client.get(URL).status_code == 401
    assert client.post(URL, json=SAMPLE).status_code == 401


def test_create_list_update_delete(client, session_for):
    client.cookies.update(session_for("alice"))
    res = client.post(URL, json=SAMPLE)
    assert res.status_code == 201
    row = res.json()
    assert {k: row[k] for k in SAMPLE} == SAMPLE

    assert [r["id"] for r in client.get(URL).json()[%[4]q]] == [row["id"]]

    res = client.patch(f"{URL}/{row['id']}", json={%[5]q: "Changed"})
    assert res.status_code == 200
    assert res.json()[%[5]q] == "Changed"

    assert client.delete(f"{URL}/{row['id']}").status_code == 204
    assert client.get(URL).json()[%[4]q] == []


def test_fills_in_defaults(client, session_for):
    client.cookies.update(session_for("alice"))
    res = client.post(URL, json={%[5]q: "  Only this "})
    assert res.status_code == 201
    row = res.json()
    assert row[%[5]q] == "Only this"
    assert {k: row[k] for k in DEFAULTS} == DEFAULTS


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("missing %[5]s", {}),
        ("blank %[5]s", {%[5]q: "   "}),
        ("too long %[5]s", {%[5]q: "x" * 201}),
        ("unknown field", {**SAMPLE, "owner_id": "x"}),
        ("not an object", "hello"),
`, n.kebab, url, pyDictLines(sample), n.coll, title, pyDictLines(defaults))
	for _, f := range e.Fields[1:] {
		w("        (\"bad %s\", {**SAMPLE, %q: %s}),\n", f.Name, f.Name, pyBad(f))
	}
	w(`    ],
)
def test_refuses_invalid(client, session_for, name, body):
    client.cookies.update(session_for("alice"))
    res = client.post(URL, json=body)
    assert res.status_code == 422, name
    assert res.json()["error"]["code"] == "invalid_request"


def test_refuses_bad_updates(client, session_for):
    client.cookies.update(session_for("alice"))
    row = client.post(URL, json=SAMPLE).json()
    for body in ({}, {%[1]q: ""}):
        assert client.patch(f"{URL}/{row['id']}", json=body).status_code == 422


def test_keeps_users_apart(client, session_for, db):
    alice, bob = session_for("alice"), session_for("bob")
    client.cookies.update(alice)
    row = client.post(URL, json=SAMPLE).json()
    client.cookies.update(bob)
    assert client.get(URL).json()[%[2]q] == []
    assert client.patch(f"{URL}/{row['id']}", json={%[1]q: "x"}).status_code == 404
    assert client.delete(f"{URL}/{row['id']}").status_code == 404
    assert db[%[2]q].count_documents({}) == 1


@pytest.mark.parametrize("row_id", ["nope", "0123456789abcdef0123456z", "x" * 24])
def test_malformed_ids_are_not_found(client, session_for, row_id):
    client.cookies.update(session_for("alice"))
    assert client.delete(f"{URL}/{row_id}").status_code == 404
`, title, n.coll)
	return b.String()
}

func pyDictLines(items []string) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("    " + it + ",")
	}
	return b.String()
}

func reactAPI(e Entity, n names) string {
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, fmt.Sprintf("%s: %s", f.Name, tsType(f)))
	}
	return fmt.Sprintf(`// API client of the %[3]s entity; mirrors backend/app/models/%[4]s.py.
import { apiFetch } from "./client";

export type %[1]s = { id: string; %[5]s; created_at: string };
export type %[1]sInput = { %[5]s };
export type %[1]sUpdate = Partial<%[1]sInput>;

export async function list%[2]s(): Promise<%[1]s[]> {
  return (await apiFetch<{ %[4]s: %[1]s[] }>("/api/%[6]s")).%[4]s;
}

export function create%[1]s(input: Partial<%[1]sInput>): Promise<%[1]s> {
  return apiFetch<%[1]s>("/api/%[6]s", { method: "POST", body: input });
}

export function update%[1]s(id: string, patch: %[1]sUpdate): Promise<%[1]s> {
  return apiFetch<%[1]s>(`+"`/api/%[6]s/${encodeURIComponent(id)}`"+`, { method: "PATCH", body: patch });
}

export function delete%[1]s(id: string): Promise<void> {
  return apiFetch<void>(`+"`/api/%[6]s/${encodeURIComponent(id)}`"+`, { method: "DELETE" });
}
`, n.E, n.Es, n.lower, n.coll, strings.Join(fields, "; "), n.kebab)
}

func reactPage(e Entity, n names) string {
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
	w("import { useEffect, useState, type FormEvent } from \"react\";\nimport { ApiError, loginUrl } from \"../api/client\";\n")
	w("import { create%[1]s, delete%[1]s, list%[2]s, update%[1]s, type %[1]s } from \"../api/%[3]s\";\n\n", n.E, n.Es, n.kebab)
	b.WriteString(tsForm(e, n))
	w(`function message(err: unknown): string {
  return err instanceof Error ? err.message : "something went wrong";
}

/** The %[1]s page: list, create, edit and delete. */
export function %[2]sPage() {
  const [rows, setRows] = useState<%[3]s[]>([]);
  const [status, setStatus] = useState<"loading" | "ready" | "signed-out" | "error">("loading");
  const [error, setError] = useState("");
  const [form, setForm] = useState<Form>(EMPTY);
  const [editing, setEditing] = useState<{ id: string; form: Form } | null>(null);

  useEffect(() => {
    let active = true;
    list%[2]s()
      .then((list) => {
        if (!active) return;
        setRows(list);
        setStatus("ready");
      })
      .catch((err: unknown) => {
        if (!active) return;
        if (err instanceof ApiError && err.status === 401) return setStatus("signed-out");
        setError(message(err));
        setStatus("error");
      });
    return () => {
      active = false;
    };
  }, []);

  async function run(action: () => Promise<void>) {
    setError("");
    try {
      await action();
    } catch (err) {
      setError(message(err));
    }
  }

  const create = (e: FormEvent) => {
    e.preventDefault();
    const out = toBody(form);
    if ("error" in out) return setError(out.error);
    void run(async () => {
      const row = await create%[3]s(out.body);
      setRows((prev) => [row, ...prev]);
      setForm(EMPTY);
    });
  };

  const update = (id: string, body: Record<string, unknown>) =>
    run(async () => {
      const row = await update%[3]s(id, body);
      setRows((prev) => prev.map((r) => (r.id === id ? row : r)));
      setEditing(null);
    });

  const save = (e: FormEvent) => {
    e.preventDefault();
    if (!editing) return;
    const out = toBody(editing.form);
    if ("error" in out) return setError(out.error);
    void update(editing.id, out.body);
  };

  const remove = (id: string) =>
    run(async () => {
      await delete%[3]s(id);
      setRows((prev) => prev.filter((r) => r.id !== id));
    });

  let body;
  if (status === "loading") {
    body = <div className="card muted">Loading…</div>;
  } else if (status === "signed-out") {
    body = (
      <div className="card empty">
        <p>Sign in to see your %[1]s.</p>
        <a className="button button-primary" href={loginUrl()}>
          Sign in with MGX
        </a>
      </div>
    );
  } else {
    body = (
      <div className="card">
        <form style={{ display: "grid", gap: "0.5rem" }} onSubmit={create}>
          <Fields form={form} onChange={setForm} />
          <button className="button button-primary" type="submit" disabled={form.%[4]s.trim() === ""}>
            Add %[5]s
          </button>
        </form>
        {error && (
          <p className="alert" role="alert">
            {error}
          </p>
        )}
        {rows.length === 0 ? (
          <p className="empty muted">No %[1]s yet. Add your first one above.</p>
        ) : (
          <ul className="list">
            {rows.map((row) => (
              <li key={row.id} className="list-row">
`, n.lowers, n.Es, n.E, title.Name, n.lower)
	if firstBool != nil {
		w(`                <input
                  type="checkbox"
                  className="check"
                  aria-label={`+"`%[2]s: ${row.%[3]s}`"+`}
                  checked={row.%[1]s}
                  onChange={() => update(row.id, { %[1]s: !row.%[1]s })}
                />
`, firstBool.Name, firstBool.Label, title.Name)
	}
	w(`                {editing?.id === row.id ? (
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

  return (
    <section>
      <div className="page-head">
        <h1>%[2]s</h1>
        <p className="muted">Add, change and delete your %[3]s.</p>
      </div>
      {body}
    </section>
  );
}
`, title.Name, n.labels, n.lowers)
	return b.String()
}

func reactPageTest(e Entity, n names) string {
	return fmt.Sprintf(`import { renderToString } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { HomePage } from "./HomePage";
import { %[1]sPage } from "./%[1]sPage";

describe("%[2]s page", () => {
  it("starts loading", () => {
    expect(renderToString(<%[1]sPage />)).toContain("Loading");
  });
  it("is linked from the home page", () => {
    expect(renderToString(<HomePage />)).toContain(`+"`"+`href="${import.meta.env.BASE_URL}%[3]s"`+"`"+`);
  });
});
`, n.Es, n.lowers, n.kebab)
}

// pyRouteImportRE is the factory's import of the route modules: on one line, or
// parenthesized over several once one line is too long (pyFromImport).
var pyRouteImportRE = regexp.MustCompile(`(?m)^from app\.routes import (?:\(([^)]*)\)|(.+))$`)

// routeModules are the names of the `from app.routes import` match m in src.
func routeModules(src string, m []int) []string {
	list := ""
	if m[2] >= 0 {
		list = src[m[2]:m[3]]
	} else {
		list = src[m[4]:m[5]]
	}
	var mods []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(mods, s) {
			mods = append(mods, s)
		}
	}
	return mods
}

func patchFactory(old string, spec Spec) (string, error) {
	m := pyRouteImportRE.FindStringSubmatchIndex(old)
	if m == nil {
		return "", fmt.Errorf("backend/app/factory.py: no `from app.routes import` line")
	}
	mods := routeModules(old, m)
	have := map[string]bool{}
	for _, s := range mods {
		have[s] = true
	}
	s := old
	var includes []string
	for _, e := range spec.Entities {
		if have[e.Plural] {
			continue
		}
		mods = append(mods, e.Plural)
		includes = append(includes, fmt.Sprintf("    app.include_router(%s.router)\n", e.Plural))
	}
	if len(includes) == 0 {
		return old, nil
	}
	sort.Strings(mods)
	s = s[:m[0]] + pyFromImport("app.routes", mods) + s[m[1]:]
	last := strings.LastIndex(s, "app.include_router(")
	if last < 0 {
		return "", fmt.Errorf("backend/app/factory.py: no app.include_router call")
	}
	end := strings.Index(s[last:], "\n") + last + 1
	return s[:end] + strings.Join(includes, "") + s[end:], nil
}

func patchPyIndexes(old string, spec Spec) (string, error) {
	i := strings.Index(old, "INDEXES: dict[str, list[IndexModel]] = {")
	if i < 0 {
		return "", fmt.Errorf("backend/app/db.py has no INDEXES map")
	}
	j := strings.Index(old[i:], "\n}")
	if j < 0 {
		return "", fmt.Errorf("backend/app/db.py: INDEXES map does not end with }")
	}
	at := i + j + 1
	var add []string
	for _, e := range spec.Entities {
		if strings.Contains(old, fmt.Sprintf("%q:", e.Plural)) {
			continue
		}
		idx := `IndexModel([("owner_id", ASCENDING), ("created_at", DESCENDING)], name="owner_created")`
		line := fmt.Sprintf("    %q: [%s],", e.Plural, idx)
		if len(line) > pyLineLength {
			line = fmt.Sprintf("    %q: [\n        %s,\n    ],", e.Plural, idx)
		}
		add = append(add, line+"\n")
	}
	return old[:at] + strings.Join(add, "") + old[at:], nil
}

func patchReactApp(old string, spec Spec) (string, error) {
	s := old
	for _, e := range spec.Entities {
		n := namesOf(e)
		if strings.Contains(s, n.Es+"Page") {
			continue
		}
		imp := fmt.Sprintf("import { %sPage } from \"./pages/%sPage\";\n", n.Es, n.Es)
		if i := strings.Index(s, "import { HomePage }"); i >= 0 {
			end := strings.Index(s[i:], "\n") + i + 1
			s = s[:end] + imp + s[end:]
		} else {
			locs := importRE.FindAllStringIndex(s, -1)
			if len(locs) == 0 {
				return "", fmt.Errorf("frontend/src/App.tsx has no imports")
			}
			s = s[:locs[len(locs)-1][1]] + imp + s[locs[len(locs)-1][1]:]
		}
		i := strings.Index(s, "const ROUTES")
		if i < 0 {
			return "", fmt.Errorf("frontend/src/App.tsx has no ROUTES")
		}
		j := strings.Index(s[i:], "\n};")
		at := i + j + 1
		s = s[:at] + fmt.Sprintf("  \"/%s\": %sPage,\n", n.kebab, n.Es) + s[at:]
	}
	var links []string
	for _, e := range spec.Entities {
		n := namesOf(e)
		link := fmt.Sprintf("<Link to=\"/%s\">%s</Link>", n.kebab, n.labels)
		if !strings.Contains(s, link) {
			links = append(links, link)
		}
	}
	if len(links) == 0 {
		return s, nil
	}
	itemLink := `<Link to="/items">Items</Link>`
	if i := strings.Index(s, itemLink); i >= 0 {
		indent := s[strings.LastIndex(s[:i], "\n")+1 : i]
		return s[:i] + strings.Join(links, "\n"+indent) + s[i+len(itemLink):], nil
	}
	i := strings.Index(s, "</nav>")
	if i < 0 {
		return "", fmt.Errorf("frontend/src/App.tsx has no <nav>")
	}
	indent := s[strings.LastIndex(s[:i], "\n")+1 : i]
	return s[:i] + "  " + strings.Join(links, "\n"+indent+"  ") + "\n" + indent + s[i:], nil
}

func reactHome(spec Spec) string {
	var links, labels []string
	for i, e := range spec.Entities {
		n := namesOf(e)
		class := "button"
		if i == 0 {
			class = "button button-primary"
		}
		links = append(links, fmt.Sprintf("        <Link to=\"/%s\" className=%q>\n          Open %s\n        </Link>\n", n.kebab, class, n.lowers))
		labels = append(labels, n.lowers)
	}
	what := labels[0]
	if len(labels) > 1 {
		what = strings.Join(labels[:len(labels)-1], ", ") + " and " + labels[len(labels)-1]
	}
	return fmt.Sprintf(`import { APP_NAME } from "../app";
import { Link } from "../router";

export function HomePage() {
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
