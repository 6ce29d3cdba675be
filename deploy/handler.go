package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/store"
)

// Mount registers the deployment API:
//
//	POST /api/apps/{slug}/deployments                 {from?: id} → 202 the deployment (409 while one runs)
//	GET  /api/apps/{slug}/deployments                 → {deployments: [...], live_deployment_id}
//	GET  /api/apps/{slug}/deployments/{id}
//	GET  /api/apps/{slug}/deployments/{id}/logs       build log as SSE (replayable; Last-Event-ID)
//	POST /api/apps/{slug}/deployments/{id}/rollback   → 202 a new deployment of that build
func (dp *Deployer) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/apps/{slug}/deployments", dp.serveCreate)
	mux.HandleFunc("GET /api/apps/{slug}/deployments", dp.serveList)
	mux.HandleFunc("GET /api/apps/{slug}/deployments/{id}", dp.serveGet)
	mux.HandleFunc("GET /api/apps/{slug}/deployments/{id}/logs", dp.serveLogs)
	mux.HandleFunc("POST /api/apps/{slug}/deployments/{id}/rollback", dp.serveRollback)
}

// authorize answers itself and returns false unless the caller owns the app or is an
// admin; others get 404, as if the app did not exist.
func (dp *Deployer) authorize(w http.ResponseWriter, r *http.Request) (identity.Principal, bool) {
	p, ok := identity.From(r.Context())
	if !ok {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return p, false
	}
	app, err := dp.cfg.Apps.DeployApp(r.Context(), r.PathValue("slug"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		dp.log.ErrorContext(r.Context(), "get app", "slug", r.PathValue("slug"), "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot read the app")
		return p, false
	}
	if err != nil || !p.CanAccess(app.OwnerID) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such app")
		return p, false
	}
	return p, true
}

func (dp *Deployer) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrBusy):
		httpjson.Error(w, http.StatusConflict, "deployment_in_progress", "a deployment of this app is already in progress")
	case errors.Is(err, ErrNotRollbackable):
		httpjson.Error(w, http.StatusConflict, "not_rollbackable", err.Error())
	case errors.Is(err, store.ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such deployment")
	default:
		dp.log.ErrorContext(r.Context(), "deployment API", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "cannot handle the deployment")
	}
}

func (dp *Deployer) serveCreate(w http.ResponseWriter, r *http.Request) {
	p, ok := dp.authorize(w, r)
	if !ok {
		return
	}
	var body struct {
		From string `json:"from"`
	}
	if r.ContentLength != 0 {
		if err := httpjson.Decode(w, r, &body, 4<<10); err != nil {
			return
		}
	}
	dp.create(w, r, p, body.From)
}

func (dp *Deployer) serveRollback(w http.ResponseWriter, r *http.Request) {
	p, ok := dp.authorize(w, r)
	if !ok {
		return
	}
	dp.create(w, r, p, r.PathValue("id"))
}

func (dp *Deployer) create(w http.ResponseWriter, r *http.Request, p identity.Principal, from string) {
	d, err := dp.Create(r.Context(), r.PathValue("slug"), p.UserID, from)
	if err != nil {
		dp.writeErr(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/apps/"+d.Slug+"/deployments/"+d.ID)
	httpjson.Write(w, http.StatusAccepted, d)
}

func (dp *Deployer) serveList(w http.ResponseWriter, r *http.Request) {
	if _, ok := dp.authorize(w, r); !ok {
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ds, err := dp.List(r.Context(), r.PathValue("slug"), limit)
	if err != nil {
		dp.writeErr(w, r, err)
		return
	}
	out := map[string]any{"deployments": ds}
	for _, d := range ds {
		if d.Status == StatusLive {
			out["live_deployment_id"] = d.ID
			out["url"] = d.URL
			break
		}
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (dp *Deployer) serveGet(w http.ResponseWriter, r *http.Request) {
	if _, ok := dp.authorize(w, r); !ok {
		return
	}
	d, err := dp.Get(r.Context(), r.PathValue("slug"), r.PathValue("id"))
	if err != nil {
		dp.writeErr(w, r, err)
		return
	}
	httpjson.Write(w, http.StatusOK, d)
}

// serveLogs streams the build log: "log" events ({seq, ts, text}, id = seq), a "status"
// event with the deployment whenever its status changes, and a final "end" event with the
// finished deployment, after which the stream closes. Last-Event-ID resumes after a line.
func (dp *Deployer) serveLogs(w http.ResponseWriter, r *http.Request) {
	if _, ok := dp.authorize(w, r); !ok {
		return
	}
	ctx := r.Context()
	slug, id := r.PathValue("slug"), r.PathValue("id")
	d, err := dp.Get(ctx, slug, id)
	if err != nil {
		dp.writeErr(w, r, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		httpjson.Error(w, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	var after int64
	if v, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && v > 0 {
		after = v
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event, id string, v any) {
		b, _ := json.Marshal(v)
		if id != "" {
			fmt.Fprintf(w, "id: %s\n", id)
		}
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	}
	lastStatus := ""
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		wake := dp.logWaiter(id)
		lines, err := dp.st.readLogs(ctx, id, after, 1000)
		if err != nil {
			return
		}
		for _, l := range lines {
			send("log", strconv.FormatInt(l.Seq, 10), l)
			after = l.Seq
		}
		if len(lines) == 1000 {
			flusher.Flush()
			continue
		}
		if d, err = dp.Get(ctx, slug, id); err != nil {
			return
		}
		if d.Status != lastStatus {
			lastStatus = d.Status
			send("status", "", d)
		}
		if !InProgress(d.Status) {
			// Lines written just before the final status are read once more.
			if more, err := dp.st.readLogs(ctx, id, after, 100000); err == nil {
				for _, l := range more {
					send("log", strconv.FormatInt(l.Seq, 10), l)
				}
			}
			send("end", "", d)
			flusher.Flush()
			return
		}
		flusher.Flush()
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(time.Second): // another MGX instance may be running the build
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		}
	}
}
