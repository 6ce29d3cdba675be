package gateway_test

import (
	"testing"

	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/store"
	"github.com/mgx-dev/mgx/store/storetest"
)

func newStoreGateway(t *testing.T, d gateway.Driver) *gateway.Gateway {
	t.Helper()
	g, err := gateway.New(t.Context(), gateway.Config{Store: storetest.New(t), Driver: d})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func newStoreForTest(t *testing.T) *store.Store { return storetest.New(t) }
