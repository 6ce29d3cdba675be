package gateway

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
)

// Collection holds the routes.
const Collection = "gateway_routes"

// routeStore is the MongoDB side of the route model.
type routeStore struct {
	st *store.Store
}

func (s routeStore) coll() *mongo.Collection { return s.st.DB().Collection(Collection) }

func (s routeStore) ensureIndexes(ctx context.Context) error {
	return s.st.EnsureIndexes(ctx, Collection,
		mongo.IndexModel{Keys: bson.D{{Key: "prefix", Value: 1}}, Options: options.Index().SetUnique(true).SetName("prefix_unique")},
		mongo.IndexModel{Keys: bson.D{{Key: "slug", Value: 1}, {Key: "kind", Value: 1}}, Options: options.Index().SetName("slug_kind")},
	)
}

func (s routeStore) upsert(ctx context.Context, r Route) error {
	r.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
	_, err := s.coll().ReplaceOne(ctx, bson.M{"_id": r.ID}, r, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("upsert route %s: %w", r.ID, store.Translate(err))
	}
	return nil
}

func (s routeStore) get(ctx context.Context, id string) (Route, error) {
	var r Route
	if err := s.coll().FindOne(ctx, bson.M{"_id": id}).Decode(&r); err != nil {
		return Route{}, fmt.Errorf("get route %s: %w", id, store.Translate(err))
	}
	r.Normalize()
	return r, nil
}

func (s routeStore) delete(ctx context.Context, id string) error {
	if _, err := s.coll().DeleteOne(ctx, bson.M{"_id": id}); err != nil {
		return fmt.Errorf("delete route %s: %w", id, store.Translate(err))
	}
	return nil
}

func (s routeStore) deleteApp(ctx context.Context, slug string, kind Kind) error {
	f := bson.M{"slug": slug}
	if kind != "" {
		f["kind"] = kind
	} else {
		f["kind"] = bson.M{"$in": bson.A{KindDev, KindProd}}
	}
	if _, err := s.coll().DeleteMany(ctx, f); err != nil {
		return fmt.Errorf("delete routes of %s: %w", slug, store.Translate(err))
	}
	return nil
}

func (s routeStore) list(ctx context.Context) ([]Route, error) {
	cur, err := s.coll().Find(ctx, bson.M{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", store.Translate(err))
	}
	var out []Route
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for i := range out {
		out[i].Normalize()
	}
	return out, nil
}
