package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ory/fosite"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mgx-dev/mgx/password"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/users"
)

// The platform's own clients.
const (
	WebClientID = "mgx-web"
	CLIClientID = "mgx-cli"
	// PlatformAudience is the audience of access tokens the control plane accepts.
	PlatformAudience = "mgx"
	// AppClientPrefix + slug is an app's client id.
	AppClientPrefix = "app-"
)

const clientsCollection = "oauth_clients"

// ErrInvalidSlug is returned for slugs that cannot name an app client.
var ErrInvalidSlug = errors.New("invalid app slug")

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Client is a fosite client with the realm its users belong to.
type Client struct {
	*fosite.DefaultClient
	Realm                  string
	PostLogoutRedirectURIs []string
}

var _ fosite.Client = (*Client)(nil)

type appClientDoc struct {
	ID         string    `bson:"_id"`
	Slug       string    `bson:"slug"`
	SecretHash []byte    `bson:"secret_hash"`
	Created    time.Time `bson:"created"`
	Rotated    time.Time `bson:"rotated"`
}

type clientStore struct {
	coll      *mongo.Collection
	publicURL string
	web, cli  *Client
}

var platformScopes = []string{"openid", "profile", "email", "offline_access", "offline"}

func newClientStore(st *store.Store, publicURL string) *clientStore {
	return &clientStore{
		coll:      st.DB().Collection(clientsCollection),
		publicURL: publicURL,
		web: &Client{
			DefaultClient: &fosite.DefaultClient{
				ID: WebClientID, Public: true,
				RedirectURIs:  []string{publicURL + "/auth/callback"},
				GrantTypes:    []string{"authorization_code", "refresh_token"},
				ResponseTypes: []string{"code"},
				Scopes:        platformScopes,
				Audience:      []string{PlatformAudience},
			},
			Realm:                  users.PlatformRealm,
			PostLogoutRedirectURIs: []string{publicURL + "/", publicURL},
		},
		cli: &Client{
			DefaultClient: &fosite.DefaultClient{
				ID: CLIClientID, Public: true,
				GrantTypes:    []string{"password", "refresh_token"},
				ResponseTypes: []string{},
				Scopes:        platformScopes,
				Audience:      []string{PlatformAudience},
			},
			Realm: users.PlatformRealm,
		},
	}
}

func (c *clientStore) appClient(d appClientDoc) *Client {
	base := c.publicURL
	return &Client{
		DefaultClient: &fosite.DefaultClient{
			ID:     d.ID,
			Secret: d.SecretHash,
			RedirectURIs: []string{
				base + "/apps/" + d.Slug + "/api/auth/callback",
				base + "/dev/" + d.Slug + "/api/auth/callback",
			},
			GrantTypes:    []string{"authorization_code", "refresh_token"},
			ResponseTypes: []string{"code"},
			Scopes:        platformScopes,
			Audience:      []string{d.ID},
		},
		Realm: d.Slug,
		PostLogoutRedirectURIs: []string{
			base + "/apps/" + d.Slug + "/", base + "/dev/" + d.Slug + "/",
			base + "/apps/" + d.Slug, base + "/dev/" + d.Slug,
		},
	}
}

// GetClient implements fosite.ClientManager's lookup.
func (c *clientStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	cl, err := c.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return cl, nil
}

func (c *clientStore) get(ctx context.Context, id string) (*Client, error) {
	switch id {
	case WebClientID:
		return c.web, nil
	case CLIClientID:
		return c.cli, nil
	}
	if !strings.HasPrefix(id, AppClientPrefix) {
		return nil, fosite.ErrNotFound
	}
	var d appClientDoc
	if err := c.coll.FindOne(ctx, bson.M{"_id": id}).Decode(&d); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fosite.ErrNotFound
		}
		return nil, fmt.Errorf("load client: %w", err)
	}
	return c.appClient(d), nil
}

func validSlug(slug string) error {
	if !slugRE.MatchString(slug) || slug == users.PlatformRealm {
		return fmt.Errorf("%w: %q", ErrInvalidSlug, slug)
	}
	return nil
}

func (c *clientStore) create(ctx context.Context, slug string) (string, string, error) {
	if err := validSlug(slug); err != nil {
		return "", "", err
	}
	secret := password.Generate(43) // 256 bits of base64url
	now := time.Now().UTC()
	d := appClientDoc{ID: AppClientPrefix + slug, Slug: slug, SecretHash: hashSecret(secret), Created: now, Rotated: now}
	if _, err := c.coll.InsertOne(ctx, d); err != nil {
		return "", "", fmt.Errorf("create client %s: %w", d.ID, store.Translate(err))
	}
	return d.ID, secret, nil
}

func (c *clientStore) rotate(ctx context.Context, slug string) (string, error) {
	if err := validSlug(slug); err != nil {
		return "", err
	}
	secret := password.Generate(43)
	res, err := c.coll.UpdateOne(ctx, bson.M{"_id": AppClientPrefix + slug},
		bson.M{"$set": bson.M{"secret_hash": hashSecret(secret), "rotated": time.Now().UTC()}})
	if err != nil {
		return "", fmt.Errorf("rotate client secret: %w", err)
	}
	if res.MatchedCount == 0 {
		return "", fmt.Errorf("client %s%s: %w", AppClientPrefix, slug, store.ErrNotFound)
	}
	return secret, nil
}

func (c *clientStore) delete(ctx context.Context, slug string) error {
	if err := validSlug(slug); err != nil {
		return err
	}
	res, err := c.coll.DeleteOne(ctx, bson.M{"_id": AppClientPrefix + slug})
	if err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("client %s%s: %w", AppClientPrefix, slug, store.ErrNotFound)
	}
	return nil
}

// Client secrets are 256-bit random strings, so a fast hash is as strong as a slow one
// here (nothing to brute-force) and keeps confidential-client requests cheap.
func hashSecret(secret string) []byte {
	s := sha256.Sum256([]byte(secret))
	return s[:]
}

// secretHasher is fosite's client secret hasher over hashSecret.
type secretHasher struct{}

var _ fosite.Hasher = secretHasher{}

func (secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if subtle.ConstantTimeCompare(hash, hashSecret(string(data))) != 1 {
		return errors.New("secret mismatch")
	}
	return nil
}

func (secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return hashSecret(string(data)), nil
}

// AppClients manages the app-<slug> clients without a whole Provider, for a control plane
// that runs apart from the provider (`mgx control` alone). Provider's methods of the same
// names do the same.
type AppClients struct {
	clients *clientStore
	db      *mongo.Database
}

// NewAppClients works on the MGX database; publicURL is MGX's public base URL.
func NewAppClients(st *store.Store, publicURL string) *AppClients {
	return &AppClients{clients: newClientStore(st, strings.TrimRight(publicURL, "/")), db: st.DB()}
}

// CreateAppClient: see Provider.CreateAppClient.
func (a *AppClients) CreateAppClient(ctx context.Context, slug string) (clientID, secret string, err error) {
	return a.clients.create(ctx, slug)
}

// RotateAppClientSecret: see Provider.RotateAppClientSecret.
func (a *AppClients) RotateAppClientSecret(ctx context.Context, slug string) (string, error) {
	secret, err := a.clients.rotate(ctx, slug)
	if err != nil {
		return "", err
	}
	return secret, revokeClientGrants(ctx, a.db, AppClientPrefix+slug)
}

// DeleteAppClient: see Provider.DeleteAppClient.
func (a *AppClients) DeleteAppClient(ctx context.Context, slug string) error {
	if err := a.clients.delete(ctx, slug); err != nil {
		return err
	}
	return revokeClientGrants(ctx, a.db, AppClientPrefix+slug)
}

func revokeClientGrants(ctx context.Context, db *mongo.Database, clientID string) error {
	for _, c := range []string{refreshCollection, accessCollection, codesCollection, pkceCollection, oidcCollection} {
		if _, err := db.Collection(c).DeleteMany(ctx, bson.M{"client_id": clientID}); err != nil {
			return fmt.Errorf("revoke grants of %s in %s: %w", clientID, c, err)
		}
	}
	return nil
}
