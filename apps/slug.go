package apps

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxSlugLen bounds a slug: it appears in URLs, container names and OAuth client ids.
const MaxSlugLen = 40

// MaxNameLen bounds an app name, in characters.
const MaxNameLen = 100

// ErrInvalidName is returned for an app name that cannot be used.
var ErrInvalidName = errors.New("invalid app name")

// reserved slugs would shadow platform paths or confuse people reading URLs.
var reserved = map[string]bool{
	"api": true, "apps": true, "app": true, "dev": true, "admin": true, "oauth2": true,
	"oauth": true, "auth": true, "login": true, "logout": true, "static": true,
	"assets": true, "www": true, "mgx": true, "new": true, "settings": true, "healthz": true,
	"readyz": true, "otlp": true, "web": true, "root": true, "system": true, "null": true,
	"undefined": true, "metrics": true, "docs": true, "help": true, "status": true,
	"users": true, "user": true, "sessions": true, "workspaces": true, "agent": true,
}

// Reserved reports whether slug is refused as an app slug.
func Reserved(slug string) bool { return reserved[slug] }

// latin folds common accented Latin letters to ASCII, so "Café Órdenes" becomes
// "cafe-ordenes" rather than "caf-rdenes".
var latin = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'æ': "ae", 'ç': "c",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ì': "i", 'í': "i", 'î': "i", 'ï': "i",
	'ð': "d", 'ñ': "n", 'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ý': "y", 'ÿ': "y", 'þ': "th", 'ß': "ss",
	'œ': "oe", 'ł': "l", 'ś': "s", 'š': "s", 'ž': "z", 'ź': "z", 'ż': "z", 'č': "c",
	'ć': "c", 'ř': "r", 'ň': "n", 'ń': "n", 'ě': "e", 'ę': "e", 'ą': "a", 'ů': "u",
	'ğ': "g", 'ı': "i", 'ş': "s", 'đ': "d",
}

// Slugify derives the base slug of a name: lowercase ASCII letters and digits separated
// by single hyphens, at most MaxSlugLen characters, cut at a word boundary when possible.
// It returns "" when nothing usable is left (a name in a non-Latin script, say); callers
// then fall back to a generic slug.
func Slugify(name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(name) {
		var s string
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			s = string(r)
		case latin[r] != "":
			s = latin[r]
		default:
			if b.Len() > 0 {
				hyphen = true
			}
			continue
		}
		if hyphen {
			b.WriteByte('-')
			hyphen = false
		}
		b.WriteString(s)
	}
	slug := b.String()
	if len(slug) > MaxSlugLen {
		slug = slug[:MaxSlugLen]
		if i := strings.LastIndexByte(slug, '-'); i >= MaxSlugLen/2 {
			slug = slug[:i]
		}
		slug = strings.Trim(slug, "-")
	}
	return slug
}

// withSuffix returns base with "-n" appended, shortening base to keep MaxSlugLen.
func withSuffix(base, n string) string {
	suf := "-" + n
	if len(base)+len(suf) > MaxSlugLen {
		base = strings.TrimRight(base[:MaxSlugLen-len(suf)], "-")
	}
	return base + suf
}

// ValidateName reports why name cannot be an app name: empty, too long, invalid UTF-8 or
// containing control characters. It wraps ErrInvalidName.
func ValidateName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidName, why) }
	switch {
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case strings.TrimSpace(name) == "":
		return bad("empty")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return bad(fmt.Sprintf("longer than %d characters", MaxNameLen))
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return bad("contains control characters")
	}
	return nil
}

// fillers are words that open a prompt without naming the app.
var fillers = map[string]bool{
	"please": true, "build": true, "create": true, "make": true, "write": true, "generate": true,
	"develop": true, "design": true, "code": true, "me": true, "us": true, "a": true, "an": true,
	"the": true, "simple": true, "small": true, "basic": true, "i": true, "we": true,
	"want": true, "need": true, "would": true, "like": true, "to": true, "have": true,
	"can": true, "you": true, "could": true, "let's": true, "lets": true, "new": true,
}

// NameFromPrompt derives a short app name from the prompt: its first clause, without the
// opening "build me a…", at most five words and 40 characters, first letter capitalised.
// It returns "My app" when nothing is left.
func NameFromPrompt(prompt string) string {
	clause := prompt
	if i := strings.IndexAny(clause, ".,:;!?\n()[]\"'“”—–，。！？：；、"); i >= 0 {
		clause = clause[:i]
	}
	words := strings.Fields(clause)
	for len(words) > 0 && fillers[strings.ToLower(words[0])] {
		words = words[1:]
	}
	// "a recipe book app where…": stop at words that start a description.
	stop := map[string]bool{"where": true, "that": true, "which": true, "with": true, "for": true, "to": true, "so": true, "using": true, "in": true}
	var out []string
	n := 0
	for _, w := range words {
		lw := strings.ToLower(w)
		if stop[lw] && len(out) > 0 {
			break
		}
		if n+len(w)+1 > 40 || len(out) == 5 {
			break
		}
		out = append(out, w)
		n += len(w) + 1
	}
	if len(out) == 0 && len(words) > 0 {
		// One long "word": a script without spaces, say. Keep its first 20 characters.
		out = []string{string([]rune(words[0])[:min(20, utf8.RuneCountInString(words[0]))])}
	}
	name := strings.Join(out, " ")
	if name == "" || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "My app"
	}
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[size:]
}
