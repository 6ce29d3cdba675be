package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mgx-dev/mgx/events"
	"github.com/mgx-dev/mgx/store"
)

// RunFromEnv is all `mgx agent` needs: it reads the container's environment
// (ConfigFromEnv), opens MONGODB_URL / MONGODB_DB with the core's store, writes events
// through events.Store (waking SSE readers through MGX_REDIS_URL when set), and runs the
// team. It returns nil when the run succeeded; an error wrapping ErrRunFailed when it
// ended failed, cancelled or timed out (FINISH is recorded either way); other errors when
// the configuration is invalid or MongoDB cannot be reached (no FINISH could be written).
func RunFromEnv(ctx context.Context, log *slog.Logger) error {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return fmt.Errorf("agent config: %w", err)
	}
	if cfg.MongoURL == "" {
		return errors.New("agent config: MONGODB_URL is required")
	}
	st, err := store.Open(ctx, store.Config{URI: cfg.MongoURL, Database: cfg.MongoDB})
	if err != nil {
		return fmt.Errorf("agent: open MongoDB: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = st.Close(cctx)
	}()
	var rdb redis.UniversalClient
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("agent config: MGX_REDIS_URL: %w", err)
		}
		c := redis.NewClient(opt)
		defer c.Close()
		rdb = c
	}
	cfg.Events = events.NewStore(st.DB(), rdb)
	cfg.Logger = log
	return Run(ctx, cfg)
}
