// Package password hashes passwords with Argon2id at OWASP's parameters
// (19 MiB, t=2, p=1) in the PHC string format, and verifies in constant time.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Parameters for new hashes. Verify reads them from the hash, so raising them later
// keeps old hashes valid.
const (
	memoryKiB = 19 * 1024
	timeCost  = 2
	threads   = 1
	keyLen    = 32
	saltLen   = 16
	// MaxLen bounds what we hash: Argon2 accepts any length, but a megabyte password
	// is a denial-of-service attempt, not a password.
	MaxLen = 1024
)

var (
	// ErrTooLong is returned for passwords over MaxLen bytes.
	ErrTooLong = errors.New("password is longer than 1024 bytes")
	// ErrTooShort is returned for passwords under 8 characters.
	ErrTooShort = errors.New("password must be at least 8 characters")
)

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of pw.
func Hash(pw string) (string, error) {
	if len(pw) > MaxLen {
		return "", ErrTooLong
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, timeCost, memoryKiB, threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, timeCost, threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Validate checks a new password against the platform's rules.
func Validate(pw string) error {
	switch {
	case len([]rune(pw)) < 8:
		return ErrTooShort
	case len(pw) > MaxLen:
		return ErrTooLong
	}
	return nil
}

// Verify reports whether pw matches the PHC hash. A malformed hash never matches.
func Verify(hash, pw string) bool {
	if len(pw) > MaxLen {
		return false
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	// Refuse parameters that would let a stored hash exhaust memory or CPU.
	if m == 0 || m > 64*1024 || t == 0 || t > 10 || p == 0 {
		return false
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// Generate returns a random password of n base64url characters, for generated admin
// passwords and client secrets.
func Generate(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
