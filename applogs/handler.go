package applogs

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
)

// Mount registers GET /api/apps/{slug}/logs and GET /api/apps/{slug}/traces.
func (l *Logs) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/apps/{slug}/logs", l.serveLogs)
	mux.HandleFunc("GET /api/apps/{slug}/traces", l.serveTraces)
}

// authorize answers 401/404/500 itself and returns false when the caller may not see the
// app's logs: its owner and admins may; for others the app does not exist.
func (l *Logs) authorize(w http.ResponseWriter, r *http.Request) (string, bool) {
	p, ok := identity.From(r.Context())
	if !ok {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return "", false
	}
	if l.cfg.Apps == nil {
		httpjson.Error(w, http.StatusInternalServerError, "internal", "app lookup not configured")
		return "", false
	}
	slug := r.PathValue("slug")
	a, err := l.cfg.Apps.Get(r.Context(), slug)
	if err != nil && !errors.Is(err, apps.ErrNotFound) {
		l.log.ErrorContext(r.Context(), "get app", "slug", slug, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot read the app")
		return "", false
	}
	if err != nil || !p.CanAccess(a.OwnerID) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such app")
		return "", false
	}
	return slug, true
}

// parseSince accepts RFC 3339 times and durations back from now ("15m", "2h").
func parseSince(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since %q: want an RFC 3339 time or a duration like 15m", s)
	}
	return t, nil
}

func (l *Logs) serveLogs(w http.ResponseWriter, r *http.Request) {
	slug, ok := l.authorize(w, r)
	if !ok {
		return
	}
	qv := r.URL.Query()
	var q Query
	var problems []string
	q.Q = qv.Get("q")
	if lv := qv.Get("level"); lv != "" {
		if levelRank(strings.ToLower(lv)) < 0 {
			problems = append(problems, fmt.Sprintf("level %q: want one of %s", lv, strings.Join(levels, ", ")))
		}
		q.Level = strings.ToLower(lv)
	}
	since, err := parseSince(qv.Get("since"))
	if err != nil {
		problems = append(problems, err.Error())
	}
	q.Since = since
	if s := qv.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 5000 {
			problems = append(problems, "limit: want 1-5000")
		}
		q.Limit = n
	}
	if len(problems) > 0 {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", strings.Join(problems, "; "))
		return
	}
	follow := qv.Get("follow") == "1" || qv.Get("follow") == "true"
	if !follow {
		entries, err := l.Query(r.Context(), slug, q)
		if err != nil {
			l.log.ErrorContext(r.Context(), "query logs", "slug", slug, "err", err)
			httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot read the logs")
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"entries": entries})
		return
	}
	l.follow(w, r, slug, q)
}

// follow streams entries as SSE: the last q.Limit matching ones (default 100), then new
// ones as they arrive. The event id is the entry id; Last-Event-ID resumes after it.
func (l *Logs) follow(w http.ResponseWriter, r *http.Request, slug string, q Query) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		httpjson.Error(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	ctx := r.Context()
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		if id, err := bson.ObjectIDFromHex(last); err == nil {
			q.After = id
		}
	}
	if q.After.IsZero() {
		if q.Limit == 0 {
			q.Limit = 100
		}
		backlog, err := l.Query(ctx, slug, q)
		if err != nil {
			httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot read the logs")
			return
		}
		startSSE(w)
		for _, e := range backlog {
			writeEntry(w, e)
			q.After = e.ID
		}
		if q.After.IsZero() {
			// Nothing yet: follow from now, by an id made of the current time.
			q.After = bson.NewObjectIDFromTimestamp(time.Now().Add(-time.Second))
		}
	} else {
		startSSE(w)
	}
	flusher.Flush()
	q.Limit = 500
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		wake := l.changed()
		entries, err := l.Query(ctx, slug, q)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.log.WarnContext(ctx, "follow logs", "slug", slug, "err", err)
		}
		for _, e := range entries {
			writeEntry(w, e)
			q.After = e.ID
		}
		if len(entries) > 0 {
			flusher.Flush()
		}
		if len(entries) == q.Limit {
			continue
		}
		timer := time.NewTimer(l.cfg.PollInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-wake:
			// Let a burst of writes land before reading.
			time.Sleep(50 * time.Millisecond)
		case <-timer.C:
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
			flusher.Flush()
		}
		timer.Stop()
	}
}

func startSSE(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}

func writeEntry(w http.ResponseWriter, e Entry) {
	b, _ := json.Marshal(e)
	fmt.Fprintf(w, "id: %s\nevent: log\ndata: %s\n\n", e.ID.Hex(), b)
}

func (l *Logs) serveTraces(w http.ResponseWriter, r *http.Request) {
	slug, ok := l.authorize(w, r)
	if !ok {
		return
	}
	qv := r.URL.Query()
	var q TraceQuery
	var problems []string
	since, err := parseSince(qv.Get("since"))
	if err != nil {
		problems = append(problems, err.Error())
	}
	q.Since = since
	q.Q = qv.Get("q")
	q.ErrorsOnly = qv.Get("errors") == "1" || qv.Get("errors") == "true"
	if s := qv.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			problems = append(problems, "limit: want 1-500")
		}
		q.Limit = n
	}
	if len(problems) > 0 {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", strings.Join(problems, "; "))
		return
	}
	traces, err := l.Traces(r.Context(), slug, q)
	if err != nil {
		l.log.ErrorContext(r.Context(), "traces", "slug", slug, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot read the traces")
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"traces": traces})
}

var (
	levelWordRE = regexp.MustCompile(`(?i)^\s*(?:\[|\S*\s)?\s*(trace|debug|info|warn|warning|error|err|fatal|critical|panic)\b`)
	levelKVRE   = regexp.MustCompile(`(?i)\blevel[=:]\s*"?(trace|debug|info|warn|warning|error|fatal|critical)\b`)
)

// ContainerEntry turns one line of container output into an entry, reading the level from
// JSON logs ({"level": …} or pino's numeric levels), logfmt (level=warn) or a leading word
// (uvicorn's "ERROR:", "[warn]").
func ContainerEntry(slug, service, deployment, line string, ts time.Time) Entry {
	e := Entry{Slug: slug, Service: service, Deployment: deployment, Source: SourceContainer, Time: ts, Message: line, Level: "info"}
	if strings.HasPrefix(line, "{") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			for _, k := range []string{"level", "severity", "lvl"} {
				switch v := m[k].(type) {
				case string:
					e.Level = NormalizeLevel(v)
				case float64: // pino: 10 trace … 60 fatal
					e.Level = levels[min(max(int(v)/10-1, 0), len(levels)-1)]
				}
			}
			for _, k := range []string{"msg", "message"} {
				if s, ok := m[k].(string); ok && s != "" {
					e.Message = s
					e.Attrs = m
					delete(e.Attrs, k)
					break
				}
			}
			return e
		}
	}
	if m := levelKVRE.FindStringSubmatch(line); m != nil {
		e.Level = NormalizeLevel(m[1])
	} else if m := levelWordRE.FindStringSubmatch(line); m != nil {
		e.Level = NormalizeLevel(m[1])
	}
	return e
}
