package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
)

const throttleCollection = "oauth_throttle"

// throttle counts failed sign-ins in fixed windows, per account ("acct:<realm>:<email>",
// whether or not the account exists, so a lock says nothing about existence) and per client
// address ("addr:<ip>"). Counters live in MongoDB so every provider instance shares them.
type throttle struct {
	coll       *mongo.Collection
	window     time.Duration
	perAccount int
	perAddress int
	now        func() time.Time
}

type throttleDoc struct {
	Key         string    `bson:"_id"`
	Failures    int       `bson:"failures"`
	WindowStart time.Time `bson:"window_start"`
}

func newThrottle(ctx context.Context, st *store.Store, window time.Duration, perAccount, perAddress int) (*throttle, error) {
	if err := st.EnsureIndexes(ctx, throttleCollection, mongo.IndexModel{
		Keys: bson.D{{Key: "window_start", Value: 1}}, Options: options.Index().SetName("window_start"),
	}); err != nil {
		return nil, err
	}
	return &throttle{coll: st.DB().Collection(throttleCollection), window: window,
		perAccount: perAccount, perAddress: perAddress, now: time.Now}, nil
}

func accountKey(realm, email string) string { return "acct:" + realm + ":" + email }
func addressKey(addr string) string         { return "addr:" + addr }

// blocked reports how long the caller must wait, zero when not throttled.
func (t *throttle) blocked(ctx context.Context, realm, email, addr string) (time.Duration, error) {
	cur, err := t.coll.Find(ctx, bson.M{"_id": bson.M{"$in": bson.A{accountKey(realm, email), addressKey(addr)}}})
	if err != nil {
		return 0, fmt.Errorf("read throttle: %w", err)
	}
	var docs []throttleDoc
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("read throttle: %w", err)
	}
	now := t.now()
	var wait time.Duration
	for _, d := range docs {
		limit := t.perAccount
		if d.Key == addressKey(addr) {
			limit = t.perAddress
		}
		end := d.WindowStart.Add(t.window)
		if d.Failures >= limit && now.Before(end) {
			wait = max(wait, end.Sub(now))
		}
	}
	return wait, nil
}

// fail counts one failed sign-in against the account and the address.
func (t *throttle) fail(ctx context.Context, realm, email, addr string) error {
	now := t.now().UTC()
	for _, key := range []string{accountKey(realm, email), addressKey(addr)} {
		// A window that has ended restarts at this failure.
		_, err := t.coll.UpdateOne(ctx, bson.M{"_id": key, "window_start": bson.M{"$lt": now.Add(-t.window)}},
			bson.M{"$set": bson.M{"failures": 0, "window_start": now}})
		if err != nil {
			return fmt.Errorf("reset throttle window: %w", err)
		}
		_, err = t.coll.UpdateOne(ctx, bson.M{"_id": key},
			bson.M{"$inc": bson.M{"failures": 1}, "$setOnInsert": bson.M{"window_start": now}},
			options.UpdateOne().SetUpsert(true))
		if err != nil && !errors.Is(store.Translate(err), store.ErrConflict) {
			return fmt.Errorf("count failed sign-in: %w", err)
		}
	}
	return nil
}

// succeed clears the account's counter (not the address's: one good password from an
// address that is guessing others' must not reset its count).
func (t *throttle) succeed(ctx context.Context, realm, email string) error {
	_, err := t.coll.DeleteOne(ctx, bson.M{"_id": accountKey(realm, email)})
	return err
}

func (t *throttle) sweep(ctx context.Context) error {
	_, err := t.coll.DeleteMany(ctx, bson.M{"window_start": bson.M{"$lt": t.now().Add(-t.window).UTC()}})
	return err
}
