// Package appgen is the offline provider's knowledge: it derives an app's entities and
// fields from a person's request, and produces the files that add those entities to a
// template, following the pattern of the template's example entity (AGENTS.md).
package appgen

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Field types.
const (
	TypeString = "string"
	TypeText   = "text" // long text: a textarea
	TypeInt    = "int"
	TypeFloat  = "float"
	TypeBool   = "bool"
	TypeDate   = "date" // YYYY-MM-DD
)

// Field is one attribute of an entity.
type Field struct {
	Name  string // snake_case identifier
	Label string // "Minutes to cook"
	Type  string
}

// Entity is one kind of record the app manages (a MongoDB collection).
type Entity struct {
	Name   string // singular snake_case: "shopping_list"
	Plural string // "shopping_lists": collection name and URL segment
	Label  string // "Shopping list"
	Fields []Field
}

// Spec is what the app manages.
type Spec struct {
	Entities []Entity
}

// String renders the spec compactly: recipe{name:string,minutes:int} task{...}.
func (s Spec) String() string {
	var parts []string
	for _, e := range s.Entities {
		var fs []string
		for _, f := range e.Fields {
			fs = append(fs, f.Name+":"+f.Type)
		}
		parts = append(parts, e.Name+"{"+strings.Join(fs, ",")+"}")
	}
	return strings.Join(parts, " ")
}

// Limits keep generated apps reasonable.
const (
	MaxEntities = 4
	MaxFields   = 12
)

var (
	wordRE = regexp.MustCompile(`[a-z0-9']+`)
	// introducers start a field list after an entity noun.
	introducers = []string{
		"with fields", "with the fields", "each with", "each having", "each has", "that have", "that has",
		"which have", "which has", "having", "containing", "consisting of", "that include", "that includes",
		"that store", "that stores", "storing", "tracking", "with", "has", "have", "should have", "must have",
		"include", "includes",
	}
	// filler words dropped in front of entity nouns and field names.
	determiners = set("a", "an", "the", "its", "their", "his", "her", "my", "our", "your", "some", "each", "every",
		"any", "all", "also", "plus", "and", "or", "of", "optional", "required", "multiple", "many", "several",
		"different", "various", "own", "new", "then", "just", "simple", "basic", "both", "one", "more")
	pronouns = set("i", "we", "you", "they", "it", "he", "she", "me", "us", "them", "i've", "we've", "you've",
		"it's", "i'm", "they're", "people", "users", "someone", "anyone", "there", "this", "that", "which", "who")
	// appWords name the app rather than what it manages.
	appWords = set("app", "application", "tracker", "manager", "list", "log", "journal", "catalog", "catalogue",
		"book", "planner", "organizer", "organiser", "directory", "registry", "database", "board", "system", "tool",
		"site", "website", "dashboard", "platform", "portal", "service", "crm", "keeper", "diary", "collection",
		"library", "inventory", "store", "shop", "box", "hub", "center", "centre", "notebook", "calendar", "wiki")
	// pluralVerbs read as nouns on their own ("records: ...") but not as a modifier ("tracks books").
	pluralVerbs = set("tracks", "manages", "stores", "keeps", "records", "logs", "lists", "holds", "shows", "contains", "lets", "allows")
	verbs       = set("track", "tracking", "manage", "managing", "store", "keep",
		"record", "log", "list", "organize", "organise", "plan", "add", "edit", "save",
		"browse", "create", "build", "make", "want", "need", "lets", "let", "allow", "allows", "where", "can",
		"to", "for", "in", "on", "at", "by", "about", "like", "is", "are", "be", "called", "named", "holding",
		"hold", "holds", "catalog", "catalogue", "collect", "collects", "share", "shares", "write", "writes",
		"follow", "monitor", "register", "book", "schedule", "with")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// normalize lowercases, unifies quotes and dashes, and keeps only the punctuation the parser
// uses (, ; : . ( ) and apostrophes).
func normalize(s string) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer("to-do", "todo", "to do list", "todo list", "to do app", "todo app").Replace(s)
	r := strings.NewReplacer("’", "'", "‘", "'", "“", " ", "”", " ", "\"", " ", "—", ",", "–", ",", " - ", ", ",
		"&", " and ", "+", " and ", "/", " or ", "e.g.", "", "i.e.", "", "etc.", "", "etc", "", "...", ", ", "…", ", ",
		"\n", ". ", "!", ". ", "?", ". ", "[", "(", "]", ")", "{", "(", "}", ")")
	s = r.Replace(s)
	var b strings.Builder
	for _, c := range s {
		switch {
		case unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune(",;:.()' _", c):
			b.WriteRune(c)
		default:
			b.WriteRune(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

type token struct {
	word  string // a word, or one of , ; : . ( )
	punct bool
}

func tokenize(s string) []token {
	var out []token
	for _, f := range strings.Fields(s) {
		for f != "" {
			i := strings.IndexAny(f, ",;:.()")
			if i < 0 {
				out = append(out, token{word: strings.Trim(f, "'_")})
				break
			}
			if i > 0 {
				out = append(out, token{word: strings.Trim(f[:i], "'_")})
			}
			// A dot inside a number ("1.5") is not punctuation; numbers do not matter here.
			out = append(out, token{word: f[i : i+1], punct: true})
			f = f[i+1:]
		}
	}
	// drop empty words left by trimming
	res := out[:0]
	for _, t := range out {
		if t.word != "" {
			res = append(res, t)
		}
	}
	return res
}

// anchor is an entity noun phrase followed by a field list.
type anchor struct {
	nounStart, nounEnd int // token range of the noun phrase
	listStart          int // first token of the field list
	paren              bool
	colon              bool
}

// Extract derives the entities and fields the request describes. It never fails: when the
// request names no fields, it falls back to what the kind of app usually holds, and at
// worst to a "note" entity.
func Extract(prompt string) Spec {
	toks := tokenize(normalize(prompt))
	anchors := findAnchors(toks)
	var spec Spec
	seen := map[string]bool{}
	for i, a := range anchors {
		end := len(toks)
		if i+1 < len(anchors) {
			end = anchors[i+1].nounStart
		}
		e, ok := entityFromNoun(toks[a.nounStart:a.nounEnd])
		if !ok || seen[e.Name] {
			continue
		}
		e.Fields = parseFields(toks[a.listStart:end], a.paren)
		if len(e.Fields) == 0 {
			continue
		}
		if subs := entitiesFromFields(e.Fields); subs != nil {
			// "a school library with students and books": the list names entities, not fields.
			for _, se := range subs {
				if !seen[se.Name] {
					seen[se.Name] = true
					spec.Entities = append(spec.Entities, se)
				}
			}
			continue
		}
		seen[e.Name] = true
		spec.Entities = append(spec.Entities, e)
	}
	if len(spec.Entities) == 0 {
		spec.Entities = fallback(toks)
	}
	for i := range spec.Entities {
		finish(&spec.Entities[i])
	}
	if len(spec.Entities) > MaxEntities {
		spec.Entities = spec.Entities[:MaxEntities]
	}
	return spec
}

func matchAt(toks []token, i int, phrase string) int {
	words := strings.Fields(phrase)
	for k, w := range words {
		if i+k >= len(toks) || toks[i+k].punct || toks[i+k].word != w {
			return 0
		}
	}
	return len(words)
}

func findAnchors(toks []token) []anchor {
	var out []anchor
	for i := 1; i < len(toks); i++ {
		prev := toks[i-1]
		if prev.punct || !isNounish(prev.word) {
			continue
		}
		var a anchor
		switch {
		case toks[i].word == "(" && toks[i].punct:
			if isTypeHint(toks, i+1) {
				continue // "rating (number)": a type hint, not an entity
			}
			a = anchor{listStart: i + 1, paren: true}
		case toks[i].word == ":" && toks[i].punct && isPlural(prev.word) && !hasAnchorAhead(toks, i+1):
			a = anchor{listStart: i + 1, colon: true}
		default:
			n := 0
			for _, in := range introducers {
				if n = matchAt(toks, i, in); n > 0 {
					break
				}
			}
			if n == 0 {
				continue
			}
			// "with" must introduce fields, not a person ("an app with my friends") or a verb.
			if next := i + n; next >= len(toks) || toks[next].punct && toks[next].word != ":" {
				continue
			}
			if toks[i+n].word == ":" {
				n++
			}
			a = anchor{listStart: i + n}
		}
		a.nounEnd = i
		a.nounStart = nounPhraseStart(toks, i)
		if len(out) > 0 && a.nounStart < out[len(out)-1].listStart {
			continue // inside the previous anchor's own introducer
		}
		out = append(out, a)
	}
	return out
}

// isTypeHint reports whether the parenthesis opening before toks[i] holds only a type hint
// or a single short phrase ("(number)", "(optional)", "(in minutes)").
func isTypeHint(toks []token, i int) bool {
	n, hint := 0, false
	for ; i < len(toks); i++ {
		t := toks[i]
		if t.punct {
			return t.word == ")" && n <= 3 && hint
		}
		if t.word == "and" || t.word == "or" {
			return false
		}
		if _, ok := typeHints[t.word]; ok || unitType([]string{t.word}) != "" || t.word == "optional" || t.word == "required" {
			hint = true
		}
		n++
	}
	return false
}

func hasAnchorAhead(toks []token, i int) bool {
	for ; i < len(toks); i++ {
		if toks[i].punct && (toks[i].word == "." || toks[i].word == ";") {
			return false
		}
		for _, in := range []string{"with", "having", "that have", "containing"} {
			if matchAt(toks, i, in) > 0 && i > 0 && !toks[i-1].punct && isPlural(toks[i-1].word) {
				return true
			}
		}
	}
	return false
}

// nounPhraseStart walks back from the introducer over at most two noun words.
func nounPhraseStart(toks []token, i int) int {
	start := i - 1
	if j := i - 2; j >= 0 && !toks[j].punct && isNounish(toks[j].word) && !appWords[toks[j].word] && !pluralVerbs[toks[j].word] {
		start = j
	}
	return start
}

func isNounish(w string) bool {
	return w != "" && !determiners[w] && !pronouns[w] && !verbs[w] && !unicode.IsDigit(rune(w[0]))
}

func isPlural(w string) bool {
	return strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") || irregularPlural[w] != ""
}

var irregularPlural = map[string]string{"people": "person", "children": "child", "men": "man", "women": "woman",
	"mice": "mouse", "geese": "goose", "teeth": "tooth", "feet": "foot", "data": "data", "series": "series",
	"species": "species", "news": "news", "sheep": "sheep", "fish": "fish"}

// Singular turns an English plural into its singular, well enough for nouns in requests.
func Singular(w string) string {
	if s, ok := irregularPlural[w]; ok {
		return s
	}
	if ieWords[strings.TrimSuffix(w, "s")] {
		return strings.TrimSuffix(w, "s")
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "ves") && len(w) > 4:
		for f := range fWords {
			if Plural(f) == w {
				return f
			}
		}
		return w[:len(w)-1]
	case strings.HasSuffix(w, "uses") && usWords[w[:len(w)-2]]:
		return w[:len(w)-2]
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "zzes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "s") && len(w) > 2:
		return w[:len(w)-1]
	}
	return w
}

// ieWords end in "ie", so their plural is not "-y" → "-ies".
var ieWords = set("movie", "cookie", "zombie", "pie", "tie", "calorie", "rookie", "selfie", "genie", "brownie",
	"smoothie", "sortie", "lie", "goalie", "hoodie", "freebie", "newbie", "rookie", "veggie", "auntie", "birdie", "budgie", "boogie", "indie", "eerie", "techie", "foodie", "yuppie")

// usWords end in "us" and take "-es" in the plural.
var usWords = set("status", "bus", "virus", "campus", "bonus", "census", "focus", "chorus", "circus", "walrus",
	"syllabus", "prospectus", "apparatus", "abacus", "octopus", "sinus", "stimulus", "thesaurus", "corpus", "genus")

// fWords make their plural with "-ves".
var fWords = set("shelf", "leaf", "wolf", "half", "knife", "life", "wife", "loaf", "thief", "calf", "self", "elf", "scarf")

// Plural is the inverse of Singular for regular nouns.
func Plural(w string) string {
	for p, s := range irregularPlural {
		if s == w {
			return p
		}
	}
	if fWords[w] {
		return strings.TrimSuffix(strings.TrimSuffix(w, "e"), "f") + "ves"
	}
	switch {
	case strings.HasSuffix(w, "y") && len(w) > 2 && !strings.ContainsRune("aeiou", rune(w[len(w)-2])):
		return w[:len(w)-1] + "ies"
	case strings.HasSuffix(w, "s"), strings.HasSuffix(w, "x"), strings.HasSuffix(w, "ch"), strings.HasSuffix(w, "sh"), strings.HasSuffix(w, "z"):
		return w + "es"
	}
	return w + "s"
}

// reservedEntities clash with what every app already has (its users, auth and health
// routes) or with the template's example entity; they get a neighbouring name.
var reservedEntities = map[string]string{"user": "member", "session": "meeting", "auth": "credential",
	"health": "health_record", "me": "profile", "api": "endpoint", "item": "entry", "account": "member_account",
	"test": "exam", "config": "setting", "app": "project", "page": "web_page", "layout": "design", "error": "issue",
	"log": "log_entry", "data": "record", "info": "record", "detail": "record", "thing": "entry", "stuff": "entry",
	"object": "entry", "element": "entry", "new": "entry", "index": "entry_index", "static": "asset", "public": "asset",
	"lib": "library_entry", "main": "entry", "model": "model_entry", "type": "kind", "class": "course"}

func entityFromNoun(words []token) (Entity, bool) {
	var ws []string
	for _, t := range words {
		if t.punct || determiners[t.word] || pronouns[t.word] {
			continue
		}
		ws = append(ws, t.word)
	}
	if len(ws) == 0 {
		return Entity{}, false
	}
	if len(ws) == 2 && (appWords[ws[0]] || verbs[ws[0]] || pluralVerbs[ws[0]]) {
		ws = ws[1:]
	}
	last := ws[len(ws)-1]
	if appWords[last] && len(ws) == 1 && !isPlural(last) {
		return Entity{}, false
	}
	ws[len(ws)-1] = Singular(last)
	name := ident(strings.Join(ws, "_"))
	if name == "" {
		return Entity{}, false
	}
	return newEntity(name), true
}

func newEntity(name string) Entity {
	if r, ok := reservedEntities[name]; ok {
		name = r
	}
	parts := strings.Split(name, "_")
	plural := strings.Join(append(parts[:len(parts)-1:len(parts)-1], Plural(parts[len(parts)-1])), "_")
	return Entity{Name: name, Plural: plural, Label: label(name)}
}

func label(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

var identRE = regexp.MustCompile(`[^a-z0-9_]+`)

func ident(s string) string {
	s = identRE.ReplaceAllString(strings.ReplaceAll(s, "'", ""), "_")
	s = strings.Trim(regexp.MustCompile(`_+`).ReplaceAllString(s, "_"), "_")
	for s != "" && unicode.IsDigit(rune(s[0])) {
		s = strings.TrimLeft(s[1:], "_")
	}
	if len(s) > 40 {
		s = strings.TrimRight(s[:40], "_")
	}
	return s
}

// clauseBreakers end a field list: what follows is no longer a field.
var clauseBreakers = []string{"so that", "so i", "so we", "where i", "where we", "where users", "where people", "which i",
	"that i", "that lets", "that allows", "to be able", "and i want", "and i need", "i want", "i need", "i'd like",
	"and let", "and lets", "and allow", "and show", "and display", "and see", "and mark", "and filter", "and sort",
	"and search", "for each", "sorted by", "ordered by", "grouped by", "in order to", "please", "make it", "it should",
	"the app", "users can", "i can", "we can", "you can", "also", "and also", "built with", "using", "with a nice",
	"with nice", "with a clean", "with a simple", "with search"}

func parseFields(toks []token, paren bool) []Field {
	// Cut the list at the end of the sentence, at a closing paren for "(...)", or at a phrase
	// that starts a new clause.
	end := len(toks)
	depth := 0
	for i, t := range toks {
		if t.punct {
			switch t.word {
			case "(":
				depth++
			case ")":
				if depth == 0 && paren {
					end = i
				} else if depth > 0 {
					depth--
				}
			case ".", ";":
				if depth == 0 && !paren {
					end = i
				}
			}
			if end != len(toks) {
				break
			}
			continue
		}
		for _, b := range clauseBreakers {
			if matchAt(toks, i, b) > 0 && i > 0 {
				end = i
				break
			}
		}
		if end != len(toks) {
			break
		}
	}
	toks = toks[:end]
	// Split into phrases on , ; and "and"/"or"/"plus"/"as well as", keeping "(hint)" with its phrase.
	var phrases [][]token
	var cur []token
	depth = 0
	flush := func() {
		if len(cur) > 0 {
			phrases = append(phrases, cur)
			cur = nil
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.punct && t.word == "(":
			depth++
			cur = append(cur, t)
		case t.punct && t.word == ")":
			if depth > 0 {
				depth--
			}
			cur = append(cur, t)
		case depth > 0:
			cur = append(cur, t)
		case t.punct && (t.word == "," || t.word == ";" || t.word == ":"):
			flush()
		case !t.punct && (t.word == "and" || t.word == "or" || t.word == "plus" || t.word == "along"):
			flush()
		case matchAt(toks, i, "as well as") > 0:
			flush()
			i += 2
		default:
			cur = append(cur, t)
		}
	}
	flush()
	var out []Field
	seen := map[string]bool{}
	for _, p := range phrases {
		f, ok := parseField(p)
		if !ok || seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		out = append(out, f)
		if len(out) == MaxFields {
			break
		}
	}
	return out
}

var (
	boolLead   = set("whether", "if", "is", "was", "are", "has", "have", "can")
	fillerTail = set("flag", "checkbox", "toggle", "field", "fields", "column", "info", "information",
		"boolean", "bool", "yes", "no", "etc", "it", "them", "or", "not", "to", "of", "for", "on", "at", "by", "from")
	typeHints = map[string]string{"text": TypeText, "long": TypeText, "textarea": TypeText, "markdown": TypeText,
		"number": TypeFloat, "numeric": TypeFloat, "integer": TypeInt, "int": TypeInt, "whole": TypeInt, "count": TypeInt,
		"decimal": TypeFloat, "float": TypeFloat, "money": TypeFloat, "currency": TypeFloat, "boolean": TypeBool,
		"bool": TypeBool, "yes": TypeBool, "checkbox": TypeBool, "true": TypeBool, "date": TypeDate, "string": TypeString,
		"short": TypeString}
	reservedFields = map[string]string{"id": "code", "_id": "code", "created_at": "created_on", "updated_at": "updated_on",
		"owner": "owner_name", "owner_id": "owner_ref", "user_id": "user_ref", "class": "class_name", "from": "from_place",
		"to": "to_place", "in": "in_place", "is": "is_flag", "def": "definition", "import": "import_name",
		"return": "return_value", "type": "kind", "default": "default_value", "new": "is_new", "delete": "to_delete",
		"function": "function_name", "var": "variable", "let": "let_value", "const": "constant", "async": "is_async",
		"await": "await_value", "none": "none_value", "true": "is_true", "false": "is_false", "null": "null_value",
		"key": "key_name", "ref": "reference", "children": "child_names", "constructor": "constructor_name",
		"prototype": "prototype_name", "self": "self_value", "lambda": "lambda_value", "global": "global_value",
		"pass": "pass_value", "yield": "yield_value", "with": "with_value", "as": "as_value", "or": "or_value",
		"and": "and_value", "not": "not_value", "while": "while_value", "for": "for_value", "if": "if_value",
		"else": "else_value", "try": "try_value", "except": "except_value", "raise": "raise_value",
		"model_config": "model_setting", "schema": "schema_name", "fields": "field_list", "json": "json_value",
		"copy": "copy_value", "dict": "dict_value", "validate": "validate_value", "length": "length_value"}
)

func parseField(p []token) (Field, bool) {
	hint := ""
	var words []string
	depth := 0
	for _, t := range p {
		if t.punct {
			switch t.word {
			case "(":
				depth++
			case ")":
				depth--
			}
			continue
		}
		if depth > 0 {
			if h, ok := typeHints[t.word]; ok && hint == "" {
				hint = h
			}
			continue
		}
		words = append(words, t.word)
	}
	isBool := false
	// leading determiners, pronouns and "whether"
	for len(words) > 0 {
		w := words[0]
		switch {
		case boolLead[w]:
			isBool = true
		case w == "number" && len(words) > 1 && words[1] == "of":
			hint = TypeInt
			words = words[1:]
		case w == "how" && len(words) > 1 && (words[1] == "many" || words[1] == "much" || words[1] == "long"):
			if words[1] == "much" {
				hint = TypeFloat
			} else {
				hint = TypeInt
			}
			words = words[1:]
		case determiners[w] || pronouns[w] || w == "field" || w == "fields" || w == "optionally" || w == "maybe":
		default:
			goto lead
		}
		words = words[1:]
	}
lead:
	// trailing fillers ("done flag", "price in dollars")
	for i, w := range words {
		if (w == "in" || w == "as" || w == "of" && i == len(words)-1 || w == "like" || w == "such") && i > 0 {
			if h, ok := typeHints[lastOr(words[i+1:], "")]; ok && hint == "" {
				hint = h
			}
			if w != "in" || unitType(words[i+1:]) == "" {
				words = words[:i]
				break
			}
			if ut := unitType(words[i+1:]); ut != "" && hint == "" {
				hint = ut
			}
			words = words[:i]
			break
		}
	}
	for len(words) > 1 && fillerTail[words[len(words)-1]] {
		if h, ok := typeHints[words[len(words)-1]]; ok && hint == "" {
			hint = h
		}
		words = words[:len(words)-1]
	}
	// drop pronouns and auxiliaries inside bool phrases: "whether i've read it" → read
	var kept []string
	for _, w := range words {
		if pronouns[w] || (isBool && (determiners[w] || w == "been" || w == "be" || w == "already")) {
			continue
		}
		kept = append(kept, w)
	}
	words = kept
	if len(words) == 0 || len(words) > 5 {
		return Field{}, false
	}
	if len(words) == 1 && (verbs[words[0]] || determiners[words[0]]) && !isBool {
		return Field{}, false
	}
	name := ident(strings.Join(words, "_"))
	if name == "" {
		return Field{}, false
	}
	typ := inferType(words, isBool)
	if hint != "" && !isBool {
		typ = hint
	}
	if r, ok := reservedFields[name]; ok {
		name = r
	}
	return Field{Name: name, Label: label(name), Type: typ}, true
}

func lastOr(ws []string, def string) string {
	if len(ws) == 0 {
		return def
	}
	return ws[len(ws)-1]
}

func unitType(ws []string) string {
	for _, w := range ws {
		switch w {
		case "dollars", "euros", "usd", "eur", "pounds", "kg", "kilograms", "km", "kilometers", "kilometres", "miles", "meters", "metres", "lbs", "grams", "liters", "litres", "hours":
			return TypeFloat
		case "minutes", "seconds", "days", "pages", "cents", "years":
			return TypeInt
		}
	}
	return ""
}

var (
	boolWords = set("done", "completed", "complete", "finished", "active", "published", "paid", "available", "archived",
		"favorite", "favourite", "visited", "private", "public", "verified", "enabled", "checked", "read", "watched",
		"attended", "returned", "approved", "resolved", "shipped", "delivered", "confirmed", "starred", "pinned",
		"vegetarian", "vegan", "urgent", "important", "flagged", "owned", "sold", "accepted", "cancelled", "canceled",
		"open", "closed", "booked", "signed", "recurring", "featured", "hidden", "draft", "online", "remote", "refundable",
		"taken", "packed", "bought", "purchased", "played", "tried", "seen", "answered", "received", "sent", "won",
		"gluten_free", "billable", "reviewed", "planted", "watered", "fixed", "done_today", "subscribed", "married", "mastered",
		"learned", "allowed", "covered", "occupied", "worn", "listened", "alcoholic", "recorded", "attending", "rsvped",
		"included", "required", "enabled", "installed", "charged", "claimed", "signed_up", "registered", "present", "absent")
	dateWords = set("date", "deadline", "due", "birthday", "dob", "day", "when", "expiry", "expires", "expiration",
		"anniversary", "deadline_date", "since", "until", "start", "end", "starts", "ends", "born", "purchased_on",
		"started", "released", "release", "opened", "joined", "hired", "planted", "harvest", "visit", "appointment",
		"checkin", "checkout", "departure", "arrival")
	intWords = set("minutes", "minute", "mins", "hours", "seconds", "count", "quantity", "qty", "pages", "page",
		"age", "year", "years", "servings", "serving", "rating", "stars", "stock", "calories", "score", "reps",
		"sets", "days", "weeks", "months", "capacity", "seats", "duration", "episodes", "votes", "likes",
		"points", "goals", "floor", "guests", "attendees", "people", "players", "copies", "units", "level",
		"rank", "number", "minutes_to_cook", "size", "chapters", "laps", "visits", "views", "priority",
		"round", "season", "week", "attempts", "tickets", "beds", "rooms", "bedrooms", "bathrooms", "servings_count",
		"inventory", "runtime", "length", "issues", "streak", "frequency", "times", "amount_of_times", "track_number",
		"edition", "volume", "kids", "pieces", "wins", "losses", "cups", "glasses", "mileage")
	floatWords = set("price", "cost", "amount", "total", "balance", "salary", "budget", "weight", "height",
		"distance", "km", "miles", "kg", "lbs", "rate", "percentage", "percent", "temperature", "latitude",
		"longitude", "lat", "lng", "fee", "fees", "value", "revenue", "income", "expense", "spend", "spent", "tip",
		"hourly", "wage", "pay", "bill", "deposit", "rent", "mortgage", "gpa", "grade", "bmi", "pace", "speed",
		"volume_ml", "ml", "liters", "litres", "grams", "calorie", "protein", "carbs", "fat", "sugar", "dose", "dosage",
		"discount", "tax", "interest", "estimate", "hours_worked", "time_spent", "debt", "savings", "donation",
		"invoice_total", "subtotal", "weight_kg", "km_run", "elevation", "area", "volume_l", "abv")
	textWords = set("description", "notes", "note", "body", "content", "ingredients", "instructions", "directions",
		"summary", "bio", "biography", "details", "steps", "review", "message", "text", "lyrics",
		"abstract", "comment", "comments", "story", "synopsis", "recipe", "method", "answer", "explanation",
		"steps_to_reproduce",
		"reflection", "thoughts", "feedback", "transcript", "minutes_text", "agenda", "symptoms", "requirements",
		"outline", "plot", "excerpt", "snippet", "code", "entry", "journal", "memo", "remarks", "solution",
		"questions", "tasks", "goals_text", "preparation", "treatment", "diagnosis", "quote", "definition_text",
		"ingredient_list", "todo", "caption", "overview", "highlights", "lessons", "learnings", "takeaways",
		"prompt", "response", "prompt_text")
)

// numberedThings are counted ("episode number" is an int); other "X number"s are identifiers.
var numberedThings = set("episode", "order", "room", "table", "seat", "track", "jersey", "house", "lot", "floor",
	"chapter", "issue", "version", "page", "lap", "round", "week", "day", "level", "step", "unit", "box", "lane", "gate")

func inferType(words []string, isBool bool) string {
	if isBool {
		return TypeBool
	}
	last := words[len(words)-1]
	first := words[0]
	joined := strings.Join(words, "_")
	if last == "number" && len(words) > 1 {
		if numberedThings[words[len(words)-2]] {
			return TypeInt
		}
		return TypeString
	}
	if last == "code" || last == "name" || last == "url" || last == "email" || last == "phone" || last == "id" {
		return TypeString
	}
	switch {
	case textWords[joined] || textWords[last]:
		return TypeText
	case first == "last" && len(words) == 2 && strings.HasSuffix(last, "ed"):
		return TypeDate
	case len(words) > 1 && floatWords[first]:
		return TypeFloat
	case boolWords[joined] || boolWords[last] && (len(words) <= 3) || first == "is" || first == "has":
		return TypeBool
	case len(words) > 1 && intWords[first] && first != "number":
		return TypeInt
	case last == "date" || last == "birthday" || last == "deadline" || last == "on" || first == "due" || dateWords[joined]:
		return TypeDate
	case last == "at" && len(words) > 1:
		return TypeDate
	case intWords[last] || intWords[joined] || strings.HasPrefix(joined, "number") || strings.HasPrefix(joined, "num_"):
		if last == "hours" && len(words) == 1 {
			return TypeFloat
		}
		return TypeInt
	case floatWords[last] || floatWords[joined]:
		return TypeFloat
	case textWords[first] && len(words) <= 3:
		return TypeText
	}
	// A known word anywhere: "calories burned", "cost per unit", "times per day".
	for _, w := range words {
		switch {
		case intWords[w] && w != "number" && w != "size" && w != "level":
			return TypeInt
		case floatWords[w]:
			return TypeFloat
		}
	}
	return TypeString
}

// finish makes sure an entity can be shown: a leading string field to title it.
func finish(e *Entity) {
	if len(e.Fields) == 0 {
		e.Fields = []Field{{Name: "name", Label: "Name", Type: TypeString}}
		return
	}
	for i, f := range e.Fields {
		if f.Type == TypeString {
			if i > 0 {
				e.Fields = append([]Field{f}, append(e.Fields[:i:i], e.Fields[i+1:]...)...)
			}
			return
		}
	}
	title := "name"
	for _, f := range e.Fields {
		if f.Name == title {
			title = "title"
		}
	}
	e.Fields = append([]Field{{Name: title, Label: label(title), Type: TypeString}}, e.Fields...)
	if len(e.Fields) > MaxFields {
		e.Fields = e.Fields[:MaxFields]
	}
}

// domains are what common kinds of apps hold when the request names no fields.
var domains = []struct {
	keys   []string
	entity string
	fields string
}{
	{[]string{"todo", "to-do", "task", "tasks", "chores", "chore"}, "task", "title:string,done:bool,due_date:date"},
	{[]string{"recipe", "recipes", "cookbook", "cooking"}, "recipe", "name:string,ingredients:text,minutes_to_cook:int"},
	{[]string{"book", "books", "reading", "library"}, "book", "title:string,author:string,pages:int,read:bool"},
	{[]string{"expense", "expenses", "budget", "spending", "finance", "finances"}, "expense", "description:string,amount:float,date:date"},
	{[]string{"contact", "contacts", "crm", "address"}, "contact", "name:string,email:string,phone:string"},
	{[]string{"event", "events", "calendar", "meetup"}, "event", "title:string,date:date,location:string"},
	{[]string{"habit", "habits"}, "habit", "name:string,times_per_week:int,active:bool"},
	{[]string{"movie", "movies", "film", "films", "watchlist"}, "movie", "title:string,year:int,rating:int,watched:bool"},
	{[]string{"workout", "workouts", "gym", "fitness", "exercise"}, "workout", "exercise:string,reps:int,weight:float,date:date"},
	{[]string{"bookmark", "bookmarks", "links", "link"}, "bookmark", "title:string,url:string,notes:text"},
	{[]string{"note", "notes", "notebook", "journal", "diary"}, "note", "title:string,body:text"},
	{[]string{"inventory", "product", "products", "shop", "store", "stock"}, "product", "name:string,price:float,quantity:int"},
	{[]string{"grocery", "groceries", "shopping"}, "grocery", "name:string,quantity:int,bought:bool"},
	{[]string{"plant", "plants", "garden", "gardening"}, "plant", "name:string,species:string,last_watered:date"},
	{[]string{"blog", "posts", "post", "articles"}, "post", "title:string,body:text,published:bool"},
	{[]string{"project", "projects"}, "project", "name:string,description:text,deadline:date"},
	{[]string{"job", "jobs", "applications", "hiring"}, "job_application", "company:string,position:string,status:string,applied_on:date"},
	{[]string{"pet", "pets", "vet"}, "pet", "name:string,species:string,birthday:date"},
	{[]string{"trip", "trips", "travel", "vacation"}, "trip", "destination:string,start_date:date,end_date:date,budget:float"},
	{[]string{"music", "songs", "song", "playlist"}, "song", "title:string,artist:string,year:int"},
	{[]string{"student", "students", "school", "grades"}, "student", "name:string,grade:float,email:string"},
	{[]string{"ticket", "tickets", "support", "helpdesk", "bugs", "bug", "issues"}, "ticket", "title:string,description:text,priority:string,resolved:bool"},
	{[]string{"employee", "employees", "staff", "hr"}, "employee", "name:string,role:string,email:string,start_date:date"},
	{[]string{"meal", "meals", "diet", "nutrition", "food"}, "meal", "name:string,calories:int,date:date"},
	{[]string{"game", "games", "boardgames"}, "game", "title:string,players:int,owned:bool"},
	{[]string{"wine", "wines", "cellar"}, "wine", "name:string,vintage:int,rating:int,notes:text"},
	{[]string{"flashcard", "flashcards", "vocabulary", "study"}, "flashcard", "front:string,back:text,learned:bool"},
	{[]string{"poll", "polls", "survey", "vote"}, "poll", "question:string,options:text,closed:bool"},
	{[]string{"restaurant", "restaurants", "dining"}, "restaurant", "name:string,cuisine:string,rating:int,visited:bool"},
	{[]string{"car", "cars", "vehicle", "vehicles", "mileage"}, "vehicle", "name:string,mileage:int,last_service:date"},
}

// pluralFields are plural words that are ordinary fields, not entities.
var pluralFields = set("notes", "tags", "ingredients", "comments", "instructions", "directions", "steps", "details",
	"calories", "minutes", "hours", "pages", "servings", "reps", "sets", "votes", "likes", "points", "goals", "wins",
	"losses", "credits", "stars", "seats", "guests", "players", "copies", "units", "views", "days", "weeks", "years",
	"symptoms", "requirements", "questions", "options", "attendees", "participants", "bedrooms", "bathrooms", "rooms",
	"toppings", "genres", "skills", "hobbies", "keywords", "categories", "labels", "allergies", "blockers", "links",
	"photos", "images", "episodes", "chapters", "members", "emails", "phones", "addresses", "dates", "sizes", "colors",
	"materials", "features", "amenities", "kids", "children", "pets", "beds", "lyrics", "cups", "glasses", "sales",
	"expenses", "earnings", "savings", "status", "address", "progress", "news", "series", "species")

// entitiesFromFields turns a field list of two or more bare plural nouns into entities.
func entitiesFromFields(fs []Field) []Entity {
	if len(fs) < 2 {
		return nil
	}
	for _, f := range fs {
		if strings.Contains(f.Name, "_") || !isPlural(f.Name) || pluralFields[f.Name] || f.Type != TypeString {
			return nil
		}
	}
	var out []Entity
	for _, f := range fs {
		name := Singular(f.Name)
		if es := domainEntity(name); es != nil {
			out = append(out, *es)
			continue
		}
		e := newEntity(name)
		e.Fields = []Field{{Name: "name", Label: "Name", Type: TypeString}, {Name: "notes", Label: "Notes", Type: TypeText}}
		out = append(out, e)
	}
	return out
}

// domainEntity is the usual entity for a noun that is a domain key ("book"), or nil.
func domainEntity(noun string) *Entity {
	for _, d := range domains {
		if d.entity != noun && !slices.Contains(d.keys, noun) {
			continue
		}
		e := newEntity(d.entity)
		for _, f := range strings.Split(d.fields, ",") {
			n, typ, _ := strings.Cut(f, ":")
			e.Fields = append(e.Fields, Field{Name: n, Label: label(n), Type: typ})
		}
		return &e
	}
	return nil
}

func fallback(toks []token) []Entity {
	words := map[string]bool{}
	var order []string
	for _, t := range toks {
		if !t.punct {
			words[t.word] = true
			order = append(order, t.word)
		}
	}
	for _, d := range domains {
		for _, k := range d.keys {
			if words[k] {
				e := newEntity(d.entity)
				for _, f := range strings.Split(d.fields, ",") {
					n, typ, _ := strings.Cut(f, ":")
					e.Fields = append(e.Fields, Field{Name: n, Label: label(n), Type: typ})
				}
				return []Entity{e}
			}
		}
	}
	// "a plant watering tracker" → the noun before the app word.
	for i, w := range order {
		if appWords[w] && i > 0 {
			j := i - 1
			for j > 0 && strings.HasSuffix(order[j], "ing") {
				j--
			}
			if n := order[j]; isNounish(n) && !appWords[n] {
				e := newEntity(ident(Singular(n)))
				if e.Name != "" {
					e.Fields = []Field{{Name: "name", Label: "Name", Type: TypeString}, {Name: "notes", Label: "Notes", Type: TypeText}}
					return []Entity{e}
				}
			}
		}
	}
	e := newEntity("note")
	e.Fields = []Field{{Name: "title", Label: "Title", Type: TypeString}, {Name: "body", Label: "Body", Type: TypeText}}
	return []Entity{e}
}

// Describe is a human summary of the spec for requirements and design documents.
func (s Spec) Describe() string {
	var b strings.Builder
	for _, e := range s.Entities {
		fmt.Fprintf(&b, "- %s (collection `%s`):", e.Label, e.Plural)
		for i, f := range e.Fields {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s (%s)", f.Name, f.Type)
		}
		b.WriteString("\n")
	}
	return b.String()
}
