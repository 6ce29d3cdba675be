package otlp_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/mgx-dev/mgx/applogs"
	"github.com/mgx-dev/mgx/otlp"
	"github.com/mgx-dev/mgx/store/storetest"
)

type knownApps map[string]bool

func (k knownApps) Exists(_ context.Context, slug string) bool { return k[slug] }

func newServer(t *testing.T, max int64) (*httptest.Server, *applogs.Logs) {
	t.Helper()
	logs, err := applogs.New(t.Context(), applogs.Config{Store: storetest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := otlp.New(otlp.Config{Sink: logs, Apps: knownApps{"shop": true}, MaxBodyBytes: max})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rc.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, logs
}

func resource(name string) *resourcepb.Resource {
	return &resourcepb.Resource{Attributes: []*commonpb.KeyValue{{Key: "service.name", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: name}}}}}
}

func traceRequest(service string) *coltrace.ExportTraceServiceRequest {
	start := uint64(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).UnixNano())
	return &coltrace.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: resource(service),
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
			{TraceId: bytes.Repeat([]byte{0xab}, 16), SpanId: bytes.Repeat([]byte{1}, 8), Name: "GET /api/items", Kind: tracepb.Span_SPAN_KIND_SERVER,
				StartTimeUnixNano: start, EndTimeUnixNano: start + 25e6,
				Attributes: []*commonpb.KeyValue{{Key: "http.status_code", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 500}}}},
				Status:     &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"}},
			{TraceId: bytes.Repeat([]byte{0xab}, 16), SpanId: bytes.Repeat([]byte{2}, 8), ParentSpanId: bytes.Repeat([]byte{1}, 8), Name: "mongodb.find",
				StartTimeUnixNano: start + 1e6, EndTimeUnixNano: start + 5e6},
		}}},
	}}}
}

func logsRequest(service string) *collogs.ExportLogsServiceRequest {
	return &collogs.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: resource(service),
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
			{TimeUnixNano: uint64(time.Now().UnixNano()), SeverityNumber: logspb.SeverityNumber_SEVERITY_NUMBER_WARN, Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "disk almost full"}}},
			{SeverityText: "ERROR", Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "item not saved"}}, TraceId: bytes.Repeat([]byte{0xab}, 16)},
		}}},
	}}}
}

func post(t *testing.T, url, ctype, encoding string, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// traceJSON is what the OpenTelemetry JS exporter sends with the JSON protocol: ids in hex,
// enum numbers, times as strings.
const traceJSON = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
 "scopeSpans":[{"scope":{"name":"x"},"spans":[{"traceId":"abababababababababababababababab","spanId":"0101010101010101",
 "name":"GET /api/items","kind":2,"startTimeUnixNano":"1795000000000000000","endTimeUnixNano":"1795000000025000000",
 "status":{"code":2,"message":"boom"}},{"traceId":"abababababababababababababababab","spanId":"0202020202020202","parentSpanId":"0101010101010101",
 "name":"mongodb.find","startTimeUnixNano":"1795000000001000000","endTimeUnixNano":"1795000000005000000"}]}]}]}`

const logsJSON = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
 "scopeLogs":[{"logRecords":[{"timeUnixNano":"1795000000000000000","severityNumber":13,"body":{"stringValue":"disk almost full"}},
 {"severityText":"ERROR","body":{"stringValue":"item not saved"},"traceId":"abababababababababababababababab","attributes":[{"key":"item.id","value":{"intValue":"7"}}]}]}]}]}`

func TestReceive(t *testing.T) {
	tracePB, _ := proto.Marshal(traceRequest("shop"))
	logsPB, _ := proto.Marshal(logsRequest("shop"))
	cases := []struct {
		name, path, ctype, enc string
		body                   []byte
	}{
		{"traces protobuf", "/otlp/v1/traces", "application/x-protobuf", "", tracePB},
		{"traces protobuf gzip", "/otlp/v1/traces", "application/x-protobuf", "gzip", gz(tracePB)},
		{"traces JSON", "/otlp/v1/traces", "application/json", "", []byte(traceJSON)},
		{"logs protobuf", "/otlp/v1/logs", "application/x-protobuf", "", logsPB},
		{"logs JSON gzip", "/otlp/v1/logs", "application/json", "gzip", gz([]byte(logsJSON))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, logs := newServer(t, 0)
			resp := post(t, srv.URL+tc.path, tc.ctype, tc.enc, tc.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if strings.HasSuffix(tc.path, "traces") {
				traces, err := logs.Traces(t.Context(), "shop", applogs.TraceQuery{})
				if err != nil {
					t.Fatal(err)
				}
				if len(traces) != 1 || len(traces[0].Spans) != 2 {
					t.Fatalf("traces = %+v", traces)
				}
				tr := traces[0]
				if tr.TraceID != strings.Repeat("ab", 16) || tr.Name != "GET /api/items" || !tr.Error || tr.DurationMS != 25 {
					t.Errorf("trace = %+v", tr)
				}
				if tr.Spans[1].ParentSpanID != "0101010101010101" {
					t.Errorf("child span = %+v", tr.Spans[1])
				}
				return
			}
			entries, err := logs.Query(t.Context(), "shop", applogs.Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 || entries[0].Level != "warn" || entries[0].Message != "disk almost full" ||
				entries[1].Level != "error" || entries[1].TraceID != strings.Repeat("ab", 16) || entries[1].Source != "otel" {
				t.Fatalf("entries = %+v", entries)
			}
			errs, _ := logs.Query(t.Context(), "shop", applogs.Query{Level: "error"})
			if len(errs) != 1 {
				t.Errorf("level=error gave %d entries", len(errs))
			}
		})
	}
}

func TestRejects(t *testing.T) {
	tracePB, _ := proto.Marshal(traceRequest("shop"))
	big := bytes.Repeat([]byte("x"), 2048)
	bomb := gz(bytes.Repeat([]byte{0}, 1<<20)) // small on the wire, 1 MiB inflated
	cases := []struct {
		name, ctype, enc string
		body             []byte
		want             int
	}{
		{"oversized", "application/x-protobuf", "", append(tracePB, big...), 413},
		{"gzip bomb", "application/x-protobuf", "gzip", bomb, 413},
		{"malformed protobuf", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff, 0x01}, 400},
		{"malformed JSON", "application/json", "", []byte(`{"resourceSpans":[`), 400},
		{"JSON with a bad id", "application/json", "", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), 400},
		{"bad gzip", "application/x-protobuf", "gzip", []byte("not gzip"), 400},
		{"wrong type", "text/plain", "", tracePB, 415},
		{"unknown encoding", "application/x-protobuf", "br", tracePB, 415},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, logs := newServer(t, 1024)
			if resp := post(t, srv.URL+"/otlp/v1/traces", tc.ctype, tc.enc, tc.body); resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			// Nothing else is affected: a good request right after is stored.
			if resp := post(t, srv.URL+"/otlp/v1/traces", "application/x-protobuf", "", tracePB); resp.StatusCode != 200 {
				t.Fatalf("good request after: %d", resp.StatusCode)
			}
			traces, _ := logs.Traces(t.Context(), "shop", applogs.TraceQuery{})
			if len(traces) != 1 || len(traces[0].Spans) != 2 {
				t.Fatalf("after the bad request the store has %+v", traces)
			}
		})
	}
}

func TestUnknownServiceIsDropped(t *testing.T) {
	srv, logs := newServer(t, 0)
	b, _ := proto.Marshal(logsRequest("not-an-app"))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/otlp/v1/logs", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out collogs.ExportLogsServiceResponse
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if err := proto.Unmarshal(buf.Bytes(), &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if out.GetPartialSuccess().GetRejectedLogRecords() != 2 {
		t.Errorf("partial success = %v", out.GetPartialSuccess())
	}
	if e, _ := logs.Query(t.Context(), "not-an-app", applogs.Query{}); len(e) != 0 {
		t.Errorf("stored %d entries of an unknown service", len(e))
	}
}

// With a key, only the app's own token writes, and only into its own logs: a hostile app
// (or anyone) cannot forge another app's telemetry.
func TestAppTokens(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	logs, err := applogs.New(t.Context(), applogs.Config{Store: storetest.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := otlp.New(otlp.Config{Sink: logs, Apps: knownApps{"shop": true, "blog": true}, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	rc.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b, _ := proto.Marshal(logsRequest("shop"))
	send := func(auth string) (int, int64) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/otlp/v1/logs", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/x-protobuf")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		var out collogs.ExportLogsServiceResponse
		_ = proto.Unmarshal(buf.Bytes(), &out)
		return resp.StatusCode, out.GetPartialSuccess().GetRejectedLogRecords()
	}
	shop := otlp.Token(key, "shop")
	for _, tc := range []struct {
		name, auth     string
		status         int
		rejected, kept int64
	}{
		{"no token", "", 401, 0, 0},
		{"garbage", "Bearer nope", 401, 0, 0},
		{"forged signature", "Bearer shop." + strings.Repeat("0", 40), 401, 0, 0},
		{"other key", "Bearer " + otlp.Token(bytes.Repeat([]byte{1}, 32), "shop"), 401, 0, 0},
		{"basic auth", "Basic " + shop, 401, 0, 0},
		{"another app's token", "Bearer " + otlp.Token(key, "blog"), 200, 2, 0},
		{"own token", "Bearer " + shop, 200, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := logs.Query(t.Context(), "shop", applogs.Query{})
			status, rejected := send(tc.auth)
			after, _ := logs.Query(t.Context(), "shop", applogs.Query{})
			if status != tc.status || rejected != tc.rejected || int64(len(after)-len(before)) != tc.kept {
				t.Fatalf("status %d rejected %d kept %d; want %d %d %d", status, rejected, len(after)-len(before), tc.status, tc.rejected, tc.kept)
			}
		})
	}
	if got := otlp.HeadersEnv(key, "shop"); got != "Authorization=Bearer%20"+shop {
		t.Fatalf("HeadersEnv = %q", got)
	}
}
