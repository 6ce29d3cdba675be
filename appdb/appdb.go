// Package appdb gives each app its own MongoDB user: a user defined in the app's database
// with the readWrite role on that database only, so an app's containers cannot read or
// write another app's data (or MGX's).
//
// It needs a real MongoDB with access control on and an administrative connection (a user
// with userAdminAnyDatabase or root) in MGX_APPS_MONGODB_URI. FerretDB v1, MGX's embedded
// default, has no roles: there every app shares the one connection string, and MGX says so
// at start.
//
// Passwords are not stored anywhere: each is an HMAC of the app's id under MGX's secret
// key, so every control-plane instance derives the same one, and Ensure (re)sets it on the
// server, which also repairs a user whose password was changed by hand.
package appdb

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Mode says whether apps get their own users.
type Mode string

const (
	// ModeAuto turns per-app users on when the apps server is a MongoDB (not FerretDB) and
	// MGX connects to it with credentials; otherwise apps share the connection string.
	ModeAuto Mode = "auto"
	// ModeOn requires per-app users: MGX refuses to start when the server cannot have them.
	ModeOn Mode = "on"
	// ModeOff shares MGX_APPS_MONGODB_URI with every app.
	ModeOff Mode = "off"
)

// ParseMode reads MGX_APPS_DB_USERS.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return ModeAuto, nil
	case ModeAuto, ModeOn, ModeOff:
		return m, nil
	}
	return "", fmt.Errorf("MGX_APPS_DB_USERS %q: want auto, on or off", s)
}

// ErrUnsupported means the apps server cannot give apps their own users.
var ErrUnsupported = errors.New("appdb: per-app database users need a MongoDB server with access control")

// Config of a Provisioner.
type Config struct {
	// Client is MGX's administrative connection to the apps server. Required.
	Client *mongo.Client
	// URI is the connection string Client was opened with (MGX_APPS_MONGODB_URI as the
	// apps reach it); apps get it with their own user, password and database. Required.
	URI string
	// Key derives the passwords (MGX's 32-byte secret key). Required when enabled.
	Key []byte
	// Mode: auto (default), on or off.
	Mode   Mode
	Logger *slog.Logger
}

// Provisioner creates and updates the apps' database users.
type Provisioner struct {
	cfg     Config
	enabled bool
	why     string // why per-app users are off, for the banner and the log

	mu   sync.Mutex
	done map[string]bool // slug+id whose user is known to be in place
}

// New decides, from the server and the mode, whether apps get their own users. With
// ModeOn it fails when they cannot (FerretDB, or no credentials to create users with).
func New(ctx context.Context, cfg Config) (*Provisioner, error) {
	if cfg.Mode == "" {
		cfg.Mode = ModeAuto
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Provisioner{cfg: cfg, done: map[string]bool{}}
	if cfg.Mode == ModeOff {
		p.why = "off (MGX_APPS_DB_USERS=off): apps share MGX_APPS_MONGODB_URI"
		return p, nil
	}
	if cfg.Client == nil {
		return nil, errors.New("appdb: Client is required")
	}
	u, err := url.Parse(cfg.URI)
	if err != nil {
		return nil, fmt.Errorf("appdb: apps MongoDB URI: %w", err)
	}
	server, err := serverKind(ctx, cfg.Client)
	if err != nil {
		return nil, err
	}
	switch {
	case server != "mongodb":
		p.why = "off: the apps server is " + server + ", which has no roles; apps share one connection (set MGX_APPS_MONGODB_URI to a MongoDB for isolation)"
	case u.User == nil || u.User.Username() == "":
		p.why = "off: MGX connects to the apps MongoDB without credentials, so it cannot create users (and the server lets any client in)"
	case len(cfg.Key) < 16:
		return nil, errors.New("appdb: Key is required")
	default:
		p.enabled = true
		p.why = "on: each app has a MongoDB user limited to its own database"
		return p, nil
	}
	if cfg.Mode == ModeOn {
		return nil, fmt.Errorf("%w: MGX_APPS_DB_USERS=on, but per-app users are %s", ErrUnsupported, p.why)
	}
	return p, nil
}

// Enabled tells whether apps get their own users.
func (p *Provisioner) Enabled() bool { return p.enabled }

// Status is one line for the banner: on, or off and why.
func (p *Provisioner) Status() string { return p.why }

// serverKind tells FerretDB from MongoDB: FerretDB's buildInfo carries ferretdbVersion.
func serverKind(ctx context.Context, c *mongo.Client) (string, error) {
	var info bson.M
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return "", fmt.Errorf("appdb: buildInfo on the apps server: %w", err)
	}
	if v, ok := info["ferretdbVersion"]; ok {
		if v, _ := v.(string); v != "" && v != "unknown" { // embedded builds say "unknown"
			return "FerretDB " + v, nil
		}
		return "FerretDB", nil
	}
	return "mongodb", nil
}

// UserName is the app's database user: the database's name.
func UserName(database string) string { return database }

// Password derives the app's password from MGX's key and the app's id (an app deleted and
// created again under the same slug has another id, hence another password).
func (p *Provisioner) Password(appID string) string {
	m := hmac.New(sha256.New, p.cfg.Key)
	m.Write([]byte("mgx app database user\x00" + appID))
	return hex.EncodeToString(m.Sum(nil))
}

// Ensure puts the app's user in place (created, or its password and roles set again) and
// returns the connection string its containers get. Disabled, it returns the shared URI.
func (p *Provisioner) Ensure(ctx context.Context, appID, database string) (string, error) {
	if !p.enabled {
		return p.cfg.URI, nil
	}
	user, pw := UserName(database), p.Password(appID)
	uri, err := AppURI(p.cfg.URI, user, pw, database)
	if err != nil {
		return "", err
	}
	key := appID + "\x00" + database
	p.mu.Lock()
	done := p.done[key]
	p.mu.Unlock()
	if done {
		return uri, nil
	}
	db := p.cfg.Client.Database(database)
	roles := bson.A{bson.D{{Key: "role", Value: "readWrite"}, {Key: "db", Value: database}}}
	var info struct {
		Users []bson.M `bson:"users"`
	}
	if err := db.RunCommand(ctx, bson.D{{Key: "usersInfo", Value: user}}).Decode(&info); err != nil {
		return "", fmt.Errorf("appdb: usersInfo %s: %w", user, err)
	}
	cmd := "createUser"
	if len(info.Users) > 0 {
		cmd = "updateUser"
	}
	err = db.RunCommand(ctx, bson.D{{Key: cmd, Value: user}, {Key: "pwd", Value: pw}, {Key: "roles", Value: roles}}).Err()
	if err != nil {
		return "", fmt.Errorf("appdb: %s %s: %w", cmd, user, err)
	}
	p.cfg.Logger.InfoContext(ctx, "app database user in place", "user", user, "database", database, "command", cmd)
	p.mu.Lock()
	p.done[key] = true
	p.mu.Unlock()
	return uri, nil
}

// Drop removes the app's user (the app is gone). A user that does not exist is not an error.
func (p *Provisioner) Drop(ctx context.Context, appID, database string) error {
	if !p.enabled {
		return nil
	}
	p.mu.Lock()
	delete(p.done, appID+"\x00"+database)
	p.mu.Unlock()
	err := p.cfg.Client.Database(database).RunCommand(ctx, bson.D{{Key: "dropUser", Value: UserName(database)}}).Err()
	var ce mongo.CommandError
	if errors.As(err, &ce) && ce.Code == 11 { // UserNotFound
		return nil
	}
	if err != nil {
		return fmt.Errorf("appdb: dropUser %s: %w", UserName(database), err)
	}
	return nil
}

// AppURI is base (MGX's connection string to the apps server) with the app's user and
// password, the app's database as the path and authSource, everything else (hosts, TLS,
// replica set) kept. The administrative credentials never appear in it.
func AppURI(base, user, password, database string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("appdb: apps MongoDB URI: %w", err)
	}
	if u.Scheme != "mongodb" && u.Scheme != "mongodb+srv" {
		return "", fmt.Errorf("appdb: apps MongoDB URI: scheme %q: want mongodb or mongodb+srv", u.Scheme)
	}
	if u.Host == "" {
		return "", errors.New("appdb: apps MongoDB URI has no host")
	}
	if user == "" || database == "" || strings.ContainsAny(database, "/\\. \"$\x00") {
		return "", fmt.Errorf("appdb: bad app user %q or database %q", user, database)
	}
	u.User = url.UserPassword(user, password)
	u.Path, u.RawPath = "/"+database, ""
	q := u.Query()
	q.Set("authSource", database)
	// The mechanism the administrator used may not suit the app's SCRAM user (X.509, AWS).
	q.Del("authMechanism")
	q.Del("authMechanismProperties")
	u.RawQuery = q.Encode()
	return u.String(), nil
}
