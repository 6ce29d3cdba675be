package llm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how often and how long a driver retries 429, 5xx and connection failures.
// The zero value means: 4 attempts, backoff 1 s doubling to at most 30 s, Retry-After honoured
// up to 60 s.
type RetryPolicy struct {
	MaxAttempts int           // default 4
	Base        time.Duration // first backoff, default 1s
	Max         time.Duration // cap for exponential backoff, default 30s
	MaxWait     time.Duration // cap for a server's Retry-After, default 60s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.Base <= 0 {
		p.Base = time.Second
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 60 * time.Second
	}
	return p
}

// ErrStreamBroken wraps a failure after part of a reply was already delivered; such a call
// is not retried, because its deltas cannot be taken back.
var ErrStreamBroken = errors.New("llm: stream broken")

// Do calls attempt until it succeeds, fails with an error that is not worth retrying, the
// attempts are used up, or ctx ends. An attempt's error is retried when it is a retryable
// *StatusError or any other error not marked ErrStreamBroken and not from ctx.
func (p RetryPolicy) Do(ctx context.Context, attempt func(ctx context.Context) error) error {
	p = p.withDefaults()
	var err error
	for i := 0; i < p.MaxAttempts; i++ {
		err = attempt(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("llm: %w", ctx.Err())
		}
		wait, ok := p.retryAfter(err, i)
		if !ok || i == p.MaxAttempts-1 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("llm: %w", ctx.Err())
		case <-t.C:
		}
	}
	var se *StatusError
	if !errors.As(err, &se) && !errors.Is(err, ErrStreamBroken) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		// Connection-level failures become ErrUnavailable so callers can tell them apart.
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

func (p RetryPolicy) retryAfter(err error, i int) (time.Duration, bool) {
	if errors.Is(err, ErrStreamBroken) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return 0, false
	}
	backoff := p.Base << i
	if backoff > p.Max || backoff <= 0 {
		backoff = p.Max
	}
	// Full jitter on the upper half keeps concurrent agents from retrying in lockstep.
	backoff = backoff/2 + rand.N(backoff/2+1)
	var se *StatusError
	if errors.As(err, &se) {
		if !se.Retryable() {
			return 0, false
		}
		if se.RetryAfter > 0 {
			return min(se.RetryAfter, p.MaxWait), true
		}
	}
	return backoff, true
}
