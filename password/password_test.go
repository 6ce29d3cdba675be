package password

import (
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not use OWASP parameters", h)
	}
	if !Verify(h, "correct horse") {
		t.Fatal("right password refused")
	}
	h2, _ := Hash("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	tests := []struct{ name, hash, pw string }{
		{"wrong password", h, "correct horsE"},
		{"empty password", h, ""},
		{"malformed hash", "$argon2id$garbage", "correct horse"},
		{"other algorithm", strings.Replace(h, "argon2id", "argon2i", 1), "correct horse"},
		{"huge memory", strings.Replace(h, "m=19456", "m=99999999", 1), "correct horse"},
		{"empty", "", ""},
		{"too long", h, strings.Repeat("a", MaxLen+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if Verify(tc.hash, tc.pw) {
				t.Fatal("verified")
			}
		})
	}
}

func TestValidateAndGenerate(t *testing.T) {
	if Validate("short") == nil || Validate(strings.Repeat("a", MaxLen+1)) == nil || Validate("long enough") != nil {
		t.Fatal("Validate rules")
	}
	if g := Generate(20); len(g) != 20 || g == Generate(20) {
		t.Fatalf("Generate: %q", g)
	}
}

func FuzzVerify(f *testing.F) {
	h, _ := Hash("seed-password")
	f.Add(h, "seed-password")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA", "x")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		_ = Verify(hash, pw) // must not panic or run away
	})
}

func BenchmarkHash(b *testing.B) {
	for b.Loop() {
		if _, err := Hash("benchmark password"); err != nil {
			b.Fatal(err)
		}
	}
}
