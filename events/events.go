// Package events is the per-session event stream of DESIGN.md: documents
// {session_id, seq, type, role, data, ts} in MongoDB's `events` collection, where seq
// rises by one per session and is never reused. Writers wake readers through Redis
// pub/sub, since FerretDB has no change streams.
package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
)

// Event types.
const (
	AgentStart   = "AGENT_START"
	Plan         = "PLAN"
	MessageDelta = "MESSAGE_DELTA"
	Message      = "MESSAGE"
	ToolStart    = "TOOL_START"
	ToolEnd      = "TOOL_END"
	FileChanged  = "FILE_CHANGED"
	PreviewReady = "PREVIEW_READY"
	Error        = "ERROR"
	Finish       = "FINISH"
)

// FINISH statuses.
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusTimedOut  = "timed_out"
)

// Event is one entry of a session's stream.
type Event struct {
	SessionID string         `bson:"session_id" json:"session_id"`
	Seq       int64          `bson:"seq" json:"seq"`
	Type      string         `bson:"type" json:"type"`
	Role      string         `bson:"role" json:"role"`
	Data      map[string]any `bson:"data,omitempty" json:"data,omitempty"`
	TS        time.Time      `bson:"ts" json:"ts"`
}

const collection = "events"

// Store appends and reads events.
type Store struct {
	coll  *mongo.Collection
	redis redis.UniversalClient // nil: readers poll

	mu   sync.Mutex
	last map[string]int64 // the last seq this process wrote or saw, per session
}

// NewStore uses the MGX database; rdb may be nil (no wake-ups, readers poll).
func NewStore(db *mongo.Database, rdb redis.UniversalClient) *Store {
	return &Store{coll: db.Collection(collection), redis: rdb, last: map[string]int64{}}
}

// EnsureIndexes creates the unique (session_id, seq) index that makes seq safe.
func EnsureIndexes(ctx context.Context, st *store.Store) error {
	return st.EnsureIndexes(ctx, collection, mongo.IndexModel{
		Keys:    bson.D{{Key: "session_id", Value: 1}, {Key: "seq", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("session_seq"),
	})
}

// Channel is the Redis pub/sub channel announcing new events of a session.
func Channel(sessionID string) string { return "mgx:events:" + sessionID }

// Emit appends an event; it satisfies the EventSink interfaces of the packages that emit.
func (s *Store) Emit(ctx context.Context, sessionID, typ, role string, data map[string]any) error {
	_, err := s.Append(ctx, sessionID, typ, role, data)
	return err
}

// Append writes the next event of the session. Several writers (the agent, the file API)
// may append at once: each inserts the seq after the last one it knows and, when the
// unique index says another writer took it, reads the real last seq and tries again.
// So seq stays contiguous without a counter that a crash could leave ahead, and a lone
// writer needs one round trip per event.
func (s *Store) Append(ctx context.Context, sessionID, typ, role string, data map[string]any) (Event, error) {
	if sessionID == "" || typ == "" {
		return Event{}, errors.New("events: session id and type are required")
	}
	ev := Event{SessionID: sessionID, Type: typ, Role: role, Data: data}
	s.mu.Lock()
	last, known := s.last[sessionID]
	s.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if !known {
			var err error
			if last, err = s.LastSeq(ctx, sessionID); err != nil {
				return Event{}, err
			}
		}
		ev.Seq = last + 1
		ev.TS = time.Now().UTC().Truncate(time.Millisecond)
		_, err := s.coll.InsertOne(ctx, ev)
		if err == nil {
			break
		}
		if !errors.Is(store.Translate(err), store.ErrConflict) || attempt >= 50 {
			return Event{}, fmt.Errorf("append %s event to session %s: %w", typ, sessionID, err)
		}
		known = false
	}
	s.mu.Lock()
	if ev.Seq > s.last[sessionID] {
		s.last[sessionID] = ev.Seq
	}
	s.mu.Unlock()
	if s.redis != nil {
		// A lost wake-up only delays a reader until its next poll.
		_ = s.redis.Publish(ctx, Channel(sessionID), ev.Seq).Err()
	}
	return ev, nil
}

// LastSeq is the highest seq of the session, 0 when it has none.
func (s *Store) LastSeq(ctx context.Context, sessionID string) (int64, error) {
	var last Event
	err := s.coll.FindOne(ctx, bson.M{"session_id": sessionID},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.M{"seq": 1})).Decode(&last)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last seq of session %s: %w", sessionID, err)
	}
	return last.Seq, nil
}

// List returns up to limit events with seq > after, in order.
func (s *Store) List(ctx context.Context, sessionID string, after int64, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	cur, err := s.coll.Find(ctx, bson.M{"session_id": sessionID, "seq": bson.M{"$gt": after}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list events of session %s: %w", sessionID, err)
	}
	out := []Event{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list events of session %s: %w", sessionID, err)
	}
	return out, nil
}

// Wake returns a channel that receives (without blocking the publisher) whenever an
// event of the session is appended, and a function to stop listening. Without Redis
// the channel never fires and callers rely on their poll interval.
func (s *Store) Wake(ctx context.Context, sessionID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	if s.redis == nil {
		return ch, func() {}
	}
	sub := s.redis.Subscribe(ctx, Channel(sessionID))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sub.Channel() {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	return ch, func() { _ = sub.Close(); <-done }
}
