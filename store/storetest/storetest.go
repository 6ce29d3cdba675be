// Package storetest gives tests a fresh database: on MGX_TEST_MONGODB_URI when set,
// otherwise on an embedded FerretDB shared by the whole test binary.
package storetest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mgx-dev/mgx/embedded"
	"github.com/mgx-dev/mgx/store"
)

var (
	once    sync.Once
	uri     string
	initErr error
)

// URI returns the MongoDB URI tests share, starting FerretDB on first use.
func URI(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if u := os.Getenv("MGX_TEST_MONGODB_URI"); u != "" {
			uri = u
			return
		}
		dir, err := os.MkdirTemp("", "mgx-ferretdb-")
		if err != nil {
			initErr = err
			return
		}
		// The FerretDB instance lives as long as the test binary; its temp dir is
		// removed by the OS's tmp cleaning, not here, because other tests may still use it.
		m, err := embedded.StartMongo(context.Background(), dir, "127.0.0.1:0",
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			initErr = err
			return
		}
		uri = m.URI
	})
	if initErr != nil {
		t.Fatalf("storetest: start FerretDB: %v", initErr)
	}
	return uri
}

// New opens a store on a database named after the test, dropped when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	name := dbName(t.Name())
	st, err := store.Open(context.Background(), store.Config{URI: URI(t), Database: name})
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = st.DB().Drop(ctx)
		_ = st.Close(ctx)
	})
	return st
}

// dbName turns a test name into a short, valid, unique database name.
func dbName(test string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range test {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() > 40 {
			break
		}
	}
	b.WriteByte('_')
	b.WriteString(store.ShortID()[:8])
	return b.String()
}
