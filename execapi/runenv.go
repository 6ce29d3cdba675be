package execapi

import (
	"context"
	"time"

	"github.com/mgx-dev/mgx/scheduler"
)

// TokenMargin is how long a run token outlives its run's deadline, so that a command in
// flight when the deadline strikes still gets its answer. Tokens of a run that is over are
// refused earlier anyway: the endpoint checks the run's state.
const TokenMargin = 5 * time.Minute

// RunEnv returns the scheduler's Config.RunEnv hook: every agent start gets
// MGX_EXEC_URL=url (the endpoint as the agent reaches it, e.g.
// http://host.docker.internal:8080/api/internal/exec) and MGX_EXEC_TOKEN, a fresh token for
// that attempt of the run, valid until the run's deadline plus TokenMargin; the previous
// attempt's token is revoked. A run without an app gets neither (its agent then runs
// commands in its own workspace). Issuing needs only MongoDB, so a lone `mgx scheduler`
// issues tokens that the control instances accept.
func RunEnv(tokens *Tokens, url string) func(context.Context, *scheduler.Run) (map[string]string, error) {
	return func(ctx context.Context, r *scheduler.Run) (map[string]string, error) {
		if r.AppSlug == "" {
			return nil, nil
		}
		deadline := r.Deadline
		if deadline.IsZero() {
			deadline = time.Now().Add(30 * time.Minute)
		}
		tok, err := tokens.Issue(ctx, Grant{
			RunID: r.ID, SessionID: r.SessionID, Slug: r.AppSlug, Attempt: r.Attempts,
			ExpiresAt: deadline.Add(TokenMargin),
		})
		if err != nil {
			return nil, err
		}
		return map[string]string{"MGX_EXEC_URL": url, "MGX_EXEC_TOKEN": tok}, nil
	}
}
