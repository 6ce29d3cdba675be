// Package embedded starts the services `mgx up` needs when no external ones are
// configured: FerretDB (MongoDB wire protocol on SQLite) and Redis.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Mongo is an embedded FerretDB instance.
type Mongo struct {
	URI    string
	cancel context.CancelFunc
	done   chan struct{}
}

// StartMongo starts FerretDB with its SQLite files under dir, listening on addr
// ("127.0.0.1:0" for any free port). It returns once the listener accepts connections.
func StartMongo(ctx context.Context, dir, addr string, log *slog.Logger) (*Mongo, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded MongoDB: create %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// Check the address first: FerretDB's own error for a busy port is obscure.
	if l, err := net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("embedded MongoDB: listen on %s: %w", addr, err)
	} else {
		l.Close()
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
		// FerretDB's info and warning logs are noise for MGX users; errors still show.
		Logger: log.With("component", "ferretdb"),
	})
	if err != nil {
		return nil, fmt.Errorf("embedded MongoDB: %w", err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Mongo{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		_ = f.Run(rctx)
	}()
	uriCh := make(chan string, 1)
	go func() { uriCh <- f.MongoDBURI() }()
	select {
	case m.URI = <-uriCh:
	case <-time.After(15 * time.Second):
		cancel()
		return nil, errors.New("embedded MongoDB: did not start listening within 15s")
	}
	return m, nil
}

// Close stops FerretDB and waits for it to flush.
func (m *Mongo) Close() {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
	}
}

// QuietLogger keeps only errors: FerretDB logs every connection at info and many
// harmless things at warn.
func QuietLogger(h slog.Handler) *slog.Logger {
	return slog.New(levelHandler{h, slog.LevelError})
}

type levelHandler struct {
	slog.Handler
	min slog.Level
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
func (h levelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return levelHandler{h.Handler.WithAttrs(a), h.min}
}
func (h levelHandler) WithGroup(n string) slog.Handler {
	return levelHandler{h.Handler.WithGroup(n), h.min}
}
