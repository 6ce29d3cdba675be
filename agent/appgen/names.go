package appgen

import "strings"

// names are the spellings of an entity in generated code.
type names struct {
	E, Es   string // PascalCase singular/plural: ShoppingList, ShoppingLists
	e, es   string // camelCase: shoppingList, shoppingLists
	coll    string // collection: shopping_lists
	kebab   string // URL segment and file names: shopping-lists
	label   string // "Shopping list"
	labels  string // "Shopping lists"
	lower   string // "shopping list"
	lowers  string // "shopping lists"
	snake   string // shopping_list
	errCode string // invalid_shopping_list
}

func pascal(snake string) string {
	var b strings.Builder
	for _, p := range strings.Split(snake, "_") {
		if p == "" {
			continue
		}
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	return b.String()
}

func camel(snake string) string {
	p := pascal(snake)
	if p == "" {
		return p
	}
	return strings.ToLower(p[:1]) + p[1:]
}

func namesOf(e Entity) names {
	return names{
		E: pascal(e.Name), Es: pascal(e.Plural), e: camel(e.Name), es: camel(e.Plural),
		coll: e.Plural, kebab: strings.ReplaceAll(e.Plural, "_", "-"),
		label: e.Label, labels: label(e.Plural), lower: strings.ReplaceAll(e.Name, "_", " "),
		lowers: strings.ReplaceAll(e.Plural, "_", " "), snake: e.Name, errCode: "invalid_" + e.Name,
	}
}

// sample values the generated tests send, as source literals per language.
func sampleTS(f Field) string {
	switch f.Type {
	case TypeInt:
		return "42"
	case TypeFloat:
		return "12.5"
	case TypeBool:
		return "true"
	case TypeDate:
		return `"2026-01-15"`
	case TypeText:
		return `"Some ` + strings.ToLower(f.Label) + `\nover two lines"`
	}
	return `"Sample ` + strings.ToLower(f.Label) + `"`
}

func badTS(f Field) string {
	switch f.Type {
	case TypeInt:
		return "1.5"
	case TypeFloat:
		return `"lots"`
	case TypeBool:
		return `"yes"`
	case TypeDate:
		return `"tomorrow"`
	}
	return "5"
}

func defaultTS(f Field) string {
	switch f.Type {
	case TypeInt, TypeFloat:
		return "0"
	case TypeBool:
		return "false"
	}
	return `""`
}

func tsType(f Field) string {
	switch f.Type {
	case TypeInt, TypeFloat:
		return "number"
	case TypeBool:
		return "boolean"
	}
	return "string"
}
