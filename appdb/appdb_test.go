package appdb

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store/storetest"
)

var testKey = bytes.Repeat([]byte{7}, 32)

func TestAppURI(t *testing.T) {
	for _, tc := range []struct {
		name, base, want, err string
	}{
		{name: "admin credentials replaced",
			base: "mongodb://root:s3cret@db.internal:27017/admin?authSource=admin",
			want: "mongodb://app_a:pw@db.internal:27017/app_a?authSource=app_a"},
		{name: "replica set and TLS kept, mechanism dropped",
			base: "mongodb://root:x@a:1,b:2/?replicaSet=rs0&tls=true&authMechanism=MONGODB-X509",
			want: "mongodb://app_a:pw@a:1,b:2/app_a?authSource=app_a&replicaSet=rs0&tls=true"},
		{name: "srv", base: "mongodb+srv://root:x@cluster.example.net/",
			want: "mongodb+srv://app_a:pw@cluster.example.net/app_a?authSource=app_a"},
		{name: "no credentials in base", base: "mongodb://127.0.0.1:27017",
			want: "mongodb://app_a:pw@127.0.0.1:27017/app_a?authSource=app_a"},
		{name: "not mongodb", base: "http://db:27017", err: "scheme"},
		{name: "no host", base: "mongodb:///x", err: "no host"},
		{name: "garbage", base: "mongodb://%zz", err: "URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AppURI(tc.base, "app_a", "pw", "app_a")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("AppURI(%q) = %q, %v; want an error with %q", tc.base, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || strings.Contains(got, "s3cret") || strings.Contains(got, "root") {
				t.Fatalf("AppURI(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
			}
		})
	}
	for _, db := range []string{"", "a/b", "a.b", "a b", "$x"} {
		if _, err := AppURI("mongodb://h", "u", "p", db); err == nil {
			t.Errorf("database %q accepted", db)
		}
	}
}

// Whatever the base, an accepted URI carries exactly the app's credentials (so none of the
// administrator's) and the app's database.
func FuzzAppURI(f *testing.F) {
	f.Add("mongodb://root:adminpw@h:1/admin?authSource=admin", "p@ss:/?#w")
	f.Add("mongodb+srv://r:adminpw@c.example/?retryWrites=true", "")
	f.Add("mongodb://h", "%2F")
	f.Fuzz(func(t *testing.T, base, pw string) {
		got, err := AppURI(base, "app_x", pw, "app_x")
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("AppURI(%q) = %q: does not parse: %v", base, got, err)
		}
		if p, _ := u.User.Password(); u.User.Username() != "app_x" || p != pw {
			t.Fatalf("AppURI(%q) = %q: user %q password %q", base, got, u.User.Username(), p)
		}
		if u.Path != "/app_x" || u.Query().Get("authSource") != "app_x" {
			t.Fatalf("AppURI(%q) = %q: database/authSource wrong", base, got)
		}
	})
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": ModeAuto, "auto": ModeAuto, " ON ": ModeOn, "off": ModeOff} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseMode("yes"); err == nil || !strings.Contains(err.Error(), "MGX_APPS_DB_USERS") {
		t.Errorf("ParseMode(yes) = %v; want an error naming the variable", err)
	}
}

func TestPasswordIsStablePerAppAndKey(t *testing.T) {
	p := &Provisioner{cfg: Config{Key: testKey}}
	a1, a2 := p.Password("app-1"), p.Password("app-1")
	if a1 != a2 || len(a1) != 64 {
		t.Fatalf("Password not stable: %q %q", a1, a2)
	}
	if p.Password("app-2") == a1 {
		t.Fatal("two apps share a password")
	}
	other := &Provisioner{cfg: Config{Key: bytes.Repeat([]byte{8}, 32)}}
	if other.Password("app-1") == a1 {
		t.Fatal("another key derives the same password")
	}
}

// On embedded FerretDB (the default) there are no roles: auto shares the URI and says why,
// on refuses to start.
func TestFerretDBHasNoPerAppUsers(t *testing.T) {
	st := storetest.New(t)
	uri := storetest.URI(t)
	p, err := New(t.Context(), Config{Client: st.Client(), URI: uri, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() || !strings.Contains(p.Status(), "FerretDB") {
		t.Fatalf("auto on FerretDB: enabled=%v status %q", p.Enabled(), p.Status())
	}
	got, err := p.Ensure(t.Context(), "id1", "app_a")
	if err != nil || got != uri {
		t.Fatalf("Ensure = %q, %v; want the shared URI %q", got, err, uri)
	}
	if err := p.Drop(t.Context(), "id1", "app_a"); err != nil {
		t.Fatal(err)
	}
	_, err = New(t.Context(), Config{Client: st.Client(), URI: uri, Key: testKey, Mode: ModeOn})
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "FerretDB") {
		t.Fatalf("ModeOn on FerretDB: %v; want ErrUnsupported naming FerretDB", err)
	}
	off, err := New(t.Context(), Config{URI: uri, Mode: ModeOff})
	if err != nil || off.Enabled() {
		t.Fatalf("ModeOff: %v enabled=%v", err, off != nil && off.Enabled())
	}
}

// TestRealMongoDB needs a MongoDB with access control and an admin URI in
// MGX_TEST_APPS_MONGODB_URI (e.g. mongodb://root:pw@127.0.0.1:27017/?authSource=admin).
// None can be installed on the machines this was written on; the test says so and skips.
func TestRealMongoDB(t *testing.T) {
	admin := os.Getenv("MGX_TEST_APPS_MONGODB_URI")
	if admin == "" {
		t.Skip("set MGX_TEST_APPS_MONGODB_URI to an admin URI of a MongoDB with access control to test per-app users")
	}
	ctx := t.Context()
	client, err := mongo.Connect(options.Client().ApplyURI(admin))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	p, err := New(ctx, Config{Client: client, URI: admin, Key: testKey, Mode: ModeOn})
	if err != nil {
		t.Fatal(err)
	}
	dbA, dbB := "app_mgxtest_a", "app_mgxtest_b"
	uriA, err := p.Ensure(ctx, "id-a", dbA)
	if err != nil {
		t.Fatal(err)
	}
	uriB, err := p.Ensure(ctx, "id-b", dbB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c := context.Background()
		_ = p.Drop(c, "id-a", dbA)
		_ = p.Drop(c, "id-b", dbB)
		_ = client.Database(dbA).Drop(c)
		_ = client.Database(dbB).Drop(c)
	})
	connect := func(uri string) *mongo.Client {
		c, err := mongo.Connect(options.Client().ApplyURI(uri))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
		return c
	}
	a := connect(uriA)
	if _, err := a.Database(dbA).Collection("items").InsertOne(ctx, bson.M{"x": 1}); err != nil {
		t.Fatalf("app A writes its own database: %v", err)
	}
	if _, err := connect(uriB).Database(dbB).Collection("items").InsertOne(ctx, bson.M{"x": 2}); err != nil {
		t.Fatalf("app B writes its own database: %v", err)
	}
	unauthorized := func(err error) bool {
		var ce mongo.CommandError
		return errors.As(err, &ce) && ce.Code == 13
	}
	if _, err := a.Database(dbB).Collection("items").InsertOne(ctx, bson.M{"x": 3}); !unauthorized(err) {
		t.Fatalf("app A wrote app B's database: %v; want Unauthorized", err)
	}
	if err := a.Database(dbB).Collection("items").FindOne(ctx, bson.M{}).Err(); !unauthorized(err) {
		t.Fatalf("app A read app B's database: %v; want Unauthorized", err)
	}
	if _, err := a.Database("mgx").Collection("users").CountDocuments(ctx, bson.M{}); !unauthorized(err) {
		t.Fatalf("app A read MGX's database: %v; want Unauthorized", err)
	}
	// A second provisioner (another instance, or after a restart) updates the same user.
	p2, err := New(ctx, Config{Client: client, URI: admin, Key: testKey, Mode: ModeOn})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := p2.Ensure(ctx, "id-a", dbA); err != nil || again != uriA {
		t.Fatalf("Ensure again = %q, %v; want %q", again, err, uriA)
	}
	if err := p.Drop(ctx, "id-a", dbA); err != nil {
		t.Fatal(err)
	}
	if err := p.Drop(ctx, "id-a", dbA); err != nil {
		t.Fatalf("second Drop: %v", err)
	}
}
