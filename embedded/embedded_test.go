package embedded

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestRedisPersistsAcrossRestart(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not on PATH (apt-get install redis-server); the in-process fallback is tested below")
	}
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := StartRedis(t.Context(), dir, "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "redis-server" {
		t.Fatalf("kind %q", r.Kind)
	}
	set(t, r.URL, "k", "v")
	r.Close()
	r2, err := StartRedis(t.Context(), dir, "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if got := get(t, r2.URL, "k"); got != "v" {
		t.Fatalf("after restart got %q, want v", got)
	}
}

func TestRedisInProcess(t *testing.T) {
	r, err := startMini("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	set(t, r.URL, "k", "v")
	if got := get(t, r.URL, "k"); got != "v" {
		t.Fatalf("got %q", got)
	}
}

func TestRedisPortInUse(t *testing.T) {
	r, err := startMini("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	addr := r.URL[len("redis://"):]
	if _, err := StartRedis(t.Context(), t.TempDir(), addr, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("second Redis on a busy port started")
	}
	if _, err := StartMongo(t.Context(), t.TempDir(), addr, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("MongoDB on a busy port started")
	}
}

func set(t *testing.T, url, k, v string) {
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.Set(context.Background(), k, v, 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url, k string) string {
	opt, _ := redis.ParseURL(url)
	c := redis.NewClient(opt)
	defer c.Close()
	s, err := c.Get(context.Background(), k).Result()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestForwarder(t *testing.T) {
	r, err := startMini("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := Forward("127.0.0.1:0", r.URL[len("redis://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set(t, "redis://"+f.Addr, "k", "through")
	if got := get(t, r.URL, "k"); got != "through" {
		t.Fatalf("got %q", got)
	}
}
