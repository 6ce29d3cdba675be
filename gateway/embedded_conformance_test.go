package gateway_test

import (
	"testing"

	"github.com/mgx-dev/mgx/gateway"
	"github.com/mgx-dev/mgx/gateway/gatewaytest"
)

func TestEmbeddedConformance(t *testing.T) {
	gatewaytest.RunTests(t, func(t *testing.T) gateway.Driver {
		return gateway.NewEmbedded(gateway.EmbeddedConfig{})
	})
}
