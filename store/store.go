// Package store is MGX's one door to MongoDB (mongo-driver v2). It speaks to a real
// MongoDB in production and to the embedded FerretDB in `mgx up` and in tests; code
// above it does not know which.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Sentinel errors at the storage boundary; callers compare with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Config says where the database is.
type Config struct {
	// URI is a MongoDB connection string, e.g. mongodb://127.0.0.1:27017/.
	URI string
	// Database is the MGX database name. Default "mgx".
	Database string
	// ConnectTimeout bounds the first ping. Default 10s.
	ConnectTimeout time.Duration
}

// Store holds one client and the MGX database.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
}

// Open connects and pings. The caller must Close.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URI == "" {
		return nil, errors.New("store: empty MongoDB URI")
	}
	if cfg.Database == "" {
		cfg.Database = "mgx"
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	opts := options.Client().ApplyURI(cfg.URI).
		SetServerSelectionTimeout(cfg.ConnectTimeout).
		SetConnectTimeout(cfg.ConnectTimeout)
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := client.Ping(pctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("ping MongoDB: %w", err)
	}
	return &Store{client: client, db: client.Database(cfg.Database)}, nil
}

// DB is the MGX database.
func (s *Store) DB() *mongo.Database { return s.db }

// Database is another database on the same server (an app's database).
func (s *Store) Database(name string) *mongo.Database { return s.client.Database(name) }

// Client is the underlying client, for the rare caller that needs it.
func (s *Store) Client() *mongo.Client { return s.client }

// Ping reports whether the server answers; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error {
	return s.client.Ping(ctx, readpref.Primary())
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// EnsureIndexes creates the indexes a collection lacks. Indexes are matched by name
// (set one with options.Index().SetName) and created one at a time: FerretDB v1 drops
// the connection when one createIndexes command names several indexes that exist.
func (s *Store) EnsureIndexes(ctx context.Context, coll string, models ...mongo.IndexModel) error {
	if len(models) == 0 {
		return nil
	}
	c := s.db.Collection(coll)
	existing := map[string]bool{}
	if names, err := c.Indexes().ListSpecifications(ctx); err == nil {
		for _, n := range names {
			existing[n.Name] = true
		}
	}
	for _, m := range models {
		if name := indexName(m); name != "" && existing[name] {
			continue
		}
		if _, err := c.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("create index %s on %s: %w", indexName(m), coll, err)
		}
	}
	return nil
}

// indexName is the model's explicit name, or "" when the server will derive one.
func indexName(m mongo.IndexModel) string {
	if m.Options == nil {
		return ""
	}
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		_ = set(&o)
	}
	if o.Name == nil {
		return ""
	}
	return *o.Name
}

// Translate maps driver errors to the sentinels, keeping the original in the chain.
func Translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// NewID returns a random 128-bit id as 32 hex characters, safe in URLs and names.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// ShortID is a 64-bit random id (16 hex characters) for things people see, like session ids.
func ShortID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
