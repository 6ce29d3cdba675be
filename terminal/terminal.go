package terminal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/mgx-dev/mgx/devenv"
	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/store"
)

// AppOwners finds an app's owner; an unknown app is an error wrapping store.ErrNotFound or
// devenv.ErrNotFound.
type AppOwners interface {
	AppOwner(ctx context.Context, slug string) (ownerID string, err error)
}

// Consoles gives access to the apps' dev consoles (devenv.Manager satisfies it).
type Consoles interface {
	Start(ctx context.Context, slug string) error
	Console(slug string) *devenv.Console
}

var _ Consoles = (*devenv.Manager)(nil)

// Handler serves GET /api/apps/{slug}/terminal: a WebSocket that sends the dev console's
// scrollback, then its output as it comes, as binary messages (raw terminal bytes, ANSI
// colours included). It is read-only: what the client sends is read and dropped. Opening
// it wakes the dev environment.
type Handler struct {
	Apps     AppOwners
	Consoles Consoles
	// OriginPatterns are extra allowed Origin hosts (the same host is always allowed).
	OriginPatterns []string
	// Ping is the keep-alive interval; default 30s.
	Ping   time.Duration
	Logger *slog.Logger
}

// Mount registers the route.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/apps/{slug}/terminal", h.serve)
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	who, ok := identity.From(r.Context())
	if !ok {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first (bearer token or ?ticket=)")
		return
	}
	slug := r.PathValue("slug")
	owner, err := h.Apps.AppOwner(r.Context(), slug)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, devenv.ErrNotFound) || (err == nil && !who.CanAccess(owner)) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such app")
		return
	}
	if err != nil {
		h.logger().ErrorContext(r.Context(), "terminal: app owner", "slug", slug, "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "app lookup failed")
		return
	}
	if err := h.Consoles.Start(r.Context(), slug); err != nil {
		h.logger().WarnContext(r.Context(), "terminal: start dev environment", "slug", slug, "err", err)
		httpjson.Error(w, http.StatusConflict, "devenv_unavailable", "the dev environment cannot start: "+err.Error())
		return
	}
	console := h.Consoles.Console(slug)
	if console == nil {
		httpjson.Error(w, http.StatusConflict, "devenv_unavailable", "the dev environment has no console")
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.OriginPatterns})
	if err != nil {
		return // Accept has answered
	}
	defer c.CloseNow()
	// Read-only: whatever the client sends is read and dropped (reading also answers pings
	// and notices the client's close).
	c.SetReadLimit(64 << 10)
	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	go func() {
		defer stop()
		for {
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()

	back, ch, cancel := console.Subscribe()
	defer cancel()
	if len(back) > 0 {
		if err := write(ctx, c, back); err != nil {
			return
		}
	}
	ping := h.Ping
	if ping <= 0 {
		ping = 30 * time.Second
	}
	t := time.NewTicker(ping)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case chunk, ok := <-ch:
			if !ok {
				_ = c.Close(websocket.StatusNormalClosure, "the dev environment stopped")
				return
			}
			if err := write(ctx, c, chunk); err != nil {
				return
			}
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
		}
	}
}

func write(ctx context.Context, c *websocket.Conn, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.Write(wctx, websocket.MessageBinary, b)
}
