// Package otlp receives the apps' OpenTelemetry data over OTLP/HTTP: POST /otlp/v1/traces
// and /otlp/v1/logs with protobuf (application/x-protobuf) or JSON (application/json)
// bodies, optionally gzip-compressed. The app is named by the resource attribute
// service.name, which MGX sets to the app's slug (OTEL_SERVICE_NAME). With a Key, each
// request must carry the app's token (Authorization: Bearer <Token(key, slug)>, which MGX
// hands the app as OTEL_EXPORTER_OTLP_HEADERS) and only data of that app is kept: an app
// cannot write into another app's logs and traces. Bodies over the size
// limit get 413, undecodable ones 400, other content types 415; none of them touches what
// was already stored.
package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/apps"
)

// Sink stores what was received; *applogs.Logs implements it.
type Sink interface {
	AppendLogs(ctx context.Context, entries []applogs.Entry) error
	AppendSpans(ctx context.Context, spans []applogs.Span) error
}

var _ Sink = (*applogs.Logs)(nil)

// Apps tells whether a slug names an app, so data for unknown services is dropped.
type Apps interface {
	Exists(ctx context.Context, slug string) bool
}

// Config configures the receiver.
type Config struct {
	// Sink stores logs and spans. Required.
	Sink Sink
	// Apps, optional, filters out data whose service.name is not an app's slug.
	Apps Apps
	// Key, when set, requires each request to carry an app token (Token) and keeps only
	// the data whose service.name is that token's app; others get 401.
	Key []byte
	// MaxBodyBytes bounds a request body as sent (compressed or not) and after
	// decompression; default 4 MiB.
	MaxBodyBytes int64
	// Logger; default discards.
	Logger *slog.Logger
}

// Receiver is the OTLP/HTTP handler.
type Receiver struct {
	cfg Config
	log *slog.Logger
}

// New validates cfg.
func New(cfg Config) (*Receiver, error) {
	if cfg.Sink == nil {
		return nil, errors.New("otlp: Sink is required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 4 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Receiver{cfg: cfg, log: cfg.Logger}, nil
}

// Mount registers POST /otlp/v1/traces and POST /otlp/v1/logs.
func (rc *Receiver) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /otlp/v1/traces", rc.serveTraces)
	mux.HandleFunc("POST /otlp/v1/logs", rc.serveLogs)
}

// errStatus carries the HTTP status of a request problem.
type errStatus struct {
	status int
	msg    string
}

func (e *errStatus) Error() string { return e.msg }

// readBody returns the decompressed body and whether it is JSON.
func (rc *Receiver) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var isJSON bool
	switch ct {
	case "application/x-protobuf", "application/protobuf":
	case "application/json":
		isJSON = true
	default:
		return nil, false, &errStatus{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: want application/x-protobuf or application/json", ct)}
	}
	limit := rc.cfg.MaxBodyBytes
	body := http.MaxBytesReader(w, r.Body, limit)
	raw, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, isJSON, &errStatus{http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", limit)}
		}
		return nil, isJSON, &errStatus{http.StatusBadRequest, "cannot read the body"}
	}
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, isJSON, &errStatus{http.StatusBadRequest, "invalid gzip body"}
		}
		out, err := io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return nil, isJSON, &errStatus{http.StatusBadRequest, "invalid gzip body"}
		}
		if int64(len(out)) > limit {
			return nil, isJSON, &errStatus{http.StatusRequestEntityTooLarge, fmt.Sprintf("decompressed body over %d bytes", limit)}
		}
		raw = out
	default:
		return nil, isJSON, &errStatus{http.StatusUnsupportedMediaType, fmt.Sprintf("content encoding %q: want gzip or none", enc)}
	}
	return raw, isJSON, nil
}

func unmarshal(raw []byte, isJSON bool, m proto.Message) error {
	if !isJSON {
		return proto.Unmarshal(raw, m)
	}
	fixed, err := hexIDsToBase64(raw)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(fixed, m)
}

// writeError answers in the request's encoding with a google.rpc.Status-like body.
func (rc *Receiver) writeError(w http.ResponseWriter, err error) {
	var es *errStatus
	if !errors.As(err, &es) {
		es = &errStatus{http.StatusBadRequest, err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(es.status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": es.status, "message": es.msg})
}

func writeResponse(w http.ResponseWriter, isJSON bool, m proto.Message) {
	var b []byte
	if isJSON {
		b, _ = protojson.Marshal(m)
		w.Header().Set("Content-Type", "application/json")
	} else {
		b, _ = proto.Marshal(m)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// Token is the bearer token of an app's telemetry: its slug and an HMAC of it under key.
func Token(key []byte, slug string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("mgx otlp\x00" + slug))
	return slug + "." + hex.EncodeToString(m.Sum(nil))[:40]
}

// HeadersEnv is OTEL_EXPORTER_OTLP_HEADERS for an app (values are URL-encoded, as the
// OpenTelemetry SDKs read them).
func HeadersEnv(key []byte, slug string) string {
	return "Authorization=Bearer%20" + Token(key, slug)
}

type slugKey struct{}

// authorize checks the request's token and puts its app in the context.
func (rc *Receiver) authorize(r *http.Request) (*http.Request, error) {
	if len(rc.cfg.Key) == 0 {
		return r, nil
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	i := strings.LastIndexByte(tok, '.')
	if !ok || i <= 0 || !hmac.Equal([]byte(Token(rc.cfg.Key, tok[:i])), []byte(tok)) {
		return nil, &errStatus{http.StatusUnauthorized, "missing or invalid app token: send the OTEL_EXPORTER_OTLP_HEADERS MGX gives the app"}
	}
	return r.WithContext(context.WithValue(r.Context(), slugKey{}, tok[:i])), nil
}

func (rc *Receiver) serveTraces(w http.ResponseWriter, r *http.Request) {
	r, err := rc.authorize(r)
	if err != nil {
		rc.writeError(w, err)
		return
	}
	raw, isJSON, err := rc.readBody(w, r)
	if err != nil {
		rc.writeError(w, err)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := unmarshal(raw, isJSON, &req); err != nil {
		rc.writeError(w, &errStatus{http.StatusBadRequest, "malformed OTLP traces: " + err.Error()})
		return
	}
	spans, rejected := rc.Spans(r.Context(), &req)
	if err := rc.cfg.Sink.AppendSpans(r.Context(), spans); err != nil {
		rc.log.ErrorContext(r.Context(), "store spans", "err", err)
		rc.writeError(w, &errStatus{http.StatusServiceUnavailable, "cannot store spans now"})
		return
	}
	resp := &coltrace.ExportTraceServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &coltrace.ExportTracePartialSuccess{RejectedSpans: rejected, ErrorMessage: rejectedMessage}
	}
	writeResponse(w, isJSON, resp)
}

func (rc *Receiver) serveLogs(w http.ResponseWriter, r *http.Request) {
	r, err := rc.authorize(r)
	if err != nil {
		rc.writeError(w, err)
		return
	}
	raw, isJSON, err := rc.readBody(w, r)
	if err != nil {
		rc.writeError(w, err)
		return
	}
	var req collogs.ExportLogsServiceRequest
	if err := unmarshal(raw, isJSON, &req); err != nil {
		rc.writeError(w, &errStatus{http.StatusBadRequest, "malformed OTLP logs: " + err.Error()})
		return
	}
	entries, rejected := rc.Entries(r.Context(), &req)
	if err := rc.cfg.Sink.AppendLogs(r.Context(), entries); err != nil {
		rc.log.ErrorContext(r.Context(), "store logs", "err", err)
		rc.writeError(w, &errStatus{http.StatusServiceUnavailable, "cannot store logs now"})
		return
	}
	resp := &collogs.ExportLogsServiceResponse{}
	if rejected > 0 {
		resp.PartialSuccess = &collogs.ExportLogsPartialSuccess{RejectedLogRecords: rejected, ErrorMessage: rejectedMessage}
	}
	writeResponse(w, isJSON, resp)
}

const rejectedMessage = "service.name is not a known app (or not the app of the token)"

// slugOf returns the resource's service.name when it names an app.
func (rc *Receiver) slugOf(ctx context.Context, res *resourcepb.Resource, known map[string]bool) string {
	var name string
	for _, kv := range res.GetAttributes() {
		if kv.GetKey() == "service.name" {
			name = kv.GetValue().GetStringValue()
		}
	}
	if name == "" {
		return ""
	}
	if only, ok := ctx.Value(slugKey{}).(string); ok && name != only {
		return ""
	}
	if rc.cfg.Apps != nil {
		ok, seen := known[name]
		if !seen {
			ok = rc.cfg.Apps.Exists(ctx, name)
			known[name] = ok
		}
		if !ok {
			return ""
		}
	}
	return name
}

// Spans converts a request into spans, and counts the spans of unknown services.
func (rc *Receiver) Spans(ctx context.Context, req *coltrace.ExportTraceServiceRequest) ([]applogs.Span, int64) {
	var out []applogs.Span
	var rejected int64
	known := map[string]bool{}
	for _, rs := range req.GetResourceSpans() {
		slug := rc.slugOf(ctx, rs.GetResource(), known)
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				if slug == "" {
					rejected++
					continue
				}
				out = append(out, convertSpan(slug, s))
			}
		}
	}
	return out, rejected
}

func convertSpan(slug string, s *tracepb.Span) applogs.Span {
	sp := applogs.Span{
		Slug:         slug,
		Service:      slug,
		TraceID:      hex.EncodeToString(s.GetTraceId()),
		SpanID:       hex.EncodeToString(s.GetSpanId()),
		ParentSpanID: hex.EncodeToString(s.GetParentSpanId()),
		Name:         s.GetName(),
		Kind:         strings.ToLower(strings.TrimPrefix(s.GetKind().String(), "SPAN_KIND_")),
		Start:        nanos(s.GetStartTimeUnixNano()),
		End:          nanos(s.GetEndTimeUnixNano()),
		Attrs:        attrs(s.GetAttributes()),
	}
	if sp.Kind == "unspecified" {
		sp.Kind = ""
	}
	switch s.GetStatus().GetCode() {
	case tracepb.Status_STATUS_CODE_OK:
		sp.StatusCode = "ok"
	case tracepb.Status_STATUS_CODE_ERROR:
		sp.StatusCode = "error"
	}
	sp.StatusMessage = s.GetStatus().GetMessage()
	for _, ev := range s.GetEvents() {
		sp.Events = append(sp.Events, applogs.SpanEvent{Name: ev.GetName(), Time: nanos(ev.GetTimeUnixNano()), Attrs: attrs(ev.GetAttributes())})
	}
	return sp
}

// Entries converts a request into log entries, and counts the records of unknown services.
func (rc *Receiver) Entries(ctx context.Context, req *collogs.ExportLogsServiceRequest) ([]applogs.Entry, int64) {
	var out []applogs.Entry
	var rejected int64
	known := map[string]bool{}
	for _, rl := range req.GetResourceLogs() {
		slug := rc.slugOf(ctx, rl.GetResource(), known)
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				if slug == "" {
					rejected++
					continue
				}
				out = append(out, convertLog(slug, lr))
			}
		}
	}
	return out, rejected
}

func convertLog(slug string, lr *logspb.LogRecord) applogs.Entry {
	ts := nanos(lr.GetTimeUnixNano())
	if ts.IsZero() {
		ts = nanos(lr.GetObservedTimeUnixNano())
	}
	e := applogs.Entry{
		Slug:    slug,
		Service: slug,
		Source:  applogs.SourceOTel,
		Time:    ts,
		Level:   severity(lr.GetSeverityNumber(), lr.GetSeverityText()),
		Attrs:   attrs(lr.GetAttributes()),
		TraceID: hex.EncodeToString(lr.GetTraceId()),
		SpanID:  hex.EncodeToString(lr.GetSpanId()),
	}
	switch v := value(lr.GetBody()).(type) {
	case string:
		e.Message = v
	case nil:
	default:
		b, _ := json.Marshal(v)
		e.Message = string(b)
	}
	return e
}

func severity(n logspb.SeverityNumber, text string) string {
	switch {
	case n >= 21:
		return "fatal"
	case n >= 17:
		return "error"
	case n >= 13:
		return "warn"
	case n >= 9:
		return "info"
	case n >= 5:
		return "debug"
	case n >= 1:
		return "trace"
	}
	return applogs.NormalizeLevel(text)
}

func nanos(n uint64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}

// attrs flattens OTLP attributes into a map; dots in keys become underscores, since
// MongoDB field names should not contain them.
func attrs(kvs []*commonpb.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[strings.ReplaceAll(kv.GetKey(), ".", "_")] = value(kv.GetValue())
	}
	return m
}

func value(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, value(e))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		return attrs(x.KvlistValue.GetValues())
	}
	return nil
}

// idFields are the OTLP JSON fields that hold ids as hex (OTLP/JSON differs from
// protojson, which expects base64 for bytes).
var idFields = map[string]bool{"traceId": true, "spanId": true, "parentSpanId": true, "trace_id": true, "span_id": true, "parent_span_id": true}

// hexIDsToBase64 rewrites hex id fields into base64 so protojson decodes them.
func hexIDsToBase64(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	var walk func(any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && idFields[k] {
					if s == "" {
						continue
					}
					b, err := hex.DecodeString(s)
					if err != nil {
						return fmt.Errorf("%s %q is not hex", k, s)
					}
					x[k] = base64.StdEncoding.EncodeToString(b)
					continue
				}
				if err := walk(e); err != nil {
					return err
				}
			}
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// AppStore finds apps by slug; *apps.Store implements it.
type AppStore interface {
	Get(ctx context.Context, slug string) (*apps.App, error)
}

// KnownApps answers Apps from an app store, caching answers for ttl (default 30s) so a
// busy app does not cost a database read per export.
func KnownApps(s AppStore, ttl time.Duration) Apps {
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	return &knownApps{s: s, ttl: ttl, m: map[string]knownEntry{}}
}

type knownEntry struct {
	ok bool
	at time.Time
}

type knownApps struct {
	s   AppStore
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]knownEntry
}

func (k *knownApps) Exists(ctx context.Context, slug string) bool {
	k.mu.Lock()
	e, ok := k.m[slug]
	k.mu.Unlock()
	if ok && time.Since(e.at) < k.ttl {
		return e.ok
	}
	_, err := k.s.Get(ctx, slug)
	exists := err == nil
	if err != nil && !errors.Is(err, apps.ErrNotFound) {
		return true // a database hiccup must not lose telemetry
	}
	k.mu.Lock()
	if len(k.m) > 10000 {
		clear(k.m)
	}
	k.m[slug] = knownEntry{ok: exists, at: time.Now()}
	k.mu.Unlock()
	return exists
}
