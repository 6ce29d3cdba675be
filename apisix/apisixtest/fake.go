// Package apisixtest is a fake APISIX Admin API v3 for tests. It stores routes and
// upstreams in memory and validates what it receives the way APISIX's schemas do for the
// fields MGX writes (ids, URIs, upstream references, nodes, timeouts, labels, the
// ext-plugin-pre-req conf), so a driver that sends something APISIX would refuse fails here.
package apisixtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Server is the fake. Its URL is the admin URL to give the driver.
type Server struct {
	*httptest.Server
	Key string

	mu        sync.Mutex
	objects   map[string]map[string]json.RawMessage // kind → id → value
	writes    int
	failWrite func(r *http.Request) (int, string)
}

// New starts a fake with the given admin key; it closes with the test.
func New(t testing.TB, key string) *Server {
	s := &Server{Key: key, objects: map[string]map[string]json.RawMessage{"routes": {}, "upstreams": {}}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Writes counts accepted PUTs and DELETEs, to check that reconciling is idempotent.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// FailWrites makes writes answer an error while f returns a non-zero status; nil stops.
func (s *Server) FailWrites(f func(r *http.Request) (status int, msg string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWrite = f
}

// Object returns a stored object's value, or nil.
func (s *Server) Object(kind, id string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.objects[kind][id]
}

// SetObject stores a value without validation, to simulate edits behind MGX's back.
func (s *Server) SetObject(kind, id string, v json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		delete(s.objects[kind], id)
		return
	}
	s.objects[kind][id] = v
}

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error_msg": fmt.Sprintf(format, args...)})
}

var idRE = regexp.MustCompile(`^[a-zA-Z0-9-_.]{1,64}$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-API-KEY") != s.Key {
		fail(w, http.StatusUnauthorized, "failed to check token")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/apisix/admin/")
	if !ok {
		fail(w, http.StatusNotFound, "404 Route Not Found")
		return
	}
	kind, id, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	store, ok := s.objects[kind]
	if !ok {
		fail(w, http.StatusNotFound, "404 Route Not Found")
		return
	}
	key := "/apisix/" + kind + "/" + id
	if (r.Method == http.MethodPut || r.Method == http.MethodDelete) && s.failWrite != nil {
		if status, msg := s.failWrite(r); status != 0 {
			fail(w, status, "%s", msg)
			return
		}
	}
	switch {
	case r.Method == http.MethodGet && id == "":
		ids := make([]string, 0, len(store))
		for k := range store {
			ids = append(ids, k)
		}
		slices.Sort(ids)
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		size, _ := strconv.Atoi(r.URL.Query().Get("page_size"))
		if page < 1 {
			page = 1
		}
		if size < 10 || size > 500 {
			size = len(ids) + 1
		}
		list := []map[string]any{}
		for i := (page - 1) * size; i < len(ids) && i < page*size; i++ {
			list = append(list, map[string]any{"key": "/apisix/" + kind + "/" + ids[i], "value": store[ids[i]], "createdIndex": 1, "modifiedIndex": 1})
		}
		writeJSON(w, http.StatusOK, map[string]any{"total": len(ids), "list": list})
	case r.Method == http.MethodGet:
		v, ok := store[id]
		if !ok {
			fail(w, http.StatusNotFound, "Key not found")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"key": key, "value": v})
	case r.Method == http.MethodPut:
		if !idRE.MatchString(id) {
			fail(w, http.StatusBadRequest, "invalid configuration: property \"id\" validation failed")
			return
		}
		var obj map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			fail(w, http.StatusBadRequest, "invalid request body: %v", err)
			return
		}
		var err error
		if name, ok := obj["name"]; ok {
			if n, ok := name.(string); !ok || n == "" || len(n) > 100 {
				fail(w, http.StatusBadRequest, "invalid configuration: property \"name\" validation failed")
				return
			}
		}
		if kind == "routes" {
			err = s.checkRoute(obj)
		} else {
			err = checkUpstream(obj)
		}
		if err != nil {
			fail(w, http.StatusBadRequest, "invalid configuration: %v", err)
			return
		}
		obj["id"] = id
		v, _ := json.Marshal(obj)
		status := http.StatusCreated
		if _, ok := store[id]; ok {
			status = http.StatusOK
		}
		store[id] = v
		s.writes++
		writeJSON(w, status, map[string]any{"key": key, "value": json.RawMessage(v)})
	case r.Method == http.MethodDelete:
		if _, ok := store[id]; !ok {
			fail(w, http.StatusNotFound, "Key not found")
			return
		}
		if kind == "upstreams" {
			for rid, rv := range s.objects["routes"] {
				var ro struct {
					UpstreamID string `json:"upstream_id"`
				}
				_ = json.Unmarshal(rv, &ro)
				if ro.UpstreamID == id {
					fail(w, http.StatusBadRequest, "can not delete this upstream, route [%s] is still using it now", rid)
					return
				}
			}
		}
		delete(store, id)
		s.writes++
		writeJSON(w, http.StatusOK, map[string]any{"deleted": "1", "key": key})
	default:
		fail(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func allowed(obj map[string]any, fields ...string) error {
	for k := range obj {
		if !slices.Contains(fields, k) {
			return fmt.Errorf("additional properties forbidden, found %s", k)
		}
	}
	return nil
}

var labelRE = regexp.MustCompile(`^\S+$`)

func checkLabels(v any) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("property \"labels\" validation failed: wrong type")
	}
	for k, lv := range m {
		s, ok := lv.(string)
		if !ok || !labelRE.MatchString(s) || len(s) > 256 || !labelRE.MatchString(k) {
			return fmt.Errorf("property \"labels\" validation failed: bad label %q", k)
		}
	}
	return nil
}

func (s *Server) checkRoute(o map[string]any) error {
	if err := allowed(o, "id", "name", "desc", "uri", "uris", "priority", "upstream_id", "upstream", "enable_websocket", "labels", "plugins", "status", "methods", "host", "hosts", "timeout"); err != nil {
		return err
	}
	uris, _ := o["uris"].([]any)
	if _, hasURI := o["uri"]; hasURI == (len(uris) > 0) {
		return fmt.Errorf("value should match only one schema: uri or uris")
	}
	for _, u := range uris {
		us, ok := u.(string)
		if !ok || !strings.HasPrefix(us, "/") || len(us) > 4096 {
			return fmt.Errorf("property \"uris\" validation failed")
		}
		if i := strings.IndexByte(us, '*'); i >= 0 && i != len(us)-1 {
			return fmt.Errorf("property \"uris\": * only at the end")
		}
	}
	if p, ok := o["priority"]; ok {
		if _, err := p.(json.Number).Int64(); err != nil {
			return fmt.Errorf("property \"priority\" validation failed: wrong type")
		}
	}
	if ws, ok := o["enable_websocket"]; ok {
		if _, ok := ws.(bool); !ok {
			return fmt.Errorf("property \"enable_websocket\" validation failed: wrong type")
		}
	}
	if st, ok := o["status"]; ok && st.(json.Number).String() != "0" && st.(json.Number).String() != "1" {
		return fmt.Errorf("property \"status\" validation failed")
	}
	if err := checkLabels(o["labels"]); err != nil {
		return err
	}
	uid, hasUID := o["upstream_id"].(string)
	if !hasUID && o["upstream"] == nil {
		return fmt.Errorf("missing upstream configuration in Route or Service")
	}
	if hasUID {
		if _, ok := s.objects["upstreams"][uid]; !ok {
			return fmt.Errorf("failed to fetch upstream info by upstream id [%s], response code: 404", uid)
		}
	}
	if pl, ok := o["plugins"]; ok {
		plugins, ok := pl.(map[string]any)
		if !ok {
			return fmt.Errorf("property \"plugins\" validation failed")
		}
		for name, conf := range plugins {
			if name != "ext-plugin-pre-req" && name != "ext-plugin-post-req" {
				return fmt.Errorf("unknown plugin [%s]", name)
			}
			if err := checkExtPlugin(conf); err != nil {
				return fmt.Errorf("failed to check the configuration of plugin %s err: %v", name, err)
			}
		}
	}
	return nil
}

func checkExtPlugin(conf any) error {
	m, ok := conf.(map[string]any)
	if !ok {
		return fmt.Errorf("wrong type")
	}
	if err := allowed(m, "conf", "allow_degradation", "_meta"); err != nil {
		return err
	}
	entries, ok := m["conf"].([]any)
	if !ok || len(entries) == 0 {
		return fmt.Errorf("property \"conf\" validation failed")
	}
	for _, e := range entries {
		em, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("conf entry: wrong type")
		}
		if err := allowed(em, "name", "value"); err != nil {
			return err
		}
		name, ok := em["name"].(string)
		if !ok || name == "" || len(name) > 128 {
			return fmt.Errorf("conf entry: property \"name\" validation failed")
		}
		if _, ok := em["value"].(string); !ok {
			return fmt.Errorf("conf entry: property \"value\" validation failed: wrong type: expected string")
		}
	}
	return nil
}

var hostRE = regexp.MustCompile(`^(\[?[0-9a-fA-F:.]+\]?|[a-zA-Z0-9_.-]+)$`)

func checkUpstream(o map[string]any) error {
	if err := allowed(o, "id", "name", "desc", "type", "scheme", "pass_host", "upstream_host", "nodes", "timeout", "labels", "retries", "keepalive_pool", "hash_on", "key", "checks"); err != nil {
		return err
	}
	switch o["type"] {
	case "roundrobin", "chash", "ewma", "least_conn", nil:
	default:
		return fmt.Errorf("property \"type\" validation failed")
	}
	switch o["scheme"] {
	case "http", "https", "grpc", "grpcs", nil:
	default:
		return fmt.Errorf("property \"scheme\" validation failed")
	}
	switch o["pass_host"] {
	case "pass", "node", nil:
	default:
		return fmt.Errorf("property \"pass_host\" validation failed")
	}
	nodes, ok := o["nodes"].([]any)
	if !ok {
		return fmt.Errorf("property \"nodes\" validation failed: expected array")
	}
	for _, n := range nodes {
		nm, ok := n.(map[string]any)
		if !ok {
			return fmt.Errorf("node: wrong type")
		}
		host, _ := nm["host"].(string)
		port, _ := nm["port"].(json.Number)
		weight, _ := nm["weight"].(json.Number)
		p, perr := port.Int64()
		wt, werr := weight.Int64()
		if !hostRE.MatchString(host) || perr != nil || p < 1 || p > 65535 || werr != nil || wt < 0 {
			return fmt.Errorf("property \"nodes\" validation failed: bad node %v", nm)
		}
	}
	if t, ok := o["timeout"]; ok {
		tm, ok := t.(map[string]any)
		if !ok {
			return fmt.Errorf("property \"timeout\" validation failed")
		}
		for _, k := range []string{"connect", "send", "read"} {
			v, ok := tm[k].(json.Number)
			f, err := v.Float64()
			if !ok || err != nil || f <= 0 {
				return fmt.Errorf("property \"timeout\" validation failed: %s must be > 0", k)
			}
		}
	}
	return checkLabels(o["labels"])
}
