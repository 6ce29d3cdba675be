package sessions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/httpjson"
)

// readEvents reads events for a stream. Listeners of one session wake together and mostly read
// from the same position: concurrent identical reads share one query (the slice is
// read-only), so 200 listeners cost about one query per event rather than 200.
func (h *Handler) readEvents(ctx context.Context, sessionID string, after int64, limit int) ([]events.Event, error) {
	key := sessionID + ":" + strconv.FormatInt(after, 10) + ":" + strconv.Itoa(limit)
	ch := h.reads.DoChan(key, func() (any, error) {
		// Detached from the first caller: its leaving must not fail the others.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return h.cfg.Events.List(qctx, sessionID, after, limit)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.([]events.Event), nil
	}
}

// events streams the session's events as SSE: `id:` the seq, `event:` the type, `data:`
// the event as JSON. It resumes after Last-Event-ID (or ?after=), wakes on Redis pub/sub,
// polls slowly as a fallback, and sends a heartbeat comment every Heartbeat.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	s, ok := h.load(w, r)
	if !ok {
		return
	}
	after := int64(0)
	from := r.Header.Get("Last-Event-ID")
	if from == "" {
		from = r.URL.Query().Get("after")
	}
	if from = strings.TrimSpace(from); from != "" {
		n, err := strconv.ParseInt(from, 10, 64)
		if err != nil || n < 0 {
			httpjson.Error(w, http.StatusBadRequest, "invalid_request", "Last-Event-ID / after must be a non-negative event seq")
			return
		}
		after = n
	}
	ctx := r.Context()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache, no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// Subscribe before the first read: an event appended in between is read or wakes us.
	wake, stop := h.cfg.Events.Wake(ctx, s.ID)
	defer stop()
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	heartbeat := time.NewTicker(h.cfg.Heartbeat)
	defer heartbeat.Stop()
	poll := time.NewTimer(h.cfg.Poll)
	defer poll.Stop()
	const batch = 500
	var buf []byte
	for {
		list, err := h.readEvents(ctx, s.ID, after, batch)
		if err != nil {
			if ctx.Err() == nil {
				h.log.WarnContext(ctx, "read events", "session", s.ID, "err", err)
			}
		}
		for _, ev := range list {
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			buf = buf[:0]
			buf = fmt.Appendf(buf, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, data)
			if _, err := w.Write(buf); err != nil {
				return
			}
			after = ev.Seq
		}
		if len(list) > 0 {
			if rc.Flush() != nil {
				return
			}
			if len(list) == batch {
				continue
			}
		}
		if !poll.Stop() {
			select {
			case <-poll.C:
			default:
			}
		}
		poll.Reset(h.cfg.Poll)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}
