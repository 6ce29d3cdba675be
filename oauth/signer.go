package oauth

import (
	"context"
	"errors"

	"github.com/ory/fosite/token/jwt"
)

// keySigner is fosite's JWT signer over the keyring: the current key signs; any published
// key verifies, chosen by kid, and only as ES256 (no "none", no HMAC with a public key).
type keySigner struct {
	keys *keyring
	def  jwt.DefaultSigner
}

var _ jwt.Signer = (*keySigner)(nil)

func (s *keySigner) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	d := jwt.DefaultSigner{GetPrivateKey: s.keys.current}
	return d.Generate(ctx, claims, header)
}

func (s *keySigner) keyFunc(t *jwt.Token) (any, error) {
	if t.Method != "ES256" {
		return nil, errors.New("unexpected signing algorithm")
	}
	kid, _ := t.Header["kid"].(string)
	pub, ok := s.keys.public(kid)
	if !ok {
		return nil, errors.New("unknown signing key")
	}
	return pub, nil
}

func (s *keySigner) Validate(_ context.Context, token string) (string, error) {
	if _, err := jwt.Parse(token, s.keyFunc); err != nil {
		return "", err
	}
	return s.def.GetSignature(context.Background(), token)
}

func (s *keySigner) Decode(_ context.Context, token string) (*jwt.Token, error) {
	return jwt.Parse(token, s.keyFunc)
}

func (s *keySigner) Hash(ctx context.Context, in []byte) ([]byte, error) { return s.def.Hash(ctx, in) }

func (s *keySigner) GetSignature(ctx context.Context, token string) (string, error) {
	return s.def.GetSignature(ctx, token)
}

func (s *keySigner) GetSigningMethodLength(ctx context.Context) int {
	return s.def.GetSigningMethodLength(ctx)
}
