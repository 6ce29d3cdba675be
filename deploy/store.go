package deploy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/runtime"
	"github.com/mgx-dev/mgx/store"
)

// Collections of the MGX database used by deploy.
const (
	DeploymentsCollection = "deployments"
	BuildLogsCollection   = "deployment_logs"
	locksCollection       = "deployment_locks"
	appsCollection        = "apps" // only its live_deployment_id field
)

// Statuses of a deployment: queued → building → starting → live, or failed. A live
// deployment that a newer one replaced becomes superseded (it can be rolled back to).
const (
	StatusQueued     = "queued"
	StatusBuilding   = "building"
	StatusStarting   = "starting"
	StatusLive       = "live"
	StatusFailed     = "failed"
	StatusSuperseded = "superseded"
)

// InProgress reports whether a status is one of a running deployment.
func InProgress(status string) bool {
	return status == StatusQueued || status == StatusBuilding || status == StatusStarting
}

// Deployment is one attempt to put an app's workspace in production.
type Deployment struct {
	ID        string `bson:"_id" json:"id"`
	Slug      string `bson:"slug" json:"slug"`
	Status    string `bson:"status" json:"status"`
	Reason    string `bson:"reason,omitempty" json:"reason,omitempty"` // why it failed, in plain words
	Framework string `bson:"framework,omitempty" json:"framework,omitempty"`
	Driver    string `bson:"driver" json:"driver"` // runtime driver: docker or process
	// RollbackOf is the deployment whose build this one reuses (a rollback).
	RollbackOf string              `bson:"rollback_of,omitempty" json:"rollback_of,omitempty"`
	CreatedBy  string              `bson:"created_by,omitempty" json:"created_by,omitempty"`
	Services   []ServiceDeployment `bson:"services,omitempty" json:"services"`
	CreatedAt  time.Time           `bson:"created_at" json:"created_at"`
	StartedAt  time.Time           `bson:"started_at,omitempty" json:"started_at,omitzero"`
	FinishedAt time.Time           `bson:"finished_at,omitempty" json:"finished_at,omitzero"`
	LiveAt     time.Time           `bson:"live_at,omitempty" json:"live_at,omitzero"` // when it first took traffic
	// DurationMS is the time from the request to live or failed.
	DurationMS int64 `bson:"duration_ms,omitempty" json:"duration_ms,omitempty"`
	// BuildMS is the time spent building images (zero for a rollback).
	BuildMS int64 `bson:"build_ms,omitempty" json:"build_ms,omitempty"`
	// Pruned: its images (or release directory) were removed; it can no longer be rolled
	// back to.
	Pruned bool `bson:"pruned,omitempty" json:"pruned,omitempty"`
	// URL is where the app is served, set when it goes live.
	URL string `bson:"url,omitempty" json:"url,omitempty"`
}

// ServiceDeployment is one service of a deployment: its build and its workload.
type ServiceDeployment struct {
	Name        string `bson:"name" json:"name"`
	Route       string `bson:"route" json:"route"`
	StripPrefix bool   `bson:"strip_prefix" json:"strip_prefix"`
	Health      string `bson:"health,omitempty" json:"health,omitempty"`
	Artifact    `bson:"artifact" json:"artifact"`
	// Handle is the running workload (persisted for Recover); never in API responses.
	Handle   *runtime.Handle `bson:"handle,omitempty" json:"-"`
	Addr     string          `bson:"addr,omitempty" json:"-"`
	Restarts int             `bson:"restarts,omitempty" json:"restarts,omitempty"`
}

// Rollbackable reports whether d can be rolled back to.
func (d *Deployment) Rollbackable() bool {
	return !d.LiveAt.IsZero() && !d.Pruned && (d.Status == StatusLive || d.Status == StatusSuperseded)
}

// LogLine is one line of a deployment's build log.
type LogLine struct {
	DeploymentID string    `bson:"deployment_id" json:"-"`
	Seq          int64     `bson:"seq" json:"seq"`
	Time         time.Time `bson:"ts" json:"ts"`
	Text         string    `bson:"text" json:"text"`
}

type deployStore struct {
	deps  *mongo.Collection
	logs  *mongo.Collection
	locks *mongo.Collection
	apps  *mongo.Collection
}

func newDeployStore(ctx context.Context, st *store.Store) (*deployStore, error) {
	db := st.DB()
	ds := &deployStore{
		deps: db.Collection(DeploymentsCollection), logs: db.Collection(BuildLogsCollection),
		locks: db.Collection(locksCollection), apps: db.Collection(appsCollection),
	}
	if err := ensureIndexes(ctx, st, DeploymentsCollection,
		mongo.IndexModel{Keys: bson.D{{Key: "slug", Value: 1}, {Key: "created_at", Value: -1}}, Options: options.Index().SetName("slug_created")},
		mongo.IndexModel{Keys: bson.D{{Key: "status", Value: 1}}, Options: options.Index().SetName("status")},
	); err != nil {
		return nil, err
	}
	if err := ensureIndexes(ctx, st, BuildLogsCollection,
		mongo.IndexModel{Keys: bson.D{{Key: "deployment_id", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetName("deployment_seq")},
	); err != nil {
		return nil, err
	}
	return ds, nil
}

// lock takes the app's deployment lock (one deployment at a time per app, across MGX
// instances); store.ErrConflict when it is held.
//
// A lock whose deployment already reached its outcome is taken over: a deployment records
// its final status before it releases the lock, so a client that saw "live" and deploys
// again must not be refused, and a lock left behind by a crash must not block the app.
func (s *deployStore) lock(ctx context.Context, slug, deploymentID string) error {
	for attempt := 0; ; attempt++ {
		_, err := s.locks.InsertOne(ctx, bson.M{"_id": slug, "deployment_id": deploymentID, "at": time.Now().UTC()})
		if err == nil {
			return nil
		}
		err = store.Translate(err)
		if !errors.Is(err, store.ErrConflict) || attempt > 0 {
			return fmt.Errorf("lock deployments of %s: %w", slug, err)
		}
		var held struct {
			DeploymentID string `bson:"deployment_id"`
		}
		if s.locks.FindOne(ctx, bson.M{"_id": slug}).Decode(&held) != nil {
			continue // released meanwhile: try again
		}
		d, gerr := s.get(ctx, slug, held.DeploymentID)
		if gerr == nil && !finished(d.Status) {
			return fmt.Errorf("lock deployments of %s: %w", slug, err)
		}
		_, _ = s.locks.DeleteOne(ctx, bson.M{"_id": slug, "deployment_id": held.DeploymentID})
	}
}

// finished reports whether a deployment status is an outcome.
func finished(status string) bool {
	return status == StatusLive || status == StatusFailed || status == StatusSuperseded
}

func (s *deployStore) unlock(ctx context.Context, slug, deploymentID string) error {
	_, err := s.locks.DeleteOne(ctx, bson.M{"_id": slug, "deployment_id": deploymentID})
	return err
}

func (s *deployStore) insert(ctx context.Context, d *Deployment) error {
	if _, err := s.deps.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert deployment: %w", store.Translate(err))
	}
	return nil
}

func (s *deployStore) save(ctx context.Context, d *Deployment) error {
	if _, err := s.deps.ReplaceOne(ctx, bson.M{"_id": d.ID}, d); err != nil {
		return fmt.Errorf("save deployment %s: %w", d.ID, err)
	}
	return nil
}

func (s *deployStore) get(ctx context.Context, slug, id string) (*Deployment, error) {
	var d Deployment
	err := s.deps.FindOne(ctx, bson.M{"_id": id, "slug": slug}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("deployment %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get deployment %s: %w", id, err)
	}
	return &d, nil
}

func (s *deployStore) find(ctx context.Context, filter bson.M, limit int64) ([]Deployment, error) {
	cur, err := s.deps.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}}).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	out := []Deployment{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	return out, nil
}

func (s *deployStore) setLive(ctx context.Context, slug, id string) error {
	_, err := s.apps.UpdateOne(ctx, bson.M{"slug": slug}, bson.M{"$set": bson.M{"live_deployment_id": id, "updated_at": time.Now().UTC().Truncate(time.Millisecond)}})
	if err != nil {
		return fmt.Errorf("set live deployment of %s: %w", slug, err)
	}
	return nil
}

func (s *deployStore) appendLogs(ctx context.Context, lines []LogLine) error {
	docs := make([]any, len(lines))
	for i := range lines {
		docs[i] = lines[i]
	}
	_, err := s.logs.InsertMany(ctx, docs)
	return err
}

func (s *deployStore) readLogs(ctx context.Context, id string, after int64, limit int64) ([]LogLine, error) {
	cur, err := s.logs.Find(ctx, bson.M{"deployment_id": id, "seq": bson.M{"$gt": after}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("read build log %s: %w", id, err)
	}
	out := []LogLine{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read build log %s: %w", id, err)
	}
	return out, nil
}

// ensureIndexes creates indexes one at a time: FerretDB v1 drops the connection when a
// createIndexes command with several indexes meets indexes that already exist.
func ensureIndexes(ctx context.Context, st *store.Store, coll string, models ...mongo.IndexModel) error {
	for _, m := range models {
		if err := st.EnsureIndexes(ctx, coll, m); err != nil {
			return err
		}
	}
	return nil
}
