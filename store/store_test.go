package store_test

import (
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

func TestTranslate(t *testing.T) {
	st := storetest.New(t)
	ctx := t.Context()
	coll := st.DB().Collection("things")
	if err := st.EnsureIndexes(ctx, "things", mongo.IndexModel{
		Keys: bson.D{{Key: "name", Value: 1}}, Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatal(err)
	}
	// Creating the same index again is a no-op, as start-up relies on.
	if err := st.EnsureIndexes(ctx, "things", mongo.IndexModel{
		Keys: bson.D{{Key: "name", Value: 1}}, Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatalf("second EnsureIndexes: %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.M{"name": "a"}); err != nil {
		t.Fatal(err)
	}
	_, err := coll.InsertOne(ctx, bson.M{"name": "a"})
	if !errors.Is(store.Translate(err), store.ErrConflict) {
		t.Fatalf("duplicate insert: got %v, want ErrConflict", err)
	}
	err = coll.FindOne(ctx, bson.M{"name": "missing"}).Err()
	if !errors.Is(store.Translate(err), store.ErrNotFound) {
		t.Fatalf("missing doc: got %v, want ErrNotFound", err)
	}
	if store.Translate(nil) != nil {
		t.Fatal("Translate(nil) != nil")
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := store.NewID()
		if len(id) != 32 || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
	}
	if len(store.ShortID()) != 16 {
		t.Fatal("ShortID length")
	}
}

// FerretDB v1 dropped the connection when one createIndexes named several indexes that
// already existed: every restart of MGX did that.
func TestEnsureIndexesTwiceWithSeveral(t *testing.T) {
	st := storetest.New(t)
	models := []mongo.IndexModel{
		{Keys: bson.D{{Key: "slug", Value: 1}}, Options: options.Index().SetUnique(true).SetName("slug")},
		{Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}}, Options: options.Index().SetName("owner")},
		{Keys: bson.D{{Key: "other", Value: 1}}},
	}
	for i := range 3 {
		if err := st.EnsureIndexes(t.Context(), "apps", models...); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	specs, err := st.DB().Collection("apps").Indexes().ListSpecifications(t.Context())
	if err != nil || len(specs) != 4 {
		t.Fatalf("indexes: %v %v", specs, err)
	}
}
