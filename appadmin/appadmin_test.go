package appadmin

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/store/storetest"
	"github.com/mgx-dev/mgx/users"
)

type fixture struct {
	srv   *httptest.Server
	users *users.Store
	appDB *mongo.Database
	audit *mongo.Collection
}

var (
	owner    = identity.Principal{UserID: "owner-1", Email: "o@x", Realm: "mgx"}
	stranger = identity.Principal{UserID: "other", Email: "s@x", Realm: "mgx"}
	admin    = identity.Principal{UserID: "admin-1", Email: "a@x", Realm: "mgx", Admin: true}
)

// newFixture serves the handler on embedded FerretDB; the caller is chosen per request
// with the X-Test-As header, standing in for the bearer-token middleware.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := storetest.New(t)
	ctx := t.Context()
	us, err := users.New(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	box, _ := apps.NewSecretBox(bytes.Repeat([]byte{7}, 32))
	if err := apps.EnsureIndexes(ctx, st); err != nil {
		t.Fatal(err)
	}
	as := apps.NewStore(st.DB(), box)
	if _, err := as.Create(ctx, apps.App{Slug: "shop", Name: "Shop", Framework: "nextjs", OwnerID: owner.UserID, WorkspaceID: "w1"}); err != nil {
		t.Fatal(err)
	}
	appDB := st.Database(st.DB().Name() + "_app_shop")
	t.Cleanup(func() { _ = appDB.Drop(t.Context()) })
	h := &Handler{Apps: as, Users: us, AppsDB: func(string) *mongo.Database { return appDB },
		Audit: st.DB().Collection("audit"), MaxDocumentBytes: 4096}
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Test-As") {
		case "owner":
			r = r.WithContext(identity.With(r.Context(), owner))
		case "admin":
			r = r.WithContext(identity.With(r.Context(), admin))
		case "stranger":
			r = r.WithContext(identity.With(r.Context(), stranger))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, users: us, appDB: appDB, audit: st.DB().Collection("audit")}
}

func (f *fixture) do(t *testing.T, as, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("X-Test-As", as)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAppUsers(t *testing.T) {
	f := newFixture(t)
	code, body := f.do(t, "owner", "POST", "/api/apps/shop/users", `{"email":"ann@example.com","password":"secret-pass","name":"Ann"}`)
	if code != 201 || strings.Contains(body, "password") || strings.Contains(body, "argon2") {
		t.Fatalf("create: %d %s", code, body)
	}
	var u userJSON
	_ = json.Unmarshal([]byte(body), &u)
	if u.Realm != "shop" {
		t.Fatalf("realm %q, want the app's slug", u.Realm)
	}
	for i, email := range []string{"bob@example.com", "cid@example.com"} {
		if c, b := f.do(t, "admin", "POST", "/api/apps/shop/users", `{"email":"`+email+`","password":"secret-pass","name":"U`+string(rune('0'+i))+`"}`); c != 201 {
			t.Fatalf("create %s: %d %s", email, c, b)
		}
	}
	tests := []struct {
		name, as, method, path, body string
		code                         int
		want                         string
	}{
		{"list", "owner", "GET", "/api/apps/shop/users", "", 200, `"total":3`},
		{"search", "owner", "GET", "/api/apps/shop/users?q=bob", "", 200, `"total":1`},
		{"page", "owner", "GET", "/api/apps/shop/users?limit=1&skip=2", "", 200, "cid@"},
		{"bad paging", "owner", "GET", "/api/apps/shop/users?limit=x", "", 400, "non-negative"},
		{"stranger gets 404", "stranger", "GET", "/api/apps/shop/users", "", 404, "no such app"},
		{"unknown app", "owner", "GET", "/api/apps/nope/users", "", 404, "no such app"},
		{"no caller", "", "GET", "/api/apps/shop/users", "", 401, ""},
		{"duplicate email", "owner", "POST", "/api/apps/shop/users", `{"email":"ann@example.com","password":"secret-pass"}`, 409, "already exists"},
		{"short password", "owner", "POST", "/api/apps/shop/users", `{"email":"z@example.com","password":"x"}`, 400, "at least 8"},
		{"rename", "owner", "PATCH", "/api/apps/shop/users/" + u.ID, `{"name":"Annie"}`, 200, `"name":"Annie"`},
		{"disable", "owner", "PATCH", "/api/apps/shop/users/" + u.ID, `{"disabled":true,"revoke_tokens":true}`, 200, `"disabled":true`},
		{"empty patch", "owner", "PATCH", "/api/apps/shop/users/" + u.ID, `{}`, 400, "nothing to change"},
		{"unknown field", "owner", "PATCH", "/api/apps/shop/users/" + u.ID, `{"admin":true}`, 400, "unknown field"},
		{"stranger cannot patch", "stranger", "PATCH", "/api/apps/shop/users/" + u.ID, `{"name":"x"}`, 404, ""},
		{"delete", "owner", "DELETE", "/api/apps/shop/users/" + u.ID, "", 204, ""},
		{"deleted is gone", "owner", "GET", "/api/apps/shop/users/" + u.ID, "", 404, "no such user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.as, tc.method, tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s; want %d containing %q", code, body, tc.code, tc.want)
			}
		})
	}
	// A new password works, and the user of one realm is not in another.
	bob, _, _ := f.users.List(t.Context(), "shop", users.ListOptions{Search: "bob"})
	if c, b := f.do(t, "owner", "PATCH", "/api/apps/shop/users/"+bob[0].ID, `{"password":"another-pass"}`); c != 200 {
		t.Fatalf("set password: %d %s", c, b)
	}
	if n, _ := f.audit.CountDocuments(t.Context(), bson.M{"app": "shop"}); n < 6 {
		t.Fatalf("audit has %d entries for the app's changes", n)
	}
}

func TestPlatformLastAdminRefused(t *testing.T) {
	f := newFixture(t)
	a, err := f.users.Create(t.Context(), users.NewUser{Realm: "mgx", Email: "root@x.io", Password: "secret-pass", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if c, b := f.do(t, "owner", "DELETE", "/api/users/"+a.ID, ""); c != 403 {
		t.Fatalf("non-admin: %d %s", c, b)
	}
	if c, b := f.do(t, "admin", "DELETE", "/api/users/"+a.ID, ""); c != 409 || !strings.Contains(b, "last platform admin") {
		t.Fatalf("last admin: %d %s", c, b)
	}
}

func TestAppDatabase(t *testing.T) {
	f := newFixture(t)
	code, body := f.do(t, "owner", "POST", "/api/apps/shop/db/collections/items/documents", `{"title":"a","n":1,"at":{"$date":"2026-01-02T03:04:05Z"}}`)
	if code != 201 || !strings.Contains(body, `"$oid"`) {
		t.Fatalf("insert: %d %s", code, body)
	}
	var ins struct {
		ID struct {
			OID string `json:"$oid"`
		} `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &ins)
	for _, d := range []string{`{"_id":"k1","title":"b","n":2}`, `{"title":"c","n":3}`} {
		if c, b := f.do(t, "owner", "POST", "/api/apps/shop/db/collections/items/documents", d); c != 201 {
			t.Fatalf("insert %s: %d %s", d, c, b)
		}
	}
	q := func(k, v string) string { return k + "=" + url.QueryEscape(v) }
	big := `{"title":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name, as, method, path, body string
		code                         int
		want                         string
	}{
		{"collections with counts", "owner", "GET", "/api/apps/shop/db/collections", "", 200, `{"name":"items","count":3}`},
		{"filter and sort", "owner", "GET", "/api/apps/shop/db/collections/items/documents?" + q("filter", `{"n":{"$gte":2}}`) + "&" + q("sort", `{"n":-1}`), "", 200, `"total":2`},
		{"projection", "owner", "GET", "/api/apps/shop/db/collections/items/documents?" + q("projection", `{"title":1}`) + "&" + q("filter", `{"_id":"k1"}`), "", 200, `[{"_id":"k1","title":"b"}]`},
		{"dates as extended JSON", "owner", "GET", "/api/apps/shop/db/collections/items/documents?" + q("filter", `{"n":1}`), "", 200, `{"$date":"2026-01-02T03:04:05Z"}`},
		{"get by ObjectId", "owner", "GET", "/api/apps/shop/db/collections/items/documents/" + ins.ID.OID, "", 200, `"title":"a"`},
		{"get by string id", "owner", "GET", "/api/apps/shop/db/collections/items/documents/k1", "", 200, `"title":"b"`},
		{"replace", "owner", "PUT", "/api/apps/shop/db/collections/items/documents/k1", `{"title":"B","n":20}`, 200, `"n":20`},
		{"malformed filter", "owner", "GET", "/api/apps/shop/db/collections/items/documents?" + q("filter", `{"n":`), "", 400, "filter is not a JSON object"},
		{"$where refused", "owner", "GET", "/api/apps/shop/db/collections/items/documents?" + q("filter", `{"$where":"this.n > 1"}`), "", 400, "server-side JavaScript"},
		{"nested $function refused", "owner", "GET", "/api/apps/shop/db/collections/items/documents?" + q("filter", `{"$expr":{"$function":{"body":"x","args":[],"lang":"js"}}}`), "", 400, "$function"},
		{"unknown operator", "owner", "GET", "/api/apps/shop/db/collections/items/documents?" + q("filter", `{"n":{"$frobnicate":1}}`), "", 400, "frobnicate"},
		{"malformed document", "owner", "POST", "/api/apps/shop/db/collections/items/documents", `{"title":`, 400, "not a JSON object"},
		{"$ field refused", "owner", "POST", "/api/apps/shop/db/collections/items/documents", `{"$set":{"a":1}}`, 400, "may not start with $"},
		{"oversized document", "owner", "POST", "/api/apps/shop/db/collections/items/documents", big, 413, "over 4096 bytes"},
		{"duplicate key", "owner", "POST", "/api/apps/shop/db/collections/items/documents", `{"_id":"k1"}`, 400, "duplicate"},
		{"system collection refused", "owner", "GET", "/api/apps/shop/db/collections/system.users/documents", "", 400, "system collection"},
		{"stranger", "stranger", "GET", "/api/apps/shop/db/collections", "", 404, ""},
		{"create index", "owner", "POST", "/api/apps/shop/db/collections/items/indexes", `{"keys":{"title":1},"unique":true}`, 201, "title_1"},
		{"bad index", "owner", "POST", "/api/apps/shop/db/collections/items/indexes", `{"keys":{"title":"text"}}`, 400, "want 1 or -1"},
		{"list indexes", "owner", "GET", "/api/apps/shop/db/collections/items/indexes", "", 200, "title_1"},
		{"unique index enforced", "owner", "POST", "/api/apps/shop/db/collections/items/documents", `{"title":"c"}`, 400, "duplicate"},
		{"drop index", "owner", "DELETE", "/api/apps/shop/db/collections/items/indexes/title_1", "", 204, ""},
		{"_id index kept", "owner", "DELETE", "/api/apps/shop/db/collections/items/indexes/_id_", "", 400, "cannot be dropped"},
		{"export", "owner", "GET", "/api/apps/shop/db/collections/items/export", "", 200, `"title":"B"`},
		{"delete", "owner", "DELETE", "/api/apps/shop/db/collections/items/documents/k1", "", 204, ""},
		{"delete again", "owner", "DELETE", "/api/apps/shop/db/collections/items/documents/k1", "", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, tc.as, tc.method, tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s; want %d containing %q", code, body, tc.code, tc.want)
			}
		})
	}
	// Nothing a refused request carried was written.
	if n, _ := f.appDB.Collection("items").CountDocuments(t.Context(), bson.M{}); n != 2 {
		t.Fatalf("items has %d documents, want 2", n)
	}
}

func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":{"$where":"1"}}`, `{"a":[{"$function":{}}]}`, `{"$date":1}`, `{"a":{"$oid":"zz"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDocument([]byte(s), "filter")
		if err == nil && refuseJS(d, "x") != nil {
			t.Fatal("accepted a document with JavaScript")
		}
	})
}
