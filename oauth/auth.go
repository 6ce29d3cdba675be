package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/mgx-dev/mgx/users"
)

var (
	errBadCredentials = errors.New("invalid email or password")
	errThrottled      = errors.New("too many failed sign-ins")
)

// authenticate checks a password for a user of realm. Unknown users, wrong passwords
// and disabled accounts give the same error after the same work (one Argon2id
// verification), so neither message nor timing tells whether an account exists.
func (p *Provider) authenticate(ctx context.Context, realm, email, pw, addr string) (users.User, time.Duration, error) {
	email = users.NormalizeEmail(email)
	if len(email) > 254 {
		// No such account can exist; keep the throttle keys bounded. Same work, same answer.
		p.verify(p.dummyHash, pw)
		if err := p.throttle.fail(ctx, realm, "", addr); err != nil {
			return users.User{}, 0, err
		}
		return users.User{}, 0, errBadCredentials
	}
	wait, err := p.throttle.blocked(ctx, realm, email, addr)
	if err != nil {
		return users.User{}, 0, err
	}
	if wait > 0 {
		return users.User{}, wait, errThrottled
	}
	u, err := p.users.GetByEmail(ctx, realm, email)
	hash := p.dummyHash
	if err == nil {
		hash = u.PasswordHash
	} else if !errors.Is(err, users.ErrNotFound) {
		return users.User{}, 0, err
	}
	// A disabled account fails like a wrong password, with the same bookkeeping.
	ok := p.verify(hash, pw) && err == nil && !u.Disabled
	if !ok {
		if ferr := p.throttle.fail(ctx, realm, email, addr); ferr != nil {
			return users.User{}, 0, ferr
		}
		p.log.InfoContext(ctx, "sign-in failed", "realm", realm, "addr", addr)
		return users.User{}, 0, errBadCredentials
	}
	if err := p.throttle.succeed(ctx, realm, email); err != nil {
		return users.User{}, 0, err
	}
	return u, 0, nil
}

// tokenCall carries what the token endpoint knows about the caller into fosite's
// password-grant storage callback, and what that callback learned back out.
type tokenCall struct {
	addr       string
	realm      string
	user       users.User
	retryAfter time.Duration
}

type tokenCallKey struct{}

func tokenCallFrom(ctx context.Context) *tokenCall {
	tc, _ := ctx.Value(tokenCallKey{}).(*tokenCall)
	return tc
}

// realmPasswordHandler is fosite's password grant handler, told which realm the client
// authenticates users of.
type realmPasswordHandler struct {
	*oauth2.ResourceOwnerPasswordCredentialsGrantHandler
}

var _ fosite.TokenEndpointHandler = (*realmPasswordHandler)(nil)

func (h *realmPasswordHandler) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if tc := tokenCallFrom(ctx); tc != nil {
		if c, ok := r.GetClient().(*Client); ok {
			tc.realm = c.Realm
		}
	}
	return h.ResourceOwnerPasswordCredentialsGrantHandler.HandleTokenEndpointRequest(ctx, r)
}

// passwordGrantAuth is fosite's ResourceOwnerPasswordCredentialsGrantStorage.Authenticate.
func (p *Provider) passwordGrantAuth(ctx context.Context, username, pw string) (string, error) {
	tc := tokenCallFrom(ctx)
	if tc == nil || tc.realm == "" {
		return "", fosite.ErrServerError.WithDebug("password grant without realm")
	}
	u, wait, err := p.authenticate(ctx, tc.realm, username, pw, tc.addr)
	switch {
	case errors.Is(err, errThrottled):
		tc.retryAfter = wait
		return "", fosite.ErrNotFound
	case errors.Is(err, errBadCredentials):
		return "", fosite.ErrNotFound
	case err != nil:
		return "", err
	}
	tc.user = u
	return u.ID, nil
}
