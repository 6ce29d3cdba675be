// Package terminal serves the read-only dev console of an app over a WebSocket
// (GET /api/apps/{slug}/terminal) and the short-lived single-use tickets browsers use to
// authenticate WebSockets and event streams, which cannot carry an Authorization header.
package terminal

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
)

// Tickets issues single-use tickets that stand for the caller for a short time. They live
// in memory: with several control instances, route /api/tickets and the streams of one
// browser to the same instance, or replace this store.
type Tickets struct {
	// TTL is a ticket's lifetime; default 60s.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu      sync.Mutex
	tickets map[string]ticket
}

type ticket struct {
	p       identity.Principal
	expires time.Time
}

func (t *Tickets) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tickets) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return time.Minute
}

// Issue returns a new ticket for p.
func (t *Tickets) Issue(p identity.Principal) (string, time.Time) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	tk := base64.RawURLEncoding.EncodeToString(b[:])
	exp := t.now().Add(t.ttl())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tickets == nil {
		t.tickets = map[string]ticket{}
	}
	for k, v := range t.tickets { // expired ones go as new ones come
		if t.now().After(v.expires) {
			delete(t.tickets, k)
		}
	}
	t.tickets[tk] = ticket{p: p, expires: exp}
	return tk, exp
}

// Redeem consumes a ticket: it works once, before it expires.
func (t *Tickets) Redeem(tk string) (identity.Principal, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.tickets[tk]
	if !ok {
		return identity.Principal{}, false
	}
	delete(t.tickets, tk)
	if t.now().After(v.expires) {
		return identity.Principal{}, false
	}
	return v.p, true
}

// Mount registers POST /api/tickets (behind the bearer-token middleware).
func (t *Tickets) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/tickets", t.issue)
}

func (t *Tickets) issue(w http.ResponseWriter, r *http.Request) {
	p, ok := identity.From(r.Context())
	if !ok {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return
	}
	tk, exp := t.Issue(p)
	httpjson.Write(w, http.StatusCreated, map[string]any{"ticket": tk, "expires_at": exp.UTC(), "expires_in": int(t.ttl().Seconds())})
}

// Middleware authenticates a GET request carrying ?ticket= (WebSockets, SSE) as the
// ticket's principal. Put it outside the bearer-token middleware, which lets requests
// that already carry a principal through. An invalid ticket is a 401.
func (t *Tickets) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tk := r.URL.Query().Get("ticket")
		if tk == "" || r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		p, ok := t.Redeem(tk)
		if !ok {
			httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "the ticket is invalid, used or expired")
			return
		}
		next.ServeHTTP(w, r.WithContext(identity.With(r.Context(), p)))
	})
}
