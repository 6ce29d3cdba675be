package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/store"
)

// Run states. queued and running are active; the others are final.
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
	StateTimedOut  = "timed_out"
)

// Final reports whether a run in that state is over.
func Final(state string) bool { return state != StateQueued && state != StateRunning }

// ErrNotFound: no such run.
var ErrNotFound = fmt.Errorf("run %w", store.ErrNotFound)

const (
	runsCollection    = "runs"
	cancelsCollection = "run_cancels"
)

// Run is one agent run of a session, as recorded in MongoDB `runs`.
type Run struct {
	ID          string `bson:"_id" json:"id"`
	SessionID   string `bson:"session_id" json:"session_id"`
	Number      int    `bson:"number" json:"number"` // 1, 2, … per session
	State       string `bson:"state" json:"state"`
	Reason      string `bson:"reason,omitempty" json:"reason,omitempty"`
	Prompt      string `bson:"prompt" json:"prompt"`
	WorkspaceID string `bson:"workspace_id" json:"workspace_id"`
	Framework   string `bson:"framework" json:"framework"`
	AppSlug     string `bson:"app_slug,omitempty" json:"app_slug,omitempty"`
	// Attempts counts agent starts: 2 means the agent was lost once and restarted.
	Attempts int `bson:"attempts" json:"attempts"`
	// Handle is the agent's runtime handle, persisted (as JSON: label keys have dots,
	// which document field names must not) so another scheduler can re-attach.
	Handle     *runtime.Handle `bson:"-" json:"-"`
	HandleJSON string          `bson:"handle,omitempty" json:"-"`
	// Container is the agent's workload name (mgx-agent-<session_id>).
	Container string `bson:"container,omitempty" json:"container,omitempty"`
	// StartSeq is the session's last event seq when the agent started: a FINISH after
	// it belongs to this run.
	StartSeq int64     `bson:"start_seq" json:"-"`
	Deadline time.Time `bson:"deadline,omitempty" json:"deadline,omitzero"`
	// CancelRequested is set by Runs.Get and List when a cancel was asked for (it is kept
	// in `run_cancels`, so the run's document has one writer: its scheduler).
	CancelRequested bool      `bson:"-" json:"cancel_requested,omitempty"`
	HeartbeatAt     time.Time `bson:"heartbeat_at" json:"-"`
	CreatedAt       time.Time `bson:"created_at" json:"created_at"`
	StartedAt       time.Time `bson:"started_at,omitempty" json:"started_at,omitzero"`
	FinishedAt      time.Time `bson:"finished_at,omitempty" json:"finished_at,omitzero"`
}

func (r *Run) decodeHandle() {
	r.Handle = nil
	if r.HandleJSON != "" {
		var h runtime.Handle
		if json.Unmarshal([]byte(r.HandleJSON), &h) == nil {
			r.Handle = &h
		}
	}
}

// handleField is the stored form of a handle.
func handleField(h *runtime.Handle) string {
	if h == nil {
		return ""
	}
	b, _ := json.Marshal(h)
	return string(b)
}

// Runs is the `runs` collection.
//
// FerretDB applies an update as read, modify, write back, so two concurrent updates of one
// document can lose one. A run's document therefore has one writer at a time: the
// scheduler holding its session's lease (or Cancel, holding it briefly). Cancel requests
// are inserted into `run_cancels` instead of being written into the run.
type Runs struct {
	coll    *mongo.Collection
	cancels *mongo.Collection
}

// NewRuns uses the MGX database.
func NewRuns(db *mongo.Database) *Runs {
	return &Runs{coll: db.Collection(runsCollection), cancels: db.Collection(cancelsCollection)}
}

type cancelDoc struct {
	RunID     string    `bson:"_id"`
	SessionID string    `bson:"session_id"`
	At        time.Time `bson:"at"`
}

// requestCancel records that the run must stop (idempotent).
func (rs *Runs) requestCancel(ctx context.Context, r *Run) error {
	_, err := rs.cancels.InsertOne(ctx, cancelDoc{RunID: r.ID, SessionID: r.SessionID, At: now()})
	if err != nil && !errors.Is(store.Translate(err), store.ErrConflict) {
		return fmt.Errorf("cancel run %s: %w", r.ID, err)
	}
	return nil
}

// cancelRequested reports whether a cancel was asked for.
func (rs *Runs) cancelRequested(ctx context.Context, runID string) (bool, error) {
	n, err := rs.cancels.CountDocuments(ctx, bson.M{"_id": runID})
	if err != nil {
		return false, fmt.Errorf("cancel state of run %s: %w", runID, err)
	}
	return n > 0, nil
}

func (rs *Runs) fill(ctx context.Context, list ...*Run) error {
	if len(list) == 0 {
		return nil
	}
	ids := bson.A{}
	for _, r := range list {
		r.decodeHandle()
		ids = append(ids, r.ID)
	}
	cur, err := rs.cancels.Find(ctx, bson.M{"_id": bson.M{"$in": ids}})
	if err != nil {
		return fmt.Errorf("cancel state of runs: %w", err)
	}
	var docs []cancelDoc
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("cancel state of runs: %w", err)
	}
	for _, d := range docs {
		for _, r := range list {
			if r.ID == d.RunID {
				r.CancelRequested = true
			}
		}
	}
	return nil
}

// EnsureIndexes creates the indexes of `runs`.
func EnsureIndexes(ctx context.Context, st *store.Store) error {
	return st.EnsureIndexes(ctx, runsCollection,
		mongo.IndexModel{Keys: bson.D{{Key: "session_id", Value: 1}, {Key: "number", Value: 1}},
			Options: options.Index().SetUnique(true).SetName("session_number")},
		mongo.IndexModel{Keys: bson.D{{Key: "state", Value: 1}, {Key: "heartbeat_at", Value: 1}},
			Options: options.Index().SetName("state_heartbeat")},
	)
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// insert adds r as the session's next run, numbering it.
func (rs *Runs) insert(ctx context.Context, r *Run) error {
	for attempt := 0; ; attempt++ {
		last, err := rs.Latest(ctx, r.SessionID)
		switch {
		case errors.Is(err, ErrNotFound):
			r.Number = 1
		case err != nil:
			return err
		default:
			r.Number = last.Number + 1
		}
		_, err = rs.coll.InsertOne(ctx, r)
		if err == nil {
			return nil
		}
		if !errors.Is(store.Translate(err), store.ErrConflict) || attempt > 20 {
			return fmt.Errorf("insert run of session %s: %w", r.SessionID, err)
		}
	}
}

// Get returns a run by id.
func (rs *Runs) Get(ctx context.Context, id string) (*Run, error) {
	var r Run
	if err := rs.coll.FindOne(ctx, bson.M{"_id": id}).Decode(&r); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("%s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	if err := rs.fill(ctx, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Latest returns the session's highest-numbered run.
func (rs *Runs) Latest(ctx context.Context, sessionID string) (*Run, error) {
	var r Run
	err := rs.coll.FindOne(ctx, bson.M{"session_id": sessionID},
		options.FindOne().SetSort(bson.D{{Key: "number", Value: -1}})).Decode(&r)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("session %s has no run: %w", sessionID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("latest run of session %s: %w", sessionID, err)
	}
	if err := rs.fill(ctx, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// List returns the session's runs in order.
func (rs *Runs) List(ctx context.Context, sessionID string) ([]Run, error) {
	return rs.find(ctx, bson.M{"session_id": sessionID}, 0)
}

func (rs *Runs) find(ctx context.Context, filter bson.M, limit int64) ([]Run, error) {
	opts := options.Find().SetSort(bson.D{{Key: "number", Value: 1}})
	if limit > 0 {
		opts.SetLimit(limit)
	}
	cur, err := rs.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, fmt.Errorf("find runs: %w", err)
	}
	out := []Run{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("find runs: %w", err)
	}
	ptrs := make([]*Run, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	if err := rs.fill(ctx, ptrs...); err != nil {
		return nil, err
	}
	return out, nil
}

var active = bson.M{"$in": bson.A{StateQueued, StateRunning}}

// nextActive returns the session's lowest-numbered active run, or nil.
func (rs *Runs) nextActive(ctx context.Context, sessionID string) (*Run, error) {
	list, err := rs.find(ctx, bson.M{"session_id": sessionID, "state": active}, 1)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return &list[0], nil
}

// update sets fields on a run whose state is one of states (any state when empty) and
// reports whether it matched.
func (rs *Runs) update(ctx context.Context, id string, states []string, fields bson.M) (bool, error) {
	filter := bson.M{"_id": id}
	if len(states) > 0 {
		filter["state"] = bson.M{"$in": states}
	}
	res, err := rs.coll.UpdateOne(ctx, filter, bson.M{"$set": fields})
	if err != nil {
		return false, fmt.Errorf("update run %s: %w", id, err)
	}
	return res.MatchedCount == 1, nil
}

// stale lists active runs whose heartbeat is older than before.
func (rs *Runs) stale(ctx context.Context, before time.Time, limit int64) ([]Run, error) {
	return rs.find(ctx, bson.M{"state": active, "heartbeat_at": bson.M{"$lt": before}}, limit)
}

// finish records a final state unless the run is already final; it reports whether it did.
func (rs *Runs) finish(ctx context.Context, id, state, reason string) (bool, error) {
	return rs.finishFrom(ctx, id, []string{StateQueued, StateRunning}, state, reason)
}

// finishFrom records a final state if the run is in one of the from states.
func (rs *Runs) finishFrom(ctx context.Context, id string, from []string, state, reason string) (bool, error) {
	return rs.update(ctx, id, from, bson.M{
		"state": state, "reason": reason, "finished_at": now(), "heartbeat_at": now(),
	})
}
