// Package users keeps the people who sign in through MGX's OAuth provider, each in a realm:
// "mgx" for platform users, an app's slug for that app's end users. The provider, the
// control plane (/api/users) and app user management (issue 10) all go through Store.
package users

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/password"
	"github.com/mgx-dev/mgx/store"
)

// PlatformRealm is the realm of MGX's own users.
const PlatformRealm = "mgx"

// Collection is the MongoDB collection users live in.
const Collection = "users"

// emailCollection maps "<realm> <email>" (as _id) to a user id. FerretDB looks up only
// single-_id filters directly and scans for anything else, so sign-in finds users through
// it; its unique _id also makes "one email per realm" atomic on any backend.
const emailCollection = "user_emails"

type emailDoc struct {
	Key    string `bson:"_id"`
	UserID string `bson:"user_id"`
	Realm  string `bson:"realm"`
}

func emailKey(realm, email string) string { return realm + " " + email }

var (
	// ErrNotFound: no such user in that realm.
	ErrNotFound = store.ErrNotFound
	// ErrEmailTaken: the email is already used in the realm.
	ErrEmailTaken = fmt.Errorf("email already registered in this realm: %w", store.ErrConflict)
	// ErrLastAdmin: the change would leave the platform without an enabled admin.
	ErrLastAdmin = errors.New("refused: this is the last platform admin")
	// ErrInvalid wraps every validation failure (bad email, weak password, bad realm).
	ErrInvalid = errors.New("invalid user")
)

// User is a person in a realm. PasswordHash never leaves the process (json:"-").
type User struct {
	ID           string    `bson:"_id" json:"id"`
	Realm        string    `bson:"realm" json:"realm"`
	Email        string    `bson:"email" json:"email"`
	Name         string    `bson:"name" json:"name"`
	PasswordHash string    `bson:"password_hash" json:"-"`
	Admin        bool      `bson:"admin" json:"admin"`
	Disabled     bool      `bson:"disabled" json:"disabled"`
	Created      time.Time `bson:"created" json:"created"`
	Updated      time.Time `bson:"updated" json:"updated"`
}

// Revoker ends every token and sign-in session of a user; the OAuth provider implements it.
type Revoker interface {
	RevokeUser(ctx context.Context, userID string) error
}

// Store is the user collection.
type Store struct {
	coll   *mongo.Collection
	emails *mongo.Collection
	// Revoker, when set, is called after a user is disabled, deleted or gets a new password,
	// and by RevokeTokens.
	Revoker Revoker
}

// New opens the store and ensures its indexes: (realm, email) unique.
func New(ctx context.Context, st *store.Store) (*Store, error) {
	// One index per call: FerretDB v1 drops the connection when a multi-index
	// createIndexes names indexes that already exist (every restart).
	for _, m := range []mongo.IndexModel{
		{Keys: bson.D{{Key: "realm", Value: 1}, {Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("realm_email")},
		{Keys: bson.D{{Key: "realm", Value: 1}, {Key: "created", Value: 1}}, Options: options.Index().SetName("realm_created")},
	} {
		if err := st.EnsureIndexes(ctx, Collection, m); err != nil {
			return nil, err
		}
	}
	if err := st.EnsureIndexes(ctx, emailCollection, mongo.IndexModel{
		Keys: bson.D{{Key: "realm", Value: 1}}, Options: options.Index().SetName("realm"),
	}); err != nil {
		return nil, err
	}
	s := &Store{coll: st.DB().Collection(Collection), emails: st.DB().Collection(emailCollection)}
	if err := s.backfillEmails(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// backfillEmails adds lookup rows missing for users (created before the lookup existed).
func (s *Store) backfillEmails(ctx context.Context) error {
	n, err := s.coll.EstimatedDocumentCount(ctx)
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	m, err := s.emails.EstimatedDocumentCount(ctx)
	if err != nil || m >= n {
		return err
	}
	cur, err := s.coll.Find(ctx, bson.M{}, options.Find().SetProjection(bson.M{"realm": 1, "email": 1}))
	if err != nil {
		return fmt.Errorf("backfill email lookup: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var u User
		if err := cur.Decode(&u); err != nil {
			return err
		}
		_, err := s.emails.InsertOne(ctx, emailDoc{Key: emailKey(u.Realm, u.Email), UserID: u.ID, Realm: u.Realm})
		if err != nil && !errors.Is(store.Translate(err), store.ErrConflict) {
			return fmt.Errorf("backfill email lookup: %w", err)
		}
	}
	return cur.Err()
}

// NewUser is what Create needs. Password is validated (password.Validate) and hashed.
type NewUser struct {
	Realm    string
	Email    string
	Name     string
	Password string
	Admin    bool
}

var realmRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// NormalizeEmail lowercases and trims; emails are unique per realm in this form.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func validEmail(email string) error {
	if len(email) > 254 {
		return fmt.Errorf("%w: email is too long", ErrInvalid)
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || !strings.Contains(email, "@") {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	return nil
}

// Create adds a user. Errors: ErrInvalid (wrapped, with the reason), ErrEmailTaken.
func (s *Store) Create(ctx context.Context, nu NewUser) (User, error) {
	if !realmRE.MatchString(nu.Realm) {
		return User{}, fmt.Errorf("%w: realm %q", ErrInvalid, nu.Realm)
	}
	email := NormalizeEmail(nu.Email)
	if err := validEmail(email); err != nil {
		return User{}, err
	}
	name := strings.TrimSpace(nu.Name)
	if len(name) > 200 {
		return User{}, fmt.Errorf("%w: name is longer than 200 bytes", ErrInvalid)
	}
	if nu.Admin && nu.Realm != PlatformRealm {
		return User{}, fmt.Errorf("%w: only platform users can be admins", ErrInvalid)
	}
	if err := password.Validate(nu.Password); err != nil {
		return User{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	hash, err := password.Hash(nu.Password)
	if err != nil {
		return User{}, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := User{ID: store.NewID(), Realm: nu.Realm, Email: email, Name: name, PasswordHash: hash,
		Admin: nu.Admin, Created: now, Updated: now}
	if _, err := s.emails.InsertOne(ctx, emailDoc{Key: emailKey(u.Realm, u.Email), UserID: u.ID, Realm: u.Realm}); err != nil {
		if errors.Is(store.Translate(err), store.ErrConflict) {
			return User{}, ErrEmailTaken
		}
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	if _, err := s.coll.InsertOne(ctx, u); err != nil {
		_, _ = s.emails.DeleteOne(ctx, bson.M{"_id": emailKey(u.Realm, u.Email)})
		if errors.Is(store.Translate(err), store.ErrConflict) {
			return User{}, ErrEmailTaken
		}
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return u, nil
}

// Get returns the user with id in realm.
func (s *Store) Get(ctx context.Context, realm, id string) (User, error) {
	// By _id alone, then the realm: FerretDB looks up only single-_id filters directly.
	u, err := s.findOne(ctx, bson.M{"_id": id})
	if err != nil {
		return User{}, err
	}
	if u.Realm != realm {
		return User{}, fmt.Errorf("user: %w", ErrNotFound)
	}
	return u, nil
}

// GetByID returns a user of any realm; the provider uses it to refresh token claims.
func (s *Store) GetByID(ctx context.Context, id string) (User, error) {
	return s.findOne(ctx, bson.M{"_id": id})
}

// GetByEmail returns the user with that email in realm.
func (s *Store) GetByEmail(ctx context.Context, realm, email string) (User, error) {
	var d emailDoc
	if err := s.emails.FindOne(ctx, bson.M{"_id": emailKey(realm, NormalizeEmail(email))}).Decode(&d); err != nil {
		return User{}, fmt.Errorf("user: %w", store.Translate(err))
	}
	return s.Get(ctx, realm, d.UserID)
}

func (s *Store) findOne(ctx context.Context, filter bson.M) (User, error) {
	var u User
	if err := s.coll.FindOne(ctx, filter).Decode(&u); err != nil {
		return User{}, fmt.Errorf("user: %w", store.Translate(err))
	}
	return u, nil
}

// ListOptions pages and filters List. Limit defaults to 50 and is capped at 200.
type ListOptions struct {
	Search string // substring of email or name, case-insensitive
	Limit  int
	Offset int
}

// List returns one page of a realm's users, oldest first, and how many match in all.
func (s *Store) List(ctx context.Context, realm string, opt ListOptions) ([]User, int64, error) {
	if opt.Limit <= 0 {
		opt.Limit = 50
	}
	opt.Limit = min(opt.Limit, 200)
	opt.Offset = max(opt.Offset, 0)
	filter := bson.M{"realm": realm}
	if q := strings.TrimSpace(opt.Search); q != "" {
		re := bson.Regex{Pattern: regexp.QuoteMeta(q), Options: "i"}
		filter["$or"] = bson.A{bson.M{"email": re}, bson.M{"name": re}}
	}
	total, err := s.coll.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	cur, err := s.coll.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}).
		SetSkip(int64(opt.Offset)).SetLimit(int64(opt.Limit)))
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	out := []User{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return out, total, nil
}

// UpdateName sets a user's display name.
func (s *Store) UpdateName(ctx context.Context, realm, id, name string) (User, error) {
	name = strings.TrimSpace(name)
	if len(name) > 200 {
		return User{}, fmt.Errorf("%w: name is longer than 200 bytes", ErrInvalid)
	}
	return s.update(ctx, realm, id, bson.M{"name": name})
}

// SetPassword validates and stores a new password, then revokes the user's tokens.
func (s *Store) SetPassword(ctx context.Context, realm, id, pw string) error {
	if err := password.Validate(pw); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return err
	}
	if _, err := s.update(ctx, realm, id, bson.M{"password_hash": hash}); err != nil {
		return err
	}
	return s.RevokeTokens(ctx, id)
}

// SetDisabled disables or enables a user; disabling revokes their tokens. Disabling the
// last enabled platform admin is refused with ErrLastAdmin.
func (s *Store) SetDisabled(ctx context.Context, realm, id string, disabled bool) (User, error) {
	if disabled {
		if err := s.refuseLastAdmin(ctx, realm, id); err != nil {
			return User{}, err
		}
	}
	u, err := s.update(ctx, realm, id, bson.M{"disabled": disabled})
	if err != nil {
		return User{}, err
	}
	if disabled {
		return u, s.RevokeTokens(ctx, id)
	}
	return u, nil
}

// SetAdmin grants or removes the platform admin flag (platform realm only).
func (s *Store) SetAdmin(ctx context.Context, id string, admin bool) (User, error) {
	if !admin {
		if err := s.refuseLastAdmin(ctx, PlatformRealm, id); err != nil {
			return User{}, err
		}
	}
	return s.update(ctx, PlatformRealm, id, bson.M{"admin": admin})
}

// Delete removes a user and revokes their tokens. Deleting the last enabled platform
// admin is refused with ErrLastAdmin.
func (s *Store) Delete(ctx context.Context, realm, id string) error {
	if err := s.refuseLastAdmin(ctx, realm, id); err != nil {
		return err
	}
	u, err := s.Get(ctx, realm, id)
	if err != nil {
		return err
	}
	res, err := s.coll.DeleteOne(ctx, bson.M{"_id": id})
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("user: %w", ErrNotFound)
	}
	if _, err := s.emails.DeleteOne(ctx, bson.M{"_id": emailKey(u.Realm, u.Email)}); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return s.RevokeTokens(ctx, id)
}

// DeleteRealm removes every user of an app's realm (when the app is deleted).
func (s *Store) DeleteRealm(ctx context.Context, realm string) error {
	if realm == PlatformRealm {
		return fmt.Errorf("%w: the platform realm cannot be deleted", ErrInvalid)
	}
	if _, err := s.coll.DeleteMany(ctx, bson.M{"realm": realm}); err != nil {
		return fmt.Errorf("delete realm: %w", err)
	}
	if _, err := s.emails.DeleteMany(ctx, bson.M{"realm": realm}); err != nil {
		return fmt.Errorf("delete realm: %w", err)
	}
	return nil
}

// CountAdmins counts enabled platform admins.
func (s *Store) CountAdmins(ctx context.Context) (int64, error) {
	return s.coll.CountDocuments(ctx, bson.M{"realm": PlatformRealm, "admin": true, "disabled": false})
}

// RevokeTokens signs the user out everywhere (all refresh tokens, access token sessions
// and SSO sessions). Access tokens already issued stay valid for the control plane until
// they expire (minutes), since it verifies them locally.
func (s *Store) RevokeTokens(ctx context.Context, id string) error {
	if s.Revoker == nil {
		return nil
	}
	if err := s.Revoker.RevokeUser(ctx, id); err != nil {
		return fmt.Errorf("revoke tokens of user %s: %w", id, err)
	}
	return nil
}

func (s *Store) refuseLastAdmin(ctx context.Context, realm, id string) error {
	if realm != PlatformRealm {
		return nil
	}
	u, err := s.Get(ctx, realm, id)
	if err != nil {
		return err
	}
	if !u.Admin || u.Disabled {
		return nil
	}
	n, err := s.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return ErrLastAdmin
	}
	return nil
}

func (s *Store) update(ctx context.Context, realm, id string, set bson.M) (User, error) {
	set["updated"] = time.Now().UTC().Truncate(time.Millisecond)
	var u User
	err := s.coll.FindOneAndUpdate(ctx, bson.M{"_id": id, "realm": realm}, bson.M{"$set": set},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&u)
	if err != nil {
		return User{}, fmt.Errorf("update user: %w", store.Translate(err))
	}
	return u, nil
}

// EnsureAdmin creates the first platform admin when no platform admin exists. It returns
// created=false when one already exists (the password is then left alone). An empty
// password is refused: the caller generates one (password.Generate) and shows it once.
func (s *Store) EnsureAdmin(ctx context.Context, email, pw string) (bool, error) {
	n, err := s.coll.CountDocuments(ctx, bson.M{"realm": PlatformRealm, "admin": true})
	if err != nil {
		return false, fmt.Errorf("count admins: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	if pw == "" {
		return false, fmt.Errorf("%w: empty admin password", ErrInvalid)
	}
	if existing, err := s.GetByEmail(ctx, PlatformRealm, email); err == nil {
		// A plain user with that email: promote them and set the configured password.
		if err := s.SetPassword(ctx, PlatformRealm, existing.ID, pw); err != nil {
			return false, err
		}
		if _, err := s.update(ctx, PlatformRealm, existing.ID, bson.M{"admin": true, "disabled": false}); err != nil {
			return false, err
		}
		return true, nil
	}
	_, err = s.Create(ctx, NewUser{Realm: PlatformRealm, Email: email, Name: "Administrator", Password: pw, Admin: true})
	if errors.Is(err, ErrEmailTaken) {
		return false, nil // another instance won the race
	}
	return err == nil, err
}
