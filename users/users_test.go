package users_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/mgx-dev/mgx/store/storetest"
	"github.com/mgx-dev/mgx/users"
)

type revokes struct{ ids []string }

func (r *revokes) RevokeUser(_ context.Context, id string) error {
	r.ids = append(r.ids, id)
	return nil
}

func newStore(t *testing.T) (*users.Store, *revokes) {
	t.Helper()
	s, err := users.New(t.Context(), storetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &revokes{}
	s.Revoker = r
	return s, r
}

func TestCreateValidation(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	ok := users.NewUser{Realm: "mgx", Email: "Ada@Example.com ", Name: " Ada ", Password: "long enough pw"}
	u, err := s.Create(ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ada@example.com" || u.Name != "Ada" || u.PasswordHash == "" || u.PasswordHash == ok.Password {
		t.Fatalf("created %+v", u)
	}
	cases := map[string]struct {
		nu   users.NewUser
		want error
	}{
		"duplicate email, other case": {users.NewUser{Realm: "mgx", Email: "ADA@example.com", Password: "long enough pw"}, users.ErrEmailTaken},
		"short password":              {users.NewUser{Realm: "mgx", Email: "b@example.com", Password: "short"}, users.ErrInvalid},
		"not an email":                {users.NewUser{Realm: "mgx", Email: "bob", Password: "long enough pw"}, users.ErrInvalid},
		"email with a display name":   {users.NewUser{Realm: "mgx", Email: "Bob <b@example.com>", Password: "long enough pw"}, users.ErrInvalid},
		"bad realm":                   {users.NewUser{Realm: "../x", Email: "b@example.com", Password: "long enough pw"}, users.ErrInvalid},
		"admin outside the platform":  {users.NewUser{Realm: "todo", Email: "b@example.com", Password: "long enough pw", Admin: true}, users.ErrInvalid},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Create(ctx, c.nu); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// The same email in another realm is another person.
	if _, err := s.Create(ctx, users.NewUser{Realm: "todo", Email: "ada@example.com", Password: "long enough pw"}); err != nil {
		t.Fatalf("same email, other realm: %v", err)
	}
}

func TestListSearchPaging(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	for i := range 7 {
		if _, err := s.Create(ctx, users.NewUser{Realm: "shop", Email: fmt.Sprintf("u%d@example.com", i), Name: fmt.Sprintf("User %d", i), Password: "long enough pw"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, users.NewUser{Realm: "mgx", Email: "u9@example.com", Password: "long enough pw"}); err != nil {
		t.Fatal(err)
	}
	page, total, err := s.List(ctx, "shop", users.ListOptions{Limit: 3, Offset: 3})
	if err != nil || total != 7 || len(page) != 3 || page[0].Email != "u3@example.com" {
		t.Fatalf("page: %d %v %v", total, page, err)
	}
	found, total, err := s.List(ctx, "shop", users.ListOptions{Search: "user 5"})
	if err != nil || total != 1 || found[0].Email != "u5@example.com" {
		t.Fatalf("search: %d %v %v", total, found, err)
	}
	// Regex characters are literal.
	if _, total, _ := s.List(ctx, "shop", users.ListOptions{Search: ".*"}); total != 0 {
		t.Fatalf("regex search matched %d", total)
	}
}

func TestLastAdminAndRevocation(t *testing.T) {
	s, rev := newStore(t)
	ctx := t.Context()
	if created, err := s.EnsureAdmin(ctx, "admin@mgx.local", ""); err == nil || created {
		t.Fatal("empty admin password accepted")
	}
	created, err := s.EnsureAdmin(ctx, "admin@mgx.local", "first admin password")
	if err != nil || !created {
		t.Fatalf("EnsureAdmin: %v %v", created, err)
	}
	if created, err := s.EnsureAdmin(ctx, "admin@mgx.local", "other password"); err != nil || created {
		t.Fatalf("second EnsureAdmin: %v %v", created, err)
	}
	admin, _ := s.GetByEmail(ctx, "mgx", "admin@mgx.local")
	if err := s.Delete(ctx, "mgx", admin.ID); !errors.Is(err, users.ErrLastAdmin) {
		t.Fatalf("delete last admin: %v", err)
	}
	if _, err := s.SetDisabled(ctx, "mgx", admin.ID, true); !errors.Is(err, users.ErrLastAdmin) {
		t.Fatalf("disable last admin: %v", err)
	}
	if _, err := s.SetAdmin(ctx, admin.ID, false); !errors.Is(err, users.ErrLastAdmin) {
		t.Fatalf("demote last admin: %v", err)
	}
	second, err := s.Create(ctx, users.NewUser{Realm: "mgx", Email: "b@mgx.local", Password: "long enough pw", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "mgx", admin.ID); err != nil {
		t.Fatalf("delete with another admin left: %v", err)
	}
	if _, err := s.Get(ctx, "mgx", admin.ID); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	if _, err := s.UpdateName(ctx, "mgx", second.ID, "Bea"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "mgx", second.ID, "x"); !errors.Is(err, users.ErrInvalid) {
		t.Fatalf("weak new password: %v", err)
	}
	if len(rev.ids) != 1 || rev.ids[0] != admin.ID {
		t.Fatalf("revocations %v", rev.ids)
	}
	// Wrong realm for an id is not found.
	if _, err := s.Get(ctx, "shop", second.ID); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("other realm: %v", err)
	}
}

func TestEmailLookup(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	s, err := users.New(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Create(ctx, users.NewUser{Realm: "shop", Email: "a@example.com", Password: "long enough pw"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetByEmail(ctx, "shop", " A@Example.com"); err != nil || got.ID != u.ID {
		t.Fatalf("by email: %v %v", got, err)
	}
	if _, err := s.GetByEmail(ctx, "mgx", "a@example.com"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("other realm: %v", err)
	}
	// A deleted user's email can be used again.
	if err := s.Delete(ctx, "shop", u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, users.NewUser{Realm: "shop", Email: "a@example.com", Password: "long enough pw"}); err != nil {
		t.Fatalf("re-create: %v", err)
	}
	if err := s.DeleteRealm(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetByEmail(ctx, "shop", "a@example.com"); !errors.Is(err, users.ErrNotFound) {
		t.Fatalf("after DeleteRealm: %v", err)
	}
	if err := s.DeleteRealm(ctx, "mgx"); !errors.Is(err, users.ErrInvalid) {
		t.Fatalf("DeleteRealm(mgx): %v", err)
	}
	// Users written without a lookup row (older data) are found after a restart.
	if _, err := st.DB().Collection(users.Collection).InsertOne(ctx, users.User{ID: "old1", Realm: "mgx", Email: "old@example.com"}); err != nil {
		t.Fatal(err)
	}
	s2, err := users.New(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.GetByEmail(ctx, "mgx", "old@example.com"); err != nil || got.ID != "old1" {
		t.Fatalf("backfilled: %v %v", got, err)
	}
}
