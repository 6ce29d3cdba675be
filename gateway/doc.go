// Package gateway holds MGX's routes: the model stored in MongoDB (the source of truth),
// the reconcile loop that makes a gateway driver match it, and the embedded driver that
// serves `mgx up` on httputil.ReverseProxy. The APISIX driver lives in package apisix; both
// pass the conformance suite in gateway/gatewaytest. The path decisions (cleaning, prefix
// check, BASE_PATH stripping) are package approuter's, shared with the APISIX plugin.
//
// Wiring, embedded (the default of `mgx up`): the embedded gateway is the HTTP server's
// top-level handler and serves MGX's own routes in process.
//
//	emb := gateway.NewEmbedded(gateway.EmbeddedConfig{Platform: mux, Waker: waker, Dev: devenvManager, Logger: log})
//	gw, err := gateway.New(ctx, gateway.Config{Store: st, Driver: emb, Logger: log})
//	for _, r := range gateway.PlatformRoutes(cfg.HTTPAddr) { err = gw.Upsert(ctx, r) }
//	(&gateway.Handler{Gateway: gw}).Mount(mux) // GET /api/gateway, admins
//	go gw.Run(ctx)
//	srv := &http.Server{Addr: cfg.HTTPAddr, Handler: emb}
//
// Wiring, APISIX (MGX_GATEWAY=apisix): MGX serves its mux on MGX_HTTP_ADDR; APISIX sends
// "/", "/api/", "/otlp/" and "/oauth2/" there, and app paths without a running upstream.
//
//	drv, err := apisix.New(apisix.Config{AdminURL: adminURL, AdminKey: adminKey, Fallback: control})
//	gw, err := gateway.New(ctx, gateway.Config{Store: st, Driver: drv, Waker: waker, Dev: devenvManager, Logger: log})
//	for _, r := range gateway.PlatformRoutesFor(control, oauth) { err = gw.Upsert(ctx, r) }
//	mux.Handle("/apps/", gw.Fallback())
//	mux.Handle("/dev/", gw.Fallback())
//	go gw.Run(ctx)
//
// Others call gw.Upsert(ctx, gateway.AppRoute(gateway.KindProd, slug, "/api", true,
// "10.0.0.5:8000")), gw.Delete(ctx, id), gw.DeleteApp(ctx, slug, kind) and gw.List(ctx).
package gateway
