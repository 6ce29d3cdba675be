// Package applogs stores the production logs and traces of every app: container output
// (followed by deploy from the runtime) and OpenTelemetry logs and spans (received by the
// otlp package), in MongoDB collections app_logs and app_spans, capped per app by count
// (FerretDB has neither capped collections nor TTL indexes). It serves
// GET /api/apps/{slug}/logs (q, level, since, limit, follow=1 as SSE) and
// GET /api/apps/{slug}/traces.
package applogs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/store"
)

// Collections.
const (
	LogsCollection  = "app_logs"
	SpansCollection = "app_spans"
)

// Sources of log entries.
const (
	SourceContainer = "container" // the service's stdout and stderr
	SourceOTel      = "otel"      // OpenTelemetry logs received at /otlp/v1/logs
)

// Levels, from least to most severe. Entries carry one of them.
var levels = []string{"trace", "debug", "info", "warn", "error", "fatal"}

func levelRank(l string) int {
	for i, v := range levels {
		if v == l {
			return i
		}
	}
	return -1
}

// NormalizeLevel maps common spellings ("WARNING", "Err", "critical") onto the levels
// above; unknown values give "info".
func NormalizeLevel(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return "trace"
	case "debug", "dbg":
		return "debug"
	case "warn", "warning":
		return "warn"
	case "error", "err":
		return "error"
	case "fatal", "critical", "crit", "panic", "emergency", "alert":
		return "fatal"
	}
	return "info"
}

// Entry is one log line of an app.
type Entry struct {
	ID      bson.ObjectID `bson:"_id,omitempty" json:"id"`
	Slug    string        `bson:"slug" json:"slug"`
	Time    time.Time     `bson:"ts" json:"ts"`
	Level   string        `bson:"level" json:"level"`
	Source  string        `bson:"source" json:"source"`
	Service string        `bson:"service,omitempty" json:"service,omitempty"`
	// Deployment is the deployment whose container wrote the line (container source).
	Deployment string         `bson:"deployment_id,omitempty" json:"deployment_id,omitempty"`
	Message    string         `bson:"msg" json:"message"`
	Attrs      map[string]any `bson:"attrs,omitempty" json:"attrs,omitempty"`
	TraceID    string         `bson:"trace_id,omitempty" json:"trace_id,omitempty"`
	SpanID     string         `bson:"span_id,omitempty" json:"span_id,omitempty"`
}

// Span is one span of a trace.
type Span struct {
	ID            bson.ObjectID  `bson:"_id,omitempty" json:"-"`
	Slug          string         `bson:"slug" json:"-"`
	TraceID       string         `bson:"trace_id" json:"trace_id"`
	SpanID        string         `bson:"span_id" json:"span_id"`
	ParentSpanID  string         `bson:"parent_span_id,omitempty" json:"parent_span_id,omitempty"`
	Name          string         `bson:"name" json:"name"`
	Kind          string         `bson:"kind,omitempty" json:"kind,omitempty"`
	Service       string         `bson:"service,omitempty" json:"service,omitempty"`
	Start         time.Time      `bson:"start" json:"start"`
	End           time.Time      `bson:"end" json:"end"`
	DurationMS    float64        `bson:"duration_ms" json:"duration_ms"`
	StatusCode    string         `bson:"status_code,omitempty" json:"status_code,omitempty"` // "ok", "error" or ""
	StatusMessage string         `bson:"status_message,omitempty" json:"status_message,omitempty"`
	Attrs         map[string]any `bson:"attrs,omitempty" json:"attrs,omitempty"`
	Events        []SpanEvent    `bson:"events,omitempty" json:"events,omitempty"`
}

// SpanEvent is an event recorded on a span (an exception, say).
type SpanEvent struct {
	Name  string         `bson:"name" json:"name"`
	Time  time.Time      `bson:"ts" json:"ts"`
	Attrs map[string]any `bson:"attrs,omitempty" json:"attrs,omitempty"`
}

// Trace is the spans of one trace id, the root (or earliest) span first.
type Trace struct {
	TraceID    string    `json:"trace_id"`
	Name       string    `json:"name"` // the root span's name
	Start      time.Time `json:"start"`
	DurationMS float64   `json:"duration_ms"`
	Error      bool      `json:"error"`
	Spans      []Span    `json:"spans"`
}

// AppLookup finds apps, for authorisation: *apps.Store implements it.
type AppLookup interface {
	Get(ctx context.Context, slug string) (*apps.App, error)
}

var _ AppLookup = (*apps.Store)(nil)

// Config configures the store and API.
type Config struct {
	// Store is the MGX database. Required.
	Store *store.Store
	// Apps looks apps up for the API's owner check. Required for Mount.
	Apps AppLookup
	// MaxEntries is the number of log entries kept per app; default 10000.
	MaxEntries int
	// MaxSpans is the number of spans kept per app; default 20000.
	MaxSpans int
	// TrimInterval is how often Run trims the apps written to; default 10s.
	TrimInterval time.Duration
	// PollInterval is how often a follow stream looks for new entries written by another
	// MGX instance; entries written by this one wake it at once. Default 1s.
	PollInterval time.Duration
	// Logger; default discards.
	Logger *slog.Logger
}

// Logs is the store and its API.
type Logs struct {
	cfg  Config
	log  *slog.Logger
	logs *mongo.Collection
	sps  *mongo.Collection

	mu      sync.Mutex
	dirty   map[string]int // per "logs/<slug>" or "spans/<slug>": inserts since the last trim
	notify  chan struct{}  // closed and replaced on every append
	trimMu  sync.Mutex
	trimmed map[string]time.Time
}

// New validates cfg and creates the indexes.
func New(ctx context.Context, cfg Config) (*Logs, error) {
	if cfg.Store == nil {
		return nil, errors.New("applogs: Store is required")
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10000
	}
	if cfg.MaxSpans <= 0 {
		cfg.MaxSpans = 20000
	}
	if cfg.TrimInterval <= 0 {
		cfg.TrimInterval = 10 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Logs{
		cfg: cfg, log: cfg.Logger,
		logs: cfg.Store.DB().Collection(LogsCollection), sps: cfg.Store.DB().Collection(SpansCollection),
		dirty: map[string]int{}, notify: make(chan struct{}), trimmed: map[string]time.Time{},
	}
	if err := ensureIndexes(ctx, cfg.Store, LogsCollection,
		mongo.IndexModel{Keys: bson.D{{Key: "slug", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("slug_id")},
		mongo.IndexModel{Keys: bson.D{{Key: "slug", Value: 1}, {Key: "ts", Value: -1}}, Options: options.Index().SetName("slug_ts")},
	); err != nil {
		return nil, err
	}
	if err := ensureIndexes(ctx, cfg.Store, SpansCollection,
		mongo.IndexModel{Keys: bson.D{{Key: "slug", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("slug_id")},
		mongo.IndexModel{Keys: bson.D{{Key: "slug", Value: 1}, {Key: "trace_id", Value: 1}}, Options: options.Index().SetName("slug_trace")},
		mongo.IndexModel{Keys: bson.D{{Key: "slug", Value: 1}, {Key: "start", Value: -1}}, Options: options.Index().SetName("slug_start")},
	); err != nil {
		return nil, err
	}
	return l, nil
}

// AppendLogs stores entries (each with its Slug). Missing times are now, levels are
// normalized, sources default to container.
func (l *Logs) AppendLogs(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	docs := make([]any, 0, len(entries))
	now := time.Now().UTC()
	counts := map[string]int{}
	for _, e := range entries {
		if e.Slug == "" {
			continue
		}
		e.ID = bson.NewObjectID()
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Time = e.Time.UTC().Truncate(time.Millisecond)
		e.Level = NormalizeLevel(e.Level)
		if e.Source == "" {
			e.Source = SourceContainer
		}
		docs = append(docs, e)
		counts["logs/"+e.Slug]++
	}
	if len(docs) == 0 {
		return nil
	}
	if _, err := l.logs.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("append logs: %w", err)
	}
	l.written(ctx, counts, l.cfg.MaxEntries)
	return nil
}

// AppendSpans stores spans (each with its Slug).
func (l *Logs) AppendSpans(ctx context.Context, spans []Span) error {
	docs := make([]any, 0, len(spans))
	counts := map[string]int{}
	for _, s := range spans {
		if s.Slug == "" || s.TraceID == "" {
			continue
		}
		s.ID = bson.NewObjectID()
		s.Start, s.End = s.Start.UTC(), s.End.UTC()
		if s.DurationMS == 0 && s.End.After(s.Start) {
			s.DurationMS = float64(s.End.Sub(s.Start).Microseconds()) / 1000
		}
		docs = append(docs, s)
		counts["spans/"+s.Slug]++
	}
	if len(docs) == 0 {
		return nil
	}
	if _, err := l.sps.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("append spans: %w", err)
	}
	l.written(ctx, counts, l.cfg.MaxSpans)
	return nil
}

// written records inserts, wakes followers, and trims at once an app that wrote more than
// a quarter of its cap since the last trim (Run trims the rest).
func (l *Logs) written(ctx context.Context, counts map[string]int, limit int) {
	var now []string
	l.mu.Lock()
	for k, n := range counts {
		l.dirty[k] += n
		if l.dirty[k] > limit/4 {
			now = append(now, k)
		}
	}
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
	for _, k := range now {
		if err := l.trimKey(ctx, k); err != nil {
			l.log.WarnContext(ctx, "trim app logs", "key", k, "err", err)
		}
	}
}

func (l *Logs) changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.notify
}

// Trim deletes an app's oldest log entries and spans beyond the caps.
func (l *Logs) Trim(ctx context.Context, slug string) error {
	return errors.Join(l.trimKey(ctx, "logs/"+slug), l.trimKey(ctx, "spans/"+slug))
}

func (l *Logs) trimKey(ctx context.Context, key string) error {
	l.trimMu.Lock()
	defer l.trimMu.Unlock()
	l.mu.Lock()
	delete(l.dirty, key)
	l.mu.Unlock()
	kind, slug, _ := strings.Cut(key, "/")
	coll, limit := l.logs, l.cfg.MaxEntries
	if kind == "spans" {
		coll, limit = l.sps, l.cfg.MaxSpans
	}
	n, err := coll.CountDocuments(ctx, bson.M{"slug": slug})
	if err != nil {
		return fmt.Errorf("count %s: %w", key, err)
	}
	if n <= int64(limit) {
		return nil
	}
	// The newest `limit` documents stay: find the first one to go, delete it and older.
	var edge struct {
		ID bson.ObjectID `bson:"_id"`
	}
	err = coll.FindOne(ctx, bson.M{"slug": slug}, options.FindOne().
		SetSort(bson.D{{Key: "_id", Value: -1}}).SetSkip(int64(limit)).SetProjection(bson.M{"_id": 1})).Decode(&edge)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("trim %s: %w", key, err)
	}
	if _, err := coll.DeleteMany(ctx, bson.M{"slug": slug, "_id": bson.M{"$lte": edge.ID}}); err != nil {
		return fmt.Errorf("trim %s: %w", key, err)
	}
	return nil
}

// Run trims the apps written to every TrimInterval until ctx ends.
func (l *Logs) Run(ctx context.Context) error {
	t := time.NewTicker(l.cfg.TrimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		l.mu.Lock()
		keys := make([]string, 0, len(l.dirty))
		for k := range l.dirty {
			keys = append(keys, k)
		}
		l.mu.Unlock()
		for _, k := range keys {
			if err := l.trimKey(ctx, k); err != nil && ctx.Err() == nil {
				l.log.WarnContext(ctx, "trim app logs", "key", k, "err", err)
			}
		}
	}
}

// Query selects log entries.
type Query struct {
	// Q is a case-insensitive substring of the message.
	Q string
	// Level is the least severe level returned ("warn" gives warn, error and fatal).
	Level string
	// Since keeps entries at or after this time.
	Since time.Time
	// After keeps entries inserted after this id (follow streams).
	After bson.ObjectID
	// Limit is the maximum number of entries; default 200, at most 5000.
	Limit int
}

func (q Query) filter(slug string) bson.M {
	f := bson.M{"slug": slug}
	if q.Q != "" {
		f["msg"] = bson.M{"$regex": regexpQuote(q.Q), "$options": "i"}
	}
	if r := levelRank(q.Level); r > 0 {
		f["level"] = bson.M{"$in": levels[r:]}
	}
	if !q.Since.IsZero() {
		f["ts"] = bson.M{"$gte": q.Since.UTC()}
	}
	if !q.After.IsZero() {
		f["_id"] = bson.M{"$gt": q.After}
	}
	return f
}

// Query returns the newest matching entries in insertion order (oldest first).
func (l *Logs) Query(ctx context.Context, slug string, q Query) ([]Entry, error) {
	if q.Limit <= 0 {
		q.Limit = 200
	}
	q.Limit = min(q.Limit, 5000)
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(q.Limit))
	if !q.After.IsZero() {
		// Follow: the next entries after the cursor, in order.
		opts = options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(q.Limit))
	}
	cur, err := l.logs.Find(ctx, q.filter(slug), opts)
	if err != nil {
		return nil, fmt.Errorf("query logs of %s: %w", slug, err)
	}
	out := []Entry{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("query logs of %s: %w", slug, err)
	}
	if q.After.IsZero() {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// TraceQuery selects traces.
type TraceQuery struct {
	Since time.Time
	// Q is a case-insensitive substring of a span name.
	Q string
	// ErrorsOnly keeps traces with a span whose status is error.
	ErrorsOnly bool
	// Limit is the number of traces; default 50, at most 500.
	Limit int
}

// Traces returns the newest traces with all their stored spans.
func (l *Logs) Traces(ctx context.Context, slug string, q TraceQuery) ([]Trace, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	f := bson.M{"slug": slug}
	if !q.Since.IsZero() {
		f["start"] = bson.M{"$gte": q.Since.UTC()}
	}
	if q.Q != "" {
		f["name"] = bson.M{"$regex": regexpQuote(q.Q), "$options": "i"}
	}
	if q.ErrorsOnly {
		f["status_code"] = "error"
	}
	// Pick trace ids from the newest matching spans; FerretDB's $group is limited, so the
	// grouping happens here.
	cur, err := l.sps.Find(ctx, f, options.Find().SetSort(bson.D{{Key: "start", Value: -1}}).
		SetLimit(int64(q.Limit*20)).SetProjection(bson.M{"trace_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("traces of %s: %w", slug, err)
	}
	var ids []string
	seen := map[string]bool{}
	for cur.Next(ctx) {
		var s struct {
			TraceID string `bson:"trace_id"`
		}
		if err := cur.Decode(&s); err == nil && !seen[s.TraceID] && len(ids) < q.Limit {
			seen[s.TraceID] = true
			ids = append(ids, s.TraceID)
		}
	}
	_ = cur.Close(ctx)
	if len(ids) == 0 {
		return []Trace{}, nil
	}
	cur, err = l.sps.Find(ctx, bson.M{"slug": slug, "trace_id": bson.M{"$in": ids}},
		options.Find().SetSort(bson.D{{Key: "start", Value: 1}}).SetLimit(int64(len(ids)*500)))
	if err != nil {
		return nil, fmt.Errorf("traces of %s: %w", slug, err)
	}
	var spans []Span
	if err := cur.All(ctx, &spans); err != nil {
		return nil, fmt.Errorf("traces of %s: %w", slug, err)
	}
	byID := map[string]*Trace{}
	for _, s := range spans {
		t := byID[s.TraceID]
		if t == nil {
			t = &Trace{TraceID: s.TraceID, Start: s.Start}
			byID[s.TraceID] = t
		}
		t.Spans = append(t.Spans, s)
		if s.StatusCode == "error" {
			t.Error = true
		}
	}
	out := make([]Trace, 0, len(ids))
	for _, id := range ids {
		t := byID[id]
		if t == nil {
			continue
		}
		end := t.Start
		for _, s := range t.Spans {
			if s.Start.Before(t.Start) {
				t.Start = s.Start
			}
			if s.End.After(end) {
				end = s.End
			}
		}
		t.DurationMS = float64(end.Sub(t.Start).Microseconds()) / 1000
		t.Name = t.Spans[0].Name
		for _, s := range t.Spans {
			if s.ParentSpanID == "" {
				t.Name = s.Name
				break
			}
		}
		out = append(out, *t)
	}
	return out, nil
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\.+*?()|[]{}^$`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
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
