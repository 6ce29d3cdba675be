package llm

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "3", 3 * time.Second},
		{"fraction", "0.5", 500 * time.Millisecond},
		{"http date", now.Add(10 * time.Second).Format(time.RFC1123), 10 * time.Second},
		{"past date", now.Add(-time.Minute).Format(time.RFC1123), 0},
		{"garbage", "soon", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseRetryAfter(tc.in, now); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRetryPolicy(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 3, Base: time.Millisecond}
	tests := []struct {
		name      string
		errs      []error
		wantErr   error
		wantCalls int
	}{
		{"success first", []error{nil}, nil, 1},
		{"connection error then ok", []error{errors.New("connection reset"), nil}, nil, 2},
		{"connection errors exhaust", []error{errors.New("reset"), errors.New("reset"), errors.New("reset")}, ErrUnavailable, 3},
		{"400 stops", []error{&StatusError{Status: 400}}, ErrRequest, 1},
		{"broken stream stops", []error{ErrStreamBroken}, ErrStreamBroken, 1},
		{"529 overloaded retried", []error{&StatusError{Status: 529}, nil}, nil, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := p.Do(t.Context(), func(context.Context) error {
				e := tc.errs[min(calls, len(tc.errs)-1)]
				calls++
				return e
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Errorf("calls = %d, want %d", calls, tc.wantCalls)
			}
		})
	}
	t.Run("cancel during backoff", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err := RetryPolicy{Base: time.Hour}.Do(ctx, func(context.Context) error { return &StatusError{Status: 503} })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
	})
}
