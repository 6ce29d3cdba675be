package sessions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/sync/singleflight"

	"github.com/mgx-dev/mgx/apps"
	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/identity"
	"github.com/mgx-dev/mgx/scheduler"
	"github.com/mgx-dev/mgx/store"
)

// MaxPromptChars bounds a prompt or a follow-up message, in characters.
const MaxPromptChars = 20000

// EventLog is what the API needs of the event stream (events.Store has it).
type EventLog interface {
	Emit(ctx context.Context, sessionID, typ, role string, data map[string]any) error
	List(ctx context.Context, sessionID string, after int64, limit int) ([]events.Event, error)
	Wake(ctx context.Context, sessionID string) (<-chan struct{}, func())
}

// RunQueue queues and cancels agent runs (scheduler.Queue has it).
type RunQueue interface {
	Enqueue(ctx context.Context, req scheduler.RunRequest) (*scheduler.Run, error)
	Cancel(ctx context.Context, sessionID string) (int, error)
}

// RunReader reads a session's runs (scheduler.Runs has it).
type RunReader interface {
	Latest(ctx context.Context, sessionID string) (*scheduler.Run, error)
}

// Workspaces creates and removes workspace directories (workspace.Workspaces has it).
type Workspaces interface {
	Create(ctx context.Context, id string) (string, error)
	Remove(ctx context.Context, id string) error
}

// workspaceChowner is optional: give the rendered files to the containers' user.
type workspaceChowner interface {
	Chown(ctx context.Context, id string) error
}

// RenderFunc renders a framework's template into dir, e.g.
//
//	func(fw, dir, name, slug string) error {
//		return templates.Render(fw, dir, templates.Vars{AppName: name, Slug: slug})
//	}
type RenderFunc func(framework, dir, appName, slug string) error

// OAuthClients creates an app's confidential OAuth client (the oauth package has it).
type OAuthClients interface {
	CreateAppClient(ctx context.Context, slug string) (clientID, secret string, err error)
}

// OAuthClientDeleter is optional: remove the client again when session creation fails
// after it was made.
type OAuthClientDeleter interface {
	DeleteAppClient(ctx context.Context, slug string) error
}

// DevEnvironment starts an app's development environment without waiting for it
// (*devenv.Manager has it; it reads the app, its workspace and its client secret through
// its own AppSource). Progress shows in the app's "dev" status.
type DevEnvironment interface {
	Start(ctx context.Context, slug string) error
}

// Config configures the sessions API.
type Config struct {
	// DB is the MGX database (`sessions`). Required.
	DB *mongo.Database
	// Apps is the app store. Required.
	Apps *apps.Store
	// Events is the event stream (events.Store). Required.
	Events EventLog
	// Queue queues runs and Runs reads them (scheduler.Queue and its Runs()). Required.
	Queue RunQueue
	Runs  RunReader
	// Workspaces makes <data-dir>/workspaces/<id>. Required.
	Workspaces Workspaces
	// Render fills a new workspace from its template. Required.
	Render RenderFunc
	// OAuth creates each app's OAuth client. Optional: without it apps get none.
	OAuth OAuthClients
	// Dev starts each app's dev environment. Optional.
	Dev DevEnvironment
	// Heartbeat is the SSE comment interval. Default 15s.
	Heartbeat time.Duration
	// Poll is the SSE fallback poll when no Redis wake-up arrives. Default 2s.
	Poll time.Duration
	// Logger; default discards.
	Logger *slog.Logger
}

// Handler serves /api/sessions.
type Handler struct {
	cfg      Config
	sessions *Store
	log      *slog.Logger
	reads    singleflight.Group
}

// New returns the sessions API.
func New(cfg Config) (*Handler, error) {
	var errs []error
	for name, missing := range map[string]bool{
		"DB": cfg.DB == nil, "Apps": cfg.Apps == nil, "Events": cfg.Events == nil, "Queue": cfg.Queue == nil,
		"Runs": cfg.Runs == nil, "Workspaces": cfg.Workspaces == nil, "Render": cfg.Render == nil,
	} {
		if missing {
			errs = append(errs, fmt.Errorf("sessions: Config.%s is required", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{cfg: cfg, sessions: NewStore(cfg.DB), log: cfg.Logger}, nil
}

// Sessions is the session store.
func (h *Handler) Sessions() *Store { return h.sessions }

// Mount registers the routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/sessions", h.create)
	mux.HandleFunc("GET /api/sessions", h.list)
	mux.HandleFunc("GET /api/sessions/{id}", h.get)
	mux.HandleFunc("POST /api/sessions/{id}/messages", h.message)
	mux.HandleFunc("POST /api/sessions/{id}/cancel", h.cancel)
	mux.HandleFunc("GET /api/sessions/{id}/events", h.events)
}

// View is a session as the API shows it.
type View struct {
	ID          string         `json:"id"`
	WorkspaceID string         `json:"workspace_id"`
	App         any            `json:"app"`
	AppSlug     string         `json:"app_slug"`
	Framework   string         `json:"framework"`
	Prompt      string         `json:"prompt"`
	OwnerID     string         `json:"owner_id"`
	Status      string         `json:"status"` // the latest run's state; "idle" without runs
	Run         *scheduler.Run `json:"run,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
}

func (h *Handler) view(ctx context.Context, s *Session, app *apps.App) (View, error) {
	v := View{ID: s.ID, WorkspaceID: s.WorkspaceID, AppSlug: s.AppSlug, Framework: s.Framework, Prompt: s.Prompt,
		OwnerID: s.OwnerID, Status: "idle", CreatedAt: s.CreatedAt}
	if app == nil {
		a, err := h.cfg.Apps.Get(ctx, s.AppSlug)
		if err != nil && !errors.Is(err, apps.ErrNotFound) {
			return v, err
		}
		app = a
	}
	if app != nil {
		v.App = app // App hides its sealed secret from JSON
	} else {
		v.App = map[string]any{"slug": s.AppSlug}
	}
	r, err := h.cfg.Runs.Latest(ctx, s.ID)
	switch {
	case err == nil:
		v.Run, v.Status = r, r.State
	case !errors.Is(err, scheduler.ErrNotFound):
		return v, err
	}
	return v, nil
}

func principal(w http.ResponseWriter, r *http.Request) (identity.Principal, bool) {
	p, ok := identity.From(r.Context())
	if !ok || p.UserID == "" {
		httpjson.Error(w, http.StatusUnauthorized, "unauthorized", "sign in first")
		return p, false
	}
	if p.Realm != "" && p.Realm != "mgx" { // an app's end user, not a platform user
		httpjson.Error(w, http.StatusForbidden, "forbidden", "only MGX users may use the MGX API")
		return p, false
	}
	return p, true
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.log.ErrorContext(r.Context(), what, "err", err)
	httpjson.Error(w, http.StatusInternalServerError, "internal", what)
}

// load returns the session named in the path if the caller may see it; otherwise it
// has answered (404 for someone else's session: its existence is not revealed).
func (h *Handler) load(w http.ResponseWriter, r *http.Request) (*Session, bool) {
	p, ok := principal(w, r)
	if !ok {
		return nil, false
	}
	s, err := h.sessions.Get(r.Context(), r.PathValue("id"))
	if err != nil && !errors.Is(err, ErrNotFound) {
		h.internal(w, r, "cannot read the session", err)
		return nil, false
	}
	if err != nil || !p.CanAccess(s.OwnerID) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such session")
		return nil, false
	}
	return s, true
}

// checkText validates a prompt or message.
func checkText(field, v string) error {
	switch {
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8", field)
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%s is empty", field)
	case utf8.RuneCountInString(v) > MaxPromptChars:
		return fmt.Errorf("%s is longer than %d characters", field, MaxPromptChars)
	}
	return nil
}

type createRequest struct {
	Prompt    string  `json:"prompt"`
	Framework string  `json:"framework"`
	Name      *string `json:"name,omitempty"`
}

func (h *Handler) create(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	var req createRequest
	if httpjson.Decode(w, r, &req, 4*MaxPromptChars+64<<10) != nil {
		return
	}
	var problems []string
	if err := checkText("prompt", req.Prompt); err != nil {
		problems = append(problems, err.Error())
	}
	if !apps.ValidFramework(req.Framework) {
		problems = append(problems, fmt.Sprintf("framework %q must be %q or %q", req.Framework, apps.FrameworkNextJS, apps.FrameworkFastAPIReact))
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
		if err := apps.ValidateName(name); err != nil {
			problems = append(problems, "name: "+strings.TrimPrefix(err.Error(), apps.ErrInvalidName.Error()+": "))
		}
	} else if len(problems) == 0 {
		name = apps.NameFromPrompt(req.Prompt)
	}
	if len(problems) > 0 {
		httpjson.Error(w, http.StatusBadRequest, "invalid_request", strings.Join(problems, "; "))
		return
	}
	v, err := h.createSession(r.Context(), p, req.Prompt, req.Framework, name)
	if err != nil {
		h.internal(w, r, "cannot create the session", err)
		return
	}
	httpjson.Write(w, http.StatusCreated, v)
}

// createSession makes everything a session needs, undoing what it made when a step fails.
func (h *Handler) createSession(ctx context.Context, p identity.Principal, prompt, framework, name string) (View, error) {
	var undo []func(context.Context)
	fail := func(err error) (View, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i](cctx)
		}
		return View{}, err
	}
	sess := &Session{ID: store.ShortID(), OwnerID: p.UserID, WorkspaceID: store.ShortID(), Framework: framework,
		Prompt: prompt, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}

	app, err := h.cfg.Apps.Create(ctx, apps.App{Name: name, Framework: framework, OwnerID: p.UserID,
		WorkspaceID: sess.WorkspaceID, SessionID: sess.ID})
	if err != nil {
		return fail(fmt.Errorf("create app: %w", err))
	}
	sess.AppSlug = app.Slug
	undo = append(undo, func(c context.Context) { _ = h.cfg.Apps.Delete(c, app.Slug) })

	dir, err := h.cfg.Workspaces.Create(ctx, sess.WorkspaceID)
	if err != nil {
		return fail(fmt.Errorf("create workspace: %w", err))
	}
	undo = append(undo, func(c context.Context) { _ = h.cfg.Workspaces.Remove(c, sess.WorkspaceID) })
	if err := h.cfg.Render(framework, dir, app.Name, app.Slug); err != nil {
		return fail(fmt.Errorf("render %s template: %w", framework, err))
	}
	if c, ok := h.cfg.Workspaces.(workspaceChowner); ok {
		if err := c.Chown(ctx, sess.WorkspaceID); err != nil {
			return fail(fmt.Errorf("chown workspace: %w", err))
		}
	}

	if h.cfg.OAuth != nil {
		clientID, sec, err := h.cfg.OAuth.CreateAppClient(ctx, app.Slug)
		if err != nil {
			return fail(fmt.Errorf("create OAuth client: %w", err))
		}
		if d, ok := h.cfg.OAuth.(OAuthClientDeleter); ok {
			undo = append(undo, func(c context.Context) { _ = d.DeleteAppClient(c, app.Slug) })
		}
		if err := h.cfg.Apps.SetOAuthClient(ctx, app.Slug, clientID, sec); err != nil {
			return fail(err)
		}
		app.OAuthClientID = clientID
	}

	if err := h.sessions.Create(ctx, sess); err != nil {
		return fail(err)
	}
	undo = append(undo, func(c context.Context) { _ = h.sessions.Delete(c, sess.ID) })
	if err := h.cfg.Events.Emit(ctx, sess.ID, events.Message, "user", map[string]any{"content": prompt}); err != nil {
		return fail(fmt.Errorf("record the prompt: %w", err))
	}
	if _, err := h.cfg.Queue.Enqueue(ctx, scheduler.RunRequest{SessionID: sess.ID, WorkspaceID: sess.WorkspaceID,
		Framework: framework, AppSlug: app.Slug, Prompt: prompt}); err != nil {
		return fail(fmt.Errorf("queue the first run: %w", err))
	}
	// From here the session exists: a dev environment that does not start is reported,
	// not undone (the agent still writes the code; the preview can be started again).
	if h.cfg.Dev != nil {
		if err := h.cfg.Dev.Start(ctx, app.Slug); err != nil {
			h.log.WarnContext(ctx, "dev environment did not start", "slug", app.Slug, "err", err)
			_ = h.cfg.Events.Emit(ctx, sess.ID, events.Message, scheduler.RoleScheduler, map[string]any{
				"text": "The development environment did not start: " + err.Error(),
			})
		}
	}
	h.log.InfoContext(ctx, "session created", "session", sess.ID, "slug", app.Slug, "owner", p.UserID)
	// The app as stored now (with its client id), never its secret.
	if a, err := h.cfg.Apps.Get(ctx, app.Slug); err == nil {
		app = a
	}
	return h.view(ctx, sess, app)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	owner := p.UserID
	if p.Admin {
		owner = ""
	}
	limit := 100
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l <= 1000 {
		limit = l
	}
	list, err := h.sessions.List(r.Context(), owner, limit)
	if err != nil {
		h.internal(w, r, "cannot list sessions", err)
		return
	}
	out := make([]View, 0, len(list))
	for i := range list {
		v, err := h.view(r.Context(), &list[i], nil)
		if err != nil {
			h.internal(w, r, "cannot list sessions", err)
			return
		}
		out = append(out, v)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"sessions": out})
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	s, ok := h.load(w, r)
	if !ok {
		return
	}
	v, err := h.view(r.Context(), s, nil)
	if err != nil {
		h.internal(w, r, "cannot read the session", err)
		return
	}
	httpjson.Write(w, http.StatusOK, v)
}

type messageRequest struct {
	Content string `json:"content"`
}

func (h *Handler) message(w http.ResponseWriter, r *http.Request) {
	s, ok := h.load(w, r)
	if !ok {
		return
	}
	var req messageRequest
	if httpjson.Decode(w, r, &req, 4*MaxPromptChars+64<<10) != nil {
		return
	}
	if err := checkText("content", req.Content); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if err := h.cfg.Events.Emit(r.Context(), s.ID, events.Message, "user", map[string]any{"content": req.Content}); err != nil {
		h.internal(w, r, "cannot record the message", err)
		return
	}
	run, err := h.cfg.Queue.Enqueue(r.Context(), scheduler.RunRequest{SessionID: s.ID, WorkspaceID: s.WorkspaceID,
		Framework: s.Framework, AppSlug: s.AppSlug, Prompt: req.Content})
	if err != nil {
		h.internal(w, r, "cannot queue the run", err)
		return
	}
	httpjson.Write(w, http.StatusAccepted, map[string]any{"run": run})
}

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	s, ok := h.load(w, r)
	if !ok {
		return
	}
	n, err := h.cfg.Queue.Cancel(r.Context(), s.ID)
	if err != nil {
		h.internal(w, r, "cannot cancel", err)
		return
	}
	if n == 0 {
		httpjson.Error(w, http.StatusConflict, "no_active_run", "the session has no queued or running run")
		return
	}
	httpjson.Write(w, http.StatusAccepted, map[string]any{"cancelled": n})
}
