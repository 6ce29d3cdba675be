package gatewayplugins

import (
	"net/http"
	"strconv"
	"sync"

	pkgHTTP "github.com/apache/apisix-go-plugin-runner/pkg/http"
	"github.com/apache/apisix-go-plugin-runner/pkg/plugin"

	"github.com/mgx-dev/mgx/gateway-plugins/approuter"
)

// AppRouter is the `mgx-app-router` plugin, configured per app route through APISIX's
// ext-plugin-pre-req: {"conf":[{"name":"mgx-app-router","value":"<approuter.Conf JSON>"}]}.
// It refuses paths outside the route (dot segments that leave the app, too long, control
// characters), redirects "/apps/<slug>" to "/apps/<slug>/", and strips BASE_PATH for
// backends that do not know it.
type AppRouter struct {
	plugin.DefaultPlugin
}

var _ plugin.Plugin = (*AppRouter)(nil)

// register adds the plugin to the runner once, when the runner starts (RunPluginRunner):
// registering in init would make the runner's logger print a line in every mgx command.
var register = sync.OnceValue(func() error { return plugin.RegisterPlugin(&AppRouter{}) })

// Name is "mgx-app-router".
func (*AppRouter) Name() string { return approuter.PluginName }

// ParseConf validates the route's conf once; the runner caches the result per conf token.
func (*AppRouter) ParseConf(in []byte) (any, error) { return approuter.ParseConf(in) }

// RequestFilter rewrites the path or answers the request. APISIX gives the decoded,
// nginx-normalized $uri; the path set here is re-encoded by APISIX segment by segment.
func (*AppRouter) RequestFilter(conf any, w http.ResponseWriter, r pkgHTTP.Request) {
	c, ok := conf.(*approuter.Conf)
	if !ok {
		writeError(w, http.StatusInternalServerError, "bad_conf", "mgx-app-router is misconfigured")
		return
	}
	path := r.Path()
	res := approuter.Rewrite(c, string(path))
	switch {
	case res.Status == http.StatusPermanentRedirect:
		loc := res.Location
		if q := r.Args().Encode(); q != "" {
			loc += "?" + q
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(res.Status)
		return
	case res.Status != 0:
		writeError(w, res.Status, "bad_path", res.Reason)
		return
	}
	if res.Path != string(path) {
		r.SetPath([]byte(res.Path))
	}
	if c.Strip {
		r.Header().Set("X-Forwarded-Prefix", c.BasePath())
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":{"code":` + strconv.Quote(code) + `,"message":` + strconv.Quote(msg) + `}}`))
}
