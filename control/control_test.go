package control

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOpenAPIListsTheContract(t *testing.T) {
	mux := http.NewServeMux()
	OpenAPI{}.Mount(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/api/openapi.json", nil))
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.OpenAPI == "" {
		t.Fatalf("not an OpenAPI document: %v", err)
	}
	for path, methods := range map[string][]string{
		"/api/me":                           {"get"},
		"/api/sessions":                     {"get", "post"},
		"/api/sessions/{id}/events":         {"get"},
		"/api/workspaces/{id}/files/{path}": {"get", "put", "delete"},
		"/api/apps/{slug}/deployments":      {"get", "post"},
		"/api/apps/{slug}/db/collections":   {"get"},
		"/api/users":                        {"get", "post"},
	} {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("%s %s missing", m, path)
			}
		}
	}
}
