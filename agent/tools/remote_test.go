package tools

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRemoteRunner(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer run-token" {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":{"code":"unauthorized","message":"bad run token"}}`))
			return
		}
		var in struct {
			Command string `json:"command"`
			Dir     string `json:"dir"`
			Timeout int    `json:"timeout_seconds"`
		}
		json.NewDecoder(r.Body).Decode(&in)
		json.NewEncoder(w).Encode(map[string]any{"exit_code": 2, "output": in.Dir + ": " + in.Command, "duration_ms": 1500, "timed_out": false})
	}))
	defer srv.Close()
	tests := []struct {
		name     string
		token    string
		wantErr  string
		wantCode int
		wantOut  string
	}{
		{name: "runs", token: "run-token", wantCode: 2, wantOut: "frontend: npm test"},
		{name: "bad token", token: "nope", wantErr: "bad run token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &RemoteRunner{URL: srv.URL, Token: tc.token}
			res, err := r.Run(t.Context(), Command{Line: "npm test", Dir: "frontend"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), tc.token) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || res.ExitCode != tc.wantCode || res.Output != tc.wantOut || res.Duration.Seconds() != 1.5 {
				t.Fatalf("res = %+v err = %v", res, err)
			}
		})
	}
}
