// Package sessions serves the sessions API of DESIGN.md: POST /api/sessions creates an
// app (slug, workspace rendered from its template, OAuth client, dev environment) and its
// session and queues the first agent run; follow-up messages queue further runs (one at a
// time per session, by the scheduler); cancel stops them; GET .../events streams the
// session's events as SSE, woken through Redis pub/sub with a slow poll as fallback.
package sessions

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

// ErrNotFound: no such session.
var ErrNotFound = fmt.Errorf("session %w", store.ErrNotFound)

const collection = "sessions"

// Session is a conversation that builds one app.
type Session struct {
	ID          string    `bson:"_id" json:"id"`
	OwnerID     string    `bson:"owner_id" json:"owner_id"`
	AppSlug     string    `bson:"app_slug" json:"app_slug"`
	WorkspaceID string    `bson:"workspace_id" json:"workspace_id"`
	Framework   string    `bson:"framework" json:"framework"`
	Prompt      string    `bson:"prompt" json:"prompt"`
	CreatedAt   time.Time `bson:"created_at" json:"created_at"`
}

// Store keeps sessions in MongoDB `sessions`. A session's document is written once; what
// changes (runs, events) lives in other collections.
type Store struct {
	coll *mongo.Collection
}

// NewStore uses the MGX database.
func NewStore(db *mongo.Database) *Store { return &Store{coll: db.Collection(collection)} }

// EnsureIndexes creates the owner index.
func EnsureIndexes(ctx context.Context, st *store.Store) error {
	return st.EnsureIndexes(ctx, collection, mongo.IndexModel{
		Keys:    bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}},
		Options: options.Index().SetName("owner"),
	})
}

// Create inserts a session.
func (s *Store) Create(ctx context.Context, sess *Session) error {
	if _, err := s.coll.InsertOne(ctx, sess); err != nil {
		return fmt.Errorf("create session: %w", store.Translate(err))
	}
	return nil
}

// Get returns a session.
func (s *Store) Get(ctx context.Context, id string) (*Session, error) {
	var sess Session
	if err := s.coll.FindOne(ctx, bson.M{"_id": id}).Decode(&sess); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("%s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get session %s: %w", id, err)
	}
	return &sess, nil
}

// List returns ownerID's sessions (every session when ownerID is ""), newest first.
func (s *Store) List(ctx context.Context, ownerID string, limit int) ([]Session, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	filter := bson.M{}
	if ownerID != "" {
		filter["owner_id"] = ownerID
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := []Session{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// Delete removes a session's document.
func (s *Store) Delete(ctx context.Context, id string) error {
	_, err := s.coll.DeleteOne(ctx, bson.M{"_id": id})
	return err
}
