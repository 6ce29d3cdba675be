package platform

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/mgx-dev/mgx/httpjson"
	"github.com/mgx-dev/mgx/oauth"
	"github.com/mgx-dev/mgx/terminal"
)

// components are the parts of MGX that serve HTTP or run loops, built on the services.
type components struct {
	OAuth    *oauth.Provider
	Verifier *oauth.Verifier
	Tickets  *terminal.Tickets
}

// background runs the components' loops until Close.
type background struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// goRun starts a component loop that lives until Close; its error is logged.
func (p *Platform) goRun(name string, run func(context.Context) error) {
	p.bg.wg.Add(1)
	go func() {
		defer p.bg.wg.Done()
		if err := run(p.bgCtx); err != nil && p.bgCtx.Err() == nil {
			p.Log.Error("component stopped", "component", name, "err", err)
		}
	}()
}

// buildComponents creates every component and mounts its routes: public ones on the
// top-level mux, /api ones on api, which only authenticated requests reach.
func (p *Platform) buildComponents(ctx context.Context) error {
	cfg := p.Config
	api := http.NewServeMux()

	// The provider's stores (users, clients, keys) serve every role; its endpoints and
	// key rotation run only in the oauth role.
	prov, err := oauth.New(ctx, oauth.Config{PublicURL: cfg.PublicURL, Store: p.Store, Logger: p.Log.With("component", "oauth")})
	if err != nil {
		return fmt.Errorf("OAuth provider: %w", err)
	}
	p.c.OAuth = prov
	if cfg.Roles.oauth() {
		created, err := prov.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return fmt.Errorf("first admin: %w", err)
		}
		if !created && p.AdminPassword != "" {
			// An admin already exists (the data dir lost its admin-password file): the
			// password generated now was not used, so neither print nor keep it.
			p.AdminPassword = ""
			_ = os.Remove(p.DataDir.Join("admin-password"))
			p.Log.WarnContext(ctx, "an admin already exists; no password was generated", "email", cfg.AdminEmail)
		}
		prov.Mount(p.mux)
		p.goRun("oauth", prov.Run)
	}
	if !cfg.Roles.control() {
		if cfg.Roles.scheduler() {
			return p.wireScheduler(ctx)
		}
		return nil
	}
	p.c.Verifier = oauth.NewVerifier(prov.Issuer(), prov.Keys(), p.Log)
	(&oauth.APIHandler{Users: prov.Users(), Verifier: p.c.Verifier, Logger: p.Log}).Mount(api)

	p.c.Tickets = &terminal.Tickets{}
	p.c.Tickets.Mount(api)

	if err := p.wireApps(ctx, api); err != nil {
		return err
	}

	api.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no API route "+r.Method+" "+r.URL.Path)
	})
	// Tickets (WebSockets, SSE from browsers) first, then bearer tokens; a request
	// carrying a principal from a ticket passes the bearer check.
	p.mux.Handle("/api/", p.c.Tickets.Middleware(p.c.Verifier.Middleware(api)))
	return nil
}
