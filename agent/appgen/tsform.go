package appgen

import (
	"fmt"
	"strings"
)

// tsForm is the form model and the form and detail components shared by the Next.js view
// and the React page: Form, EMPTY, toForm, toBody, Fields, Details.
func tsForm(e Entity, n names) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	var formFields, empty, toForm []string
	for _, f := range e.Fields {
		typ := "string"
		def := `""`
		conv := fmt.Sprintf("row.%s", f.Name)
		switch f.Type {
		case TypeBool:
			typ, def = "boolean", "false"
		case TypeInt, TypeFloat:
			conv = fmt.Sprintf("String(row.%s)", f.Name)
		}
		formFields = append(formFields, fmt.Sprintf("%s: %s", f.Name, typ))
		empty = append(empty, fmt.Sprintf("%s: %s", f.Name, def))
		toForm = append(toForm, fmt.Sprintf("%s: %s", f.Name, conv))
	}
	w("type Form = { %s };\n\n", strings.Join(formFields, "; "))
	w("const EMPTY: Form = { %s };\n\n", strings.Join(empty, ", "))
	w("function toForm(row: %s): Form {\n  return { %s };\n}\n\n", n.E, strings.Join(toForm, ", "))
	w("/** toBody turns the form into a request body, or an error message for a bad number. */\n")
	w("function toBody(form: Form): { body: Record<string, unknown> } | { error: string } {\n")
	w("  const body: Record<string, unknown> = { ...form };\n")
	for _, f := range e.Fields {
		if f.Type == TypeInt || f.Type == TypeFloat {
			check := "Number.isFinite(v)"
			msg := "must be a number"
			if f.Type == TypeInt {
				check, msg = "Number.isInteger(v)", "must be a whole number"
			}
			w("  {\n    const v = form.%s.trim() === \"\" ? 0 : Number(form.%s);\n    if (!%s) return { error: \"%s %s\" };\n    body.%s = v;\n  }\n",
				f.Name, f.Name, check, f.Label, msg, f.Name)
		}
	}
	w("  return { body };\n}\n\n")
	// Fields: the inputs for one form.
	w("function Fields({ form, onChange }: { form: Form; onChange: (form: Form) => void }) {\n  return (\n    <>\n")
	for _, f := range e.Fields {
		switch f.Type {
		case TypeBool:
			w("      <label className=\"row small\">\n        <input\n          type=\"checkbox\"\n          className=\"check\"\n          checked={form.%s}\n          onChange={(e) => onChange({ ...form, %s: e.target.checked })}\n        />\n        %s\n      </label>\n", f.Name, f.Name, f.Label)
		case TypeText:
			w("      <textarea\n        className=\"input\"\n        aria-label=%q\n        placeholder=%q\n        rows={3}\n        maxLength={10000}\n        value={form.%s}\n        onChange={(e) => onChange({ ...form, %s: e.target.value })}\n      />\n", f.Label, f.Label, f.Name, f.Name)
		default:
			attrs := "maxLength={200}"
			switch f.Type {
			case TypeInt:
				attrs = "type=\"number\" step=\"1\""
			case TypeFloat:
				attrs = "type=\"number\" step=\"any\""
			case TypeDate:
				attrs = "type=\"date\""
			}
			w("      <input\n        className=\"input\"\n        %s\n        aria-label=%q\n        placeholder=%q\n        value={form.%s}\n        onChange={(e) => onChange({ ...form, %s: e.target.value })}\n      />\n", attrs, f.Label, f.Label, f.Name, f.Name)
		}
	}
	w("    </>\n  );\n}\n\n")
	// Details: the other fields of a row.
	w("function Details({ row }: { row: %s }) {\n  return (\n    <span className=\"muted small\">\n", n.E)
	var parts []string
	for _, f := range e.Fields[1:] {
		val := fmt.Sprintf("{row.%s}", f.Name)
		switch f.Type {
		case TypeBool:
			val = fmt.Sprintf("{row.%s ? \"yes\" : \"no\"}", f.Name)
		case TypeText:
			val = fmt.Sprintf("{row.%s.length > 80 ? `${row.%s.slice(0, 80)}…` : row.%s}", f.Name, f.Name, f.Name)
		case TypeDate, TypeString:
			val = fmt.Sprintf("{row.%s || \"—\"}", f.Name)
		}
		parts = append(parts, fmt.Sprintf("      <span>\n        %s: %s{\" \"}\n      </span>\n", f.Label, val))
	}
	w("%s", strings.Join(parts, ""))
	w("    </span>\n  );\n}\n\n")
	return b.String()
}
