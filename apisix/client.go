// Package apisix is MGX's APISIX driver: a small Admin API v3 client and a gateway.Driver
// that writes MGX routes as APISIX routes and upstreams, with the mgx-app-router plugin
// configured through ext-plugin-pre-req on app routes. APISIX's own config.yaml for the
// production compose file is deploy/compose/apisix/config.yaml.
package apisix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrNotFound is returned for objects APISIX does not have.
var ErrNotFound = errors.New("apisix: not found")

// APIError is an error answer of the Admin API; its message is APISIX's error_msg.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("apisix admin %s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) true for 404s.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Client talks to the Admin API v3 ("/apisix/admin/...") with the X-API-KEY header.
type Client struct {
	base *url.URL
	key  string
	http *http.Client
}

// NewClient checks the admin URL ("http://apisix:9180").
func NewClient(adminURL, key string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(adminURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("apisix: admin URL %q is not an http(s) URL", adminURL)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, key: key, http: hc}, nil
}

// Object is one stored object as the v3 API returns it.
type Object struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

type listAnswer struct {
	Total int      `json:"total"`
	List  []Object `json:"list"`
}

// Put creates or replaces kind/id ("routes", "upstreams") with v.
func (c *Client) Put(ctx context.Context, kind, id string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("apisix: encode %s/%s: %w", kind, id, err)
	}
	return c.do(ctx, http.MethodPut, kind+"/"+url.PathEscape(id), body, nil)
}

// Get reads kind/id into v.
func (c *Client) Get(ctx context.Context, kind, id string, v any) error {
	var obj Object
	if err := c.do(ctx, http.MethodGet, kind+"/"+url.PathEscape(id), nil, &obj); err != nil {
		return err
	}
	return json.Unmarshal(obj.Value, v)
}

// Delete removes kind/id; a missing object is not an error.
func (c *Client) Delete(ctx context.Context, kind, id string) error {
	err := c.do(ctx, http.MethodDelete, kind+"/"+url.PathEscape(id), nil, nil)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// List returns every object of a kind.
func (c *Client) List(ctx context.Context, kind string) ([]Object, error) {
	var out []Object
	for page := 1; ; page++ {
		var ans listAnswer
		if err := c.do(ctx, http.MethodGet, fmt.Sprintf("%s?page=%d&page_size=500", kind, page), nil, &ans); err != nil {
			return nil, err
		}
		out = append(out, ans.List...)
		if len(ans.List) < 500 || len(out) >= ans.Total {
			return out, nil
		}
	}
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, into any) error {
	u := c.base.String() + "/apisix/admin/" + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("apisix admin %s %s: %w", method, path, err)
	}
	req.Header.Set("X-API-KEY", c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("apisix admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("apisix admin %s %s: read: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			ErrorMsg string `json:"error_msg"`
			Message  string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		msg := e.ErrorMsg
		if msg == "" {
			msg = e.Message
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Message: msg}
	}
	if into != nil {
		if err := json.Unmarshal(data, into); err != nil {
			return fmt.Errorf("apisix admin %s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}
