package gateway_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/identity"
)

func TestStatusHandler(t *testing.T) {
	g := newStoreGateway(t, gateway.NewEmbedded(gateway.EmbeddedConfig{}))
	if err := g.Upsert(t.Context(), gateway.AppRoute(gateway.KindProd, "s", "/", false, "h:1")); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&gateway.Handler{Gateway: g}).Mount(mux)
	tests := []struct {
		name   string
		who    *identity.Principal
		status int
	}{
		{name: "anonymous", status: 401},
		{name: "user", who: &identity.Principal{UserID: "u"}, status: 403},
		{name: "admin", who: &identity.Principal{UserID: "a", Admin: true}, status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/api/gateway", nil)
			if tt.who != nil {
				req = req.WithContext(identity.With(req.Context(), *tt.who))
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.status == 200 {
				var st gateway.Status
				if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Driver != "embedded" || len(st.Routes) != 1 || !st.Routes[0].Applied {
					t.Fatalf("body %s (%v)", rec.Body, err)
				}
			}
		})
	}
}
