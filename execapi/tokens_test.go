package execapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mgx-dev/mgx/execapi"
	"github.com/mgx-dev/mgx/store/storetest"
)

func TestTokens(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	if err := execapi.EnsureIndexes(ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := execapi.EnsureIndexes(ctx, st); err != nil { // a second start
		t.Fatalf("EnsureIndexes again: %v", err)
	}
	tokens := execapi.NewTokens(st.DB())
	coll := st.DB().Collection("exec_tokens")
	hour := time.Now().Add(time.Hour)

	g1 := execapi.Grant{RunID: "r1", SessionID: "s1", Slug: "shop", Attempt: 1, ExpiresAt: hour}
	tok1, err := tokens.Issue(ctx, g1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok1, "mgxrun_") || len(tok1) < 40 {
		t.Errorf("token %q: want mgxrun_ and 32 random bytes", tok1)
	}
	got, err := tokens.Lookup(ctx, tok1)
	if err != nil || got.RunID != "r1" || got.SessionID != "s1" || got.Slug != "shop" || got.Attempt != 1 || !got.ExpiresAt.Equal(hour.UTC().Truncate(time.Millisecond)) {
		t.Fatalf("Lookup = %+v %v", got, err)
	}
	// Only the hash is stored.
	raw, err := coll.FindOne(ctx, bson.M{"run_id": "r1"}).Raw()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw.String(), strings.TrimPrefix(tok1, "mgxrun_")) {
		t.Errorf("the stored document holds the token: %s", raw)
	}

	// Another run's token, an expired one; a new attempt of r1 revokes its first token
	// and sweeps expired ones.
	tok2, err := tokens.Issue(ctx, execapi.Grant{RunID: "r2", Slug: "shop", Attempt: 1, ExpiresAt: hour})
	if err != nil {
		t.Fatal(err)
	}
	old, err := tokens.Issue(ctx, execapi.Grant{RunID: "r3", Slug: "shop", Attempt: 1, ExpiresAt: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Lookup(ctx, old); !errors.Is(err, execapi.ErrInvalidToken) {
		t.Errorf("expired token: %v", err)
	}
	g1.Attempt = 2
	tok1b, err := tokens.Issue(ctx, g1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		token   string
		wantErr bool
	}{
		{"first attempt revoked", tok1, true},
		{"second attempt", tok1b, false},
		{"other run untouched", tok2, false},
		{"expired", old, true},
		{"unknown", "mgxrun_" + strings.Repeat("x", 43), true},
		{"not a run token", "eyJhbGciOi.x.y", true},
		{"empty", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokens.Lookup(ctx, tc.token)
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, execapi.ErrInvalidToken)) {
				t.Errorf("Lookup: %v, want error %v", err, tc.wantErr)
			}
		})
	}
	if n, _ := coll.CountDocuments(ctx, bson.M{}); n != 2 {
		t.Errorf("%d tokens stored, want 2 (revoked and expired ones deleted)", n)
	}
	if err := tokens.Revoke(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Lookup(ctx, tok2); !errors.Is(err, execapi.ErrInvalidToken) {
		t.Errorf("revoked token: %v", err)
	}
	if _, err := tokens.Issue(ctx, execapi.Grant{RunID: "r4"}); err == nil {
		t.Error("Issue without slug and expiry succeeded")
	}
}
