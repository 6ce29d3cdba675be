// Package apps is MGX's app model: one document per generated app in MongoDB `apps`, with
// a unique URL-friendly slug derived from the app's name, its framework, owner, workspace
// and session, and its OAuth client whose secret is kept encrypted at rest. It serves
// GET /api/apps[/{slug}].
package apps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/store"
)

// Frameworks an app can be built with (the templates).
const (
	FrameworkNextJS       = "nextjs"
	FrameworkFastAPIReact = "fastapi-react"
)

// ValidFramework reports whether f is a known framework.
func ValidFramework(f string) bool { return f == FrameworkNextJS || f == FrameworkFastAPIReact }

// Errors of the package.
var (
	// ErrNotFound: no such app.
	ErrNotFound = fmt.Errorf("app %w", store.ErrNotFound)
	// ErrNoSecret: the app has no OAuth client secret yet.
	ErrNoSecret = errors.New("apps: no client secret")
)

const collection = "apps"

// App is one generated app.
type App struct {
	ID          string `bson:"_id" json:"id"`
	Slug        string `bson:"slug" json:"slug"`
	Name        string `bson:"name" json:"name"`
	Framework   string `bson:"framework" json:"framework"`
	OwnerID     string `bson:"owner_id" json:"owner_id"`
	WorkspaceID string `bson:"workspace_id" json:"workspace_id"`
	SessionID   string `bson:"session_id,omitempty" json:"session_id,omitempty"`
	// OAuthClientID is the app's confidential client (`app-<slug>` by convention).
	OAuthClientID string `bson:"oauth_client_id,omitempty" json:"oauth_client_id,omitempty"`
	// ClientSecretSealed is the client secret sealed with the SecretBox (aad: the app id).
	// It never leaves the server: read it with Store.ClientSecret to hand it to the app's
	// containers only.
	ClientSecretSealed []byte    `bson:"client_secret_sealed,omitempty" json:"-"`
	CreatedAt          time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt          time.Time `bson:"updated_at" json:"updated_at"`
	// Dev is the development environment's state, written by the dev environment.
	Dev map[string]any `bson:"dev,omitempty" json:"dev,omitempty"`
	// LiveDeploymentID is the deployment serving /apps/<slug>/, written by deploy.
	LiveDeploymentID string `bson:"live_deployment_id,omitempty" json:"live_deployment_id,omitempty"`
}

// Store keeps apps in MongoDB.
type Store struct {
	coll *mongo.Collection
	box  *SecretBox
}

// NewStore uses the MGX database; box seals client secrets (NewSecretBox(LoadOrCreateKey)).
func NewStore(db *mongo.Database, box *SecretBox) *Store {
	return &Store{coll: db.Collection(collection), box: box}
}

// EnsureIndexes creates the unique slug index and the owner index.
func EnsureIndexes(ctx context.Context, st *store.Store) error {
	return st.EnsureIndexes(ctx, collection,
		mongo.IndexModel{Keys: bson.D{{Key: "slug", Value: 1}}, Options: options.Index().SetUnique(true).SetName("slug")},
		mongo.IndexModel{Keys: bson.D{{Key: "owner_id", Value: 1}, {Key: "created_at", Value: -1}}, Options: options.Index().SetName("owner")},
		mongo.IndexModel{Keys: bson.D{{Key: "workspace_id", Value: 1}}, Options: options.Index().SetName("workspace")},
	)
}

// Create inserts a new app. It sets ID, timestamps and Slug: the slug of a.Name, or of
// a.Slug when the caller set one, with "-2", "-3"… appended while it is taken or
// reserved. a.Name must pass ValidateName and a.Framework ValidFramework.
func (s *Store) Create(ctx context.Context, a App) (*App, error) {
	if err := ValidateName(a.Name); err != nil {
		return nil, err
	}
	if !ValidFramework(a.Framework) {
		return nil, fmt.Errorf("apps: unknown framework %q", a.Framework)
	}
	base := Slugify(a.Slug)
	if base == "" {
		base = Slugify(a.Name)
	}
	if base == "" {
		base = "app"
	}
	a.ID = store.NewID()
	a.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	a.UpdatedAt = a.CreatedAt
	a.ClientSecretSealed = nil
	for n := 1; n <= 1000; n++ {
		switch {
		case n == 1:
			a.Slug = base
		case n <= 50:
			a.Slug = withSuffix(base, fmt.Sprint(n))
		default:
			// A crowded name: stop counting and pick a random suffix.
			a.Slug = withSuffix(base, store.ShortID()[:6])
		}
		if Reserved(a.Slug) {
			continue
		}
		_, err := s.coll.InsertOne(ctx, a)
		if err == nil {
			return &a, nil
		}
		if !errors.Is(store.Translate(err), store.ErrConflict) {
			return nil, fmt.Errorf("create app %s: %w", a.Slug, err)
		}
	}
	return nil, fmt.Errorf("create app %q: no free slug: %w", a.Name, store.ErrConflict)
}

// Get returns the app with that slug.
func (s *Store) Get(ctx context.Context, slug string) (*App, error) {
	var a App
	if err := s.coll.FindOne(ctx, bson.M{"slug": slug}).Decode(&a); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("%s: %w", slug, ErrNotFound)
		}
		return nil, fmt.Errorf("get app %s: %w", slug, err)
	}
	return &a, nil
}

// WorkspaceOwner returns the owner and session of the app whose workspace this is; it
// implements workspace.OwnerLookup. An unknown workspace is an error wrapping ErrNotFound
// (and store.ErrNotFound).
func (s *Store) WorkspaceOwner(ctx context.Context, workspaceID string) (ownerID, sessionID string, err error) {
	var a App
	err = s.coll.FindOne(ctx, bson.M{"workspace_id": workspaceID},
		options.FindOne().SetProjection(bson.M{"owner_id": 1, "session_id": 1})).Decode(&a)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", "", fmt.Errorf("workspace %s: %w", workspaceID, ErrNotFound)
	}
	if err != nil {
		return "", "", fmt.Errorf("owner of workspace %s: %w", workspaceID, err)
	}
	return a.OwnerID, a.SessionID, nil
}

// List returns the apps of ownerID, newest first; ownerID "" lists every app.
func (s *Store) List(ctx context.Context, ownerID string, limit int) ([]App, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	filter := bson.M{}
	if ownerID != "" {
		filter["owner_id"] = ownerID
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	out := []App{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return out, nil
}

func (s *Store) set(ctx context.Context, slug string, fields bson.M) error {
	fields["updated_at"] = time.Now().UTC().Truncate(time.Millisecond)
	res, err := s.coll.UpdateOne(ctx, bson.M{"slug": slug}, bson.M{"$set": fields})
	if err != nil {
		return fmt.Errorf("update app %s: %w", slug, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%s: %w", slug, ErrNotFound)
	}
	return nil
}

// SetSession records the app's session.
func (s *Store) SetSession(ctx context.Context, slug, sessionID string) error {
	return s.set(ctx, slug, bson.M{"session_id": sessionID})
}

// SetOAuthClient records the app's OAuth client, sealing the secret.
func (s *Store) SetOAuthClient(ctx context.Context, slug, clientID, secret string) error {
	a, err := s.Get(ctx, slug)
	if err != nil {
		return err
	}
	sealed, err := s.box.Seal([]byte(secret), a.ID)
	if err != nil {
		return fmt.Errorf("seal client secret of %s: %w", slug, err)
	}
	return s.set(ctx, slug, bson.M{"oauth_client_id": clientID, "client_secret_sealed": sealed})
}

// ClientSecret opens the app's OAuth client secret, for the app's containers only (dev
// environment, production): never log it or put it in a response or an event.
func (s *Store) ClientSecret(ctx context.Context, slug string) (string, error) {
	a, err := s.Get(ctx, slug)
	if err != nil {
		return "", err
	}
	return s.OpenSecret(a)
}

// OpenSecret opens the sealed client secret of an app already read.
func (s *Store) OpenSecret(a *App) (string, error) {
	if len(a.ClientSecretSealed) == 0 {
		return "", fmt.Errorf("%s: %w", a.Slug, ErrNoSecret)
	}
	b, err := s.box.Open(a.ClientSecretSealed, a.ID)
	if err != nil {
		return "", fmt.Errorf("client secret of %s: %w", a.Slug, err)
	}
	return string(b), nil
}

// Delete removes the app's document (not its workspace, client or deployments).
func (s *Store) Delete(ctx context.Context, slug string) error {
	res, err := s.coll.DeleteOne(ctx, bson.M{"slug": slug})
	if err != nil {
		return fmt.Errorf("delete app %s: %w", slug, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%s: %w", slug, ErrNotFound)
	}
	return nil
}
