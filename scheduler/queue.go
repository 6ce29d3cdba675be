package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mgx-dev/mgx/store"
)

// DefaultStream is the Redis stream of run jobs.
const DefaultStream = "mgx:runs"

// EventSink records events; events.Store implements it.
type EventSink interface {
	Emit(ctx context.Context, sessionID, typ, role string, data map[string]any) error
}

// RoleScheduler is the event role of what the scheduler itself reports.
const RoleScheduler = "system"

// QueueConfig configures the enqueueing side, which the sessions API uses.
type QueueConfig struct {
	// DB is the MGX database (runs are recorded in `runs`). Required.
	DB *mongo.Database
	// Redis carries the stream. Required.
	Redis redis.UniversalClient
	// Events receives FINISH for runs cancelled before they started. Required.
	Events EventSink
	// Stream is the Redis stream name; default DefaultStream.
	Stream string
	// MaxLen trims the stream approximately; default 100000 entries.
	MaxLen int64
	// Logger; default discards.
	Logger *slog.Logger
}

// Queue records runs in MongoDB and announces them on the Redis stream. MongoDB is the
// source of truth: when Redis is unreachable the run stays queued and the schedulers'
// reconciliation publishes it once Redis answers again.
type Queue struct {
	cfg    QueueConfig
	runs   *Runs
	leases *leases
	log    *slog.Logger
}

// leasePrefix prefixes the Redis keys of session leases.
const leasePrefix = "mgx:lease:"

// NewQueue returns the queue.
func NewQueue(cfg QueueConfig) (*Queue, error) {
	var errs []error
	if cfg.DB == nil {
		errs = append(errs, errors.New("QueueConfig.DB is required"))
	}
	if cfg.Redis == nil {
		errs = append(errs, errors.New("QueueConfig.Redis is required"))
	}
	if cfg.Events == nil {
		errs = append(errs, errors.New("QueueConfig.Events is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.MaxLen <= 0 {
		cfg.MaxLen = 100000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Queue{cfg: cfg, runs: NewRuns(cfg.DB), leases: &leases{rdb: cfg.Redis, prefix: leasePrefix}, log: cfg.Logger}, nil
}

// Runs is the runs collection the queue writes.
func (q *Queue) Runs() *Runs { return q.runs }

// RunRequest is what an agent run needs to know.
type RunRequest struct {
	SessionID   string
	WorkspaceID string
	Framework   string
	AppSlug     string
	// Prompt is the person's request: the session's prompt for the first run, the
	// follow-up message for the next ones.
	Prompt string
}

// Enqueue records a queued run as the session's next and announces it. Runs of one
// session execute one at a time, in order.
func (q *Queue) Enqueue(ctx context.Context, req RunRequest) (*Run, error) {
	if req.SessionID == "" || req.WorkspaceID == "" || req.Framework == "" || strings.TrimSpace(req.Prompt) == "" {
		return nil, errors.New("scheduler: a run needs a session, a workspace, a framework and a prompt")
	}
	t := now()
	r := &Run{
		ID: store.NewID(), SessionID: req.SessionID, State: StateQueued, Prompt: req.Prompt,
		WorkspaceID: req.WorkspaceID, Framework: req.Framework, AppSlug: req.AppSlug,
		HeartbeatAt: t, CreatedAt: t,
	}
	if err := q.runs.insert(ctx, r); err != nil {
		return nil, err
	}
	if err := q.publish(ctx, r); err != nil {
		// Not fatal: reconciliation republishes queued runs missing from the stream.
		q.log.WarnContext(ctx, "run queued but not announced; reconciliation will", "run", r.ID, "err", err)
	}
	return r, nil
}

// publishScript adds a run's entry and remembers it in <stream>:entries, so
// reconciliation can tell whether Redis still knows the run.
var publishScript = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'run_id', ARGV[2], 'session_id', ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], id)
return id`)

func entriesKey(stream string) string { return stream + ":entries" }

// publish adds the run's entry to the stream.
func (q *Queue) publish(ctx context.Context, r *Run) error {
	err := publishScript.Run(ctx, q.cfg.Redis, []string{q.cfg.Stream, entriesKey(q.cfg.Stream)},
		q.cfg.MaxLen, r.ID, r.SessionID).Err()
	if err != nil {
		return fmt.Errorf("announce run %s: %w", r.ID, err)
	}
	return nil
}

// Cancel stops the session's runs: the active one's scheduler stops its agent and
// records FINISH cancelled; queued ones end at once with their FINISH cancelled (when no
// scheduler is busy with the session; otherwise that scheduler ends them in turn). It
// returns how many runs were active.
func (q *Queue) Cancel(ctx context.Context, sessionID string) (int, error) {
	list, err := q.runs.find(ctx, bson.M{"session_id": sessionID, "state": active}, 0)
	if err != nil {
		return 0, err
	}
	for i := range list {
		if err := q.runs.requestCancel(ctx, &list[i]); err != nil {
			return 0, err
		}
		_ = q.cfg.Redis.Publish(ctx, cancelChannel, list[i].ID).Err()
	}
	// Runs nobody supervises can be ended here: holding the session's lease proves it.
	holder := "cancel/" + store.ShortID()
	ok, err := q.leases.acquire(ctx, leaseKey(sessionID), holder, 30*time.Second)
	if err != nil || !ok {
		return len(list), nil
	}
	defer func() { _ = q.leases.release(context.WithoutCancel(ctx), leaseKey(sessionID), holder) }()
	for _, r := range list {
		if r.State != StateQueued {
			continue // a scheduler will re-attach to it and see the request
		}
		const reason = "cancelled before it started"
		if ok, err := q.runs.finishFrom(ctx, r.ID, []string{StateQueued}, StateCancelled, reason); err != nil {
			return len(list), err
		} else if ok {
			_ = q.cfg.Events.Emit(ctx, sessionID, "FINISH", RoleScheduler, map[string]any{
				"status": StateCancelled, "run": r.Number, "reason": reason,
			})
		}
	}
	return len(list), nil
}

// cancelChannel tells schedulers that a run was asked to stop, so they need not wait for
// their next poll.
const cancelChannel = "mgx:runs:cancel"
