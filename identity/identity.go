// Package identity carries the authenticated caller through a request's context.
package identity

import "context"

// Principal is who is calling, as established by the OAuth middleware.
type Principal struct {
	UserID string
	Email  string
	Name   string
	Realm  string // "mgx" for platform users
	Admin  bool
}

// CanAccess reports whether the principal may see a resource owned by ownerID.
func (p Principal) CanAccess(ownerID string) bool {
	return p.Admin || (p.UserID != "" && p.UserID == ownerID)
}

type key struct{}

// With returns a context carrying p.
func With(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, key{}, p)
}

// From returns the principal in ctx, if any.
func From(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(key{}).(Principal)
	return p, ok
}
