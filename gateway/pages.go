package gateway

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mgx-dev/mgx/gateway-plugins/approuter"
	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/store"
)

// pages answers for apps that cannot be proxied: unknown (404), starting (503 with an
// auto-refresh), not deployed yet (404), upstream down (502), bad path (4xx). Browsers get
// a small HTML page, other clients the JSON error shape.
type pages struct {
	waker Waker
	log   *slog.Logger

	wakeWait time.Duration

	mu     sync.Mutex
	waking map[string]*wakeCall // by slug
}

// wakeCall is one Ensure running in the background; requests wait for it a little.
type wakeCall struct {
	done chan struct{}
	err  error
}

func newPages(w Waker, wait time.Duration, log *slog.Logger) *pages {
	return &pages{waker: w, wakeWait: wait, log: log, waking: map[string]*wakeCall{}}
}

// wakeTimeout bounds one Ensure.
const wakeTimeout = 5 * time.Minute

// wake starts Ensure for slug unless it is running, and waits up to wakeWait. done says
// whether Ensure finished, with err its result.
func (p *pages) wake(r *http.Request, slug string) (done bool, err error) {
	p.mu.Lock()
	c := p.waking[slug]
	if c == nil {
		c = &wakeCall{done: make(chan struct{})}
		p.waking[slug] = c
		// The request's context ends with the request; waking must not.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), wakeTimeout)
		go func() {
			defer cancel()
			c.err = p.waker.Ensure(ctx, slug)
			p.mu.Lock()
			delete(p.waking, slug)
			p.mu.Unlock()
			close(c.done)
		}()
	}
	p.mu.Unlock()
	t := time.NewTimer(p.wakeWait)
	defer t.Stop()
	select {
	case <-c.done:
		return true, c.err
	case <-t.C:
	case <-r.Context().Done():
	}
	return false, nil
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}<title>{{.Title}} · MGX</title>
<style>body{font:16px/1.5 system-ui,sans-serif;color:#1f2937;background:#f9fafb;display:grid;place-items:center;min-height:100vh;margin:0}
main{max-width:32rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px #0002}h1{font-size:1.25rem;margin:0 0 .5rem}
p{margin:.25rem 0;color:#4b5563}code{background:#f3f4f6;padding:0 .25rem;border-radius:4px}</style></head>
<body><main><h1>{{.Title}}</h1><p>{{.Message}}</p>{{if .Refresh}}<p>This page refreshes by itself.</p>{{end}}
<p><a href="/">MGX home</a></p></main></body></html>
`))

type page struct {
	Status  int
	Code    string
	Title   string
	Message string
	Refresh int // seconds; 0 for none
}

func (p *pages) write(w http.ResponseWriter, r *http.Request, pg page) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if pg.Refresh > 0 {
		h.Set("Retry-After", "2")
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		httpjson.Error(w, pg.Status, pg.Code, pg.Message)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(pg.Status)
	if r.Method != http.MethodHead {
		_ = pageTmpl.Execute(w, pg)
	}
}

func badPath(res approuter.Result) page {
	code := "bad_path"
	if res.Status == http.StatusRequestURITooLong {
		code = "path_too_long"
	}
	return page{Status: res.Status, Code: code, Title: "Bad address", Message: "This address cannot be served: " + res.Reason + "."}
}

func notFound(slug string) page {
	return page{Status: http.StatusNotFound, Code: "app_not_found", Title: "No such app",
		Message: "There is no app named “" + slug + "” here."}
}

func (p *pages) upstreamDown(w http.ResponseWriter, r *http.Request, e *entry) {
	p.write(w, r, page{Status: http.StatusBadGateway, Code: "upstream_down", Title: "The app is not answering",
		Message: "“" + e.Slug + "” did not answer. If it was just changed it may be restarting; try again in a moment.", Refresh: 5})
}

// serveApp answers an app path ("/apps/…", "/dev/…") that has no running upstream in t.
// It returns true, having written nothing, when a dev environment was woken within the
// wait and the request should be routed again.
func (p *pages) serveApp(w http.ResponseWriter, r *http.Request, t *table, clean string, mayRetry bool) (retry bool) {
	_, kind, slug, _ := appKey(clean)
	if slug == "" || !approuter.ValidSlug(slug) {
		p.write(w, r, notFound(slug))
		return false
	}
	e, _ := t.match(clean)
	if kind == KindDev {
		return p.serveDev(w, r, t, slug, e, mayRetry)
	}
	switch {
	case e == nil && !t.slugs[slug]:
		p.write(w, r, notFound(slug))
	case e == nil:
		p.write(w, r, page{Status: http.StatusNotFound, Code: "not_deployed", Title: "Not deployed yet",
			Message: "“" + slug + "” has not been deployed yet. Deploy it from MGX to serve it here."})
	default:
		p.write(w, r, page{Status: http.StatusServiceUnavailable, Code: "starting", Title: "Starting…",
			Message: "“" + slug + "” is being deployed.", Refresh: 3})
	}
	return false
}

func (p *pages) serveDev(w http.ResponseWriter, r *http.Request, t *table, slug string, e *entry, mayRetry bool) (retry bool) {
	if p.waker == nil {
		if e == nil && !t.slugs[slug] {
			p.write(w, r, notFound(slug))
			return false
		}
	} else {
		done, err := p.wake(r, slug)
		switch {
		case done && (errors.Is(err, ErrUnknownApp) || errors.Is(err, store.ErrNotFound)):
			p.write(w, r, notFound(slug))
			return false
		case done && err != nil:
			p.log.ErrorContext(r.Context(), "wake dev environment", "slug", slug, "err", err)
			p.write(w, r, page{Status: http.StatusServiceUnavailable, Code: "wake_failed", Title: "Could not start",
				Message: "The development environment of “" + slug + "” could not be started. MGX shows why on the app's page.", Refresh: 10})
			return false
		case done && mayRetry:
			return true // started within the wait: route the request again, once
		}
	}
	p.write(w, r, page{Status: http.StatusServiceUnavailable, Code: "starting", Title: "Starting…",
		Message: "The development environment of “" + slug + "” is starting.", Refresh: 2})
	return false
}
