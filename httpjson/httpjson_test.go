package httpjson_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mgx-dev/mgx/httpjson"
)

func TestDecode(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name       string
		in         string
		ctype      string
		wantStatus int // 0: success
	}{
		{"ok", `{"name":"a"}`, "application/json", 0},
		{"no content type", `{"name":"a"}`, "", 0},
		{"empty", ``, "application/json", 400},
		{"malformed", `{"name":`, "application/json", 400},
		{"unknown field", `{"nam":"a"}`, "application/json", 400},
		{"trailing", `{"name":"a"} {}`, "application/json", 400},
		{"too big", `{"name":"` + strings.Repeat("x", 200) + `"}`, "application/json", 413},
		{"wrong type", `a=b`, "application/x-www-form-urlencoded", 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.in))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			var b body
			err := httpjson.Decode(w, r, &b, 100)
			if tc.wantStatus == 0 {
				if err != nil || b.Name != "a" {
					t.Fatalf("got %v, %+v", err, b)
				}
				return
			}
			if err == nil || w.Code != tc.wantStatus {
				t.Fatalf("got err %v status %d, want status %d", err, w.Code, tc.wantStatus)
			}
			var eb httpjson.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
				t.Fatalf("error body %q not in the one shape", w.Body.String())
			}
		})
	}
}

func TestErrorShape(t *testing.T) {
	w := httptest.NewRecorder()
	httpjson.Error(w, http.StatusNotFound, "not_found", "no such app")
	if w.Code != 404 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d type %q", w.Code, w.Header().Get("Content-Type"))
	}
	want := `{"error":{"code":"not_found","message":"no such app"}}`
	if strings.TrimSpace(w.Body.String()) != want {
		t.Fatalf("body %s", w.Body.String())
	}
}
