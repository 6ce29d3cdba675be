package scheduler

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mgx-dev/mgx/runtime"
)

// Labels on agent workloads.
const (
	LabelRole    = "mgx.role"
	LabelSession = "mgx.session"
	LabelRun     = "mgx.run"
	LabelApp     = "mgx.app"
)

// AgentName is the workload name of a session's agent.
func AgentName(sessionID string) string { return "mgx-agent-" + sessionID }

// supervise brings one active run to a final state while the session lease is held. It
// returns nil once the final state is recorded, an error when it had to stop first
// (shutdown, lost lease, MongoDB unreachable).
func (s *Scheduler) supervise(ctx context.Context, r *Run) error {
	log := s.log.With("run", r.ID, "session", r.SessionID, "number", r.Number)
	if r.State == StateQueued {
		if r.CancelRequested {
			seq, err := s.lastSeq(ctx, r.SessionID) // a FINISH after now is this run's
			if err != nil {
				return err
			}
			r.StartSeq = seq
			return s.record(ctx, r, nil, StateCancelled, "cancelled before it started", true)
		}
		return s.start(ctx, r)
	}
	// Running under a scheduler that is gone: re-attach, or find out how it ended.
	h := r.Handle
	if h == nil {
		h = s.findOrphan(ctx, r)
	}
	if h != nil {
		err := s.cfg.Driver.Recover(ctx, h)
		switch {
		case err == nil:
			st, ierr := s.cfg.Driver.Inspect(ctx, h)
			if ierr == nil && st.State != runtime.StateExited {
				log.InfoContext(ctx, "re-attached to agent", "workload", h.Name)
				if r.Handle == nil {
					_, _ = s.runs.update(ctx, r.ID, nil, bson.M{"handle": handleField(h)})
				}
				return s.watch(ctx, r, h)
			}
			if ierr != nil && !errors.Is(ierr, runtime.ErrNotFound) {
				return ierr
			}
		case !errors.Is(err, runtime.ErrNotFound):
			return fmt.Errorf("recover agent of run %s: %w", r.ID, err)
		}
	}
	// The agent is gone. Did it finish first?
	if st, reason, ok, err := s.finishAfter(ctx, r); err != nil {
		return err
	} else if ok {
		return s.record(ctx, r, h, st, reason, false)
	}
	if r.CancelRequested {
		return s.record(ctx, r, h, StateCancelled, "cancelled by the user", true)
	}
	if r.Attempts < s.cfg.MaxAttempts {
		log.WarnContext(ctx, "agent lost while no scheduler watched it; restarting", "attempts", r.Attempts)
		if h != nil {
			_ = s.cfg.Driver.Remove(ctx, h)
		}
		_ = s.cfg.Events.Emit(ctx, r.SessionID, "MESSAGE", RoleScheduler, map[string]any{
			"text": "The agent stopped while its scheduler was away; starting it again.", "run": r.Number,
		})
		return s.start(ctx, r)
	}
	return s.record(ctx, r, h, StateFailed,
		fmt.Sprintf("the agent stopped without finishing while no scheduler watched it (%d attempts)", r.Attempts), true)
}

// start launches the agent for r (a new attempt) and watches it.
func (s *Scheduler) start(ctx context.Context, r *Run) error {
	startSeq, err := s.lastSeq(ctx, r.SessionID)
	if err != nil {
		return err
	}
	t := now()
	fields := bson.M{
		"state": StateRunning, "attempts": r.Attempts + 1, "start_seq": startSeq,
		"deadline": t.Add(s.cfg.Timeout), "container": AgentName(r.SessionID),
		"heartbeat_at": t, "handle": "",
	}
	if r.StartedAt.IsZero() {
		fields["started_at"] = t
	}
	ok, err := s.runs.update(ctx, r.ID, []string{r.State}, fields)
	if err != nil {
		return err
	}
	if !ok { // cancelled (or otherwise changed) meanwhile: look again
		cur, err := s.runs.Get(ctx, r.ID)
		if err != nil {
			return err
		}
		if Final(cur.State) {
			return nil
		}
		return s.supervise(ctx, cur)
	}
	r.State, r.Attempts, r.StartSeq, r.Deadline, r.Handle = StateRunning, r.Attempts+1, startSeq, t.Add(s.cfg.Timeout), nil
	if r.StartedAt.IsZero() {
		r.StartedAt = t
	}
	spec := s.spec(r)
	if s.cfg.RunEnv != nil {
		extra, err := s.cfg.RunEnv(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.record(ctx, r, nil, StateFailed, "the agent could not be prepared: "+s.redact(err.Error()), true)
		}
		for k, v := range extra {
			spec.Env[k] = v
		}
	}
	h, err := s.cfg.Driver.Start(ctx, spec)
	if errors.Is(err, runtime.ErrConflict) {
		// A leftover workload of this session (we hold its lease, so it is stale).
		s.clearStale(ctx, r)
		h, err = s.cfg.Driver.Start(ctx, spec)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.record(ctx, r, nil, StateFailed, "the agent could not start: "+s.redact(err.Error()), true)
	}
	if _, err := s.runs.update(ctx, r.ID, nil, bson.M{"handle": handleField(h)}); err != nil {
		s.log.ErrorContext(ctx, "record agent handle", "run", r.ID, "err", err)
	}
	r.Handle = h
	s.log.InfoContext(ctx, "agent started", "run", r.ID, "session", r.SessionID, "workload", h.Name, "attempt", r.Attempts)
	return s.watch(ctx, r, h)
}

// spec is the agent workload of DESIGN.md "Agent containers".
func (s *Scheduler) spec(r *Run) runtime.Spec {
	hostDir := filepath.Join(s.cfg.WorkspacesDir, r.WorkspaceID)
	env := map[string]string{}
	for k, v := range s.cfg.Env {
		env[k] = v
	}
	wsDir := "/workspace"
	if s.cfg.Driver.Name() == "process" {
		wsDir = hostDir // a process sees the host's filesystem
	}
	for k, v := range map[string]string{
		"SESSION_ID": r.SessionID, "WORKSPACE_ID": r.WorkspaceID, "FRAMEWORK": r.Framework,
		"PROMPT": r.Prompt, "MONGODB_URL": s.cfg.MongoURL, "MONGODB_DB": s.cfg.MongoDB,
		"MGX_WORKSPACE_DIR": wsDir, "MGX_RUN_ID": r.ID, "MGX_RUN_NUMBER": strconv.Itoa(r.Number),
		"MGX_AGENT_TIMEOUT": s.agentTimeout(r).String(),
	} {
		env[k] = v
	}
	if s.cfg.RedisURL != "" {
		env["REDIS_URL"] = s.cfg.RedisURL
		env["MGX_REDIS_URL"] = s.cfg.RedisURL
	}
	if s.cfg.PreviewURLBase != "" && r.AppSlug != "" {
		env["MGX_PREVIEW_URL"] = s.cfg.PreviewURLBase + r.AppSlug + "/"
	}
	labels := map[string]string{LabelRole: "agent", LabelSession: r.SessionID, LabelRun: r.ID}
	if r.AppSlug != "" {
		labels[LabelApp] = r.AppSlug
	}
	return runtime.Spec{
		Name: AgentName(r.SessionID), Image: s.cfg.Image, Command: s.cfg.Command,
		Dir: "/workspace", Env: env,
		Mounts: append([]runtime.Mount{{Source: hostDir, Target: "/workspace"}}, s.cfg.Mounts...),
		Labels: labels, Resources: s.cfg.Resources, User: s.cfg.User,
	}
}

// agentTimeout is the agent's own time limit: a little shorter than the scheduler's, so
// the agent ends the run itself (FINISH timed_out with its own words) and the scheduler's
// stop at the deadline is only the backstop.
func (s *Scheduler) agentTimeout(r *Run) time.Duration {
	left := time.Until(r.Deadline)
	if margin := 2 * s.cfg.StopGrace; left > 2*margin {
		left -= margin
	}
	return max(left.Round(time.Second), time.Second)
}

// findOrphan finds the agent of r when the scheduler died between starting it and
// recording its handle (drivers that can list workloads only).
func (s *Scheduler) findOrphan(ctx context.Context, r *Run) *runtime.Handle {
	l, ok := s.cfg.Driver.(runtime.Lister)
	if !ok {
		return nil
	}
	hs, err := l.List(ctx, map[string]string{LabelRun: r.ID})
	if err != nil || len(hs) == 0 {
		return nil
	}
	return hs[0]
}

// clearStale removes leftover agents of r's session.
func (s *Scheduler) clearStale(ctx context.Context, r *Run) {
	if l, ok := s.cfg.Driver.(runtime.Lister); ok {
		hs, _ := l.List(ctx, map[string]string{LabelSession: r.SessionID, LabelRole: "agent"})
		for _, h := range hs {
			s.log.WarnContext(ctx, "removing a stale agent", "workload", h.Name, "run", h.Labels[LabelRun])
			_ = s.cfg.Driver.Remove(ctx, h)
		}
	}
}

type waitResult struct {
	res runtime.ExitResult
	err error
}

// watch waits for the agent to end, stopping it on cancel, timeout, or when it lingers
// after its FINISH.
func (s *Scheduler) watch(ctx context.Context, r *Run, h *runtime.Handle) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waitc := make(chan waitResult, 1)
	go func() {
		res, err := s.cfg.Driver.Wait(wctx, h)
		waitc <- waitResult{res, err}
	}()
	cancelc, unregister := s.cancelWake(r.ID)
	defer unregister()
	deadline := time.NewTimer(time.Until(r.Deadline))
	defer deadline.Stop()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	lastBeat := time.Now()
	var finishedAt time.Time
	stop := func() {
		if err := s.cfg.Driver.Stop(ctx, h, s.cfg.StopGrace); err != nil {
			s.log.WarnContext(ctx, "stop agent", "workload", h.Name, "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case w := <-waitc:
			if w.err != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				s.log.WarnContext(ctx, "wait for agent", "workload", h.Name, "err", w.err)
				w.res.ExitCode = -1
			}
			return s.exited(ctx, r, h, w.res)
		case <-deadline.C:
			stop()
			return s.record(ctx, r, h, StateTimedOut,
				fmt.Sprintf("the run took longer than %s and was stopped", s.cfg.Timeout), true)
		case <-cancelc:
			poll.Reset(time.Millisecond)
		case <-poll.C:
			poll.Reset(s.cfg.PollInterval)
			cancelled, err := s.runs.cancelRequested(ctx, r.ID)
			if err != nil {
				continue
			}
			if cancelled {
				stop()
				return s.record(ctx, r, h, StateCancelled, "cancelled by the user", true)
			}
			if time.Since(lastBeat) >= 5*s.cfg.PollInterval {
				lastBeat = time.Now()
				_, _ = s.runs.update(ctx, r.ID, nil, bson.M{"heartbeat_at": now()})
			}
			if finishedAt.IsZero() {
				if _, _, ok, _ := s.finishAfter(ctx, r); ok {
					finishedAt = time.Now()
				}
			} else if time.Since(finishedAt) > s.cfg.FinishGrace {
				s.log.WarnContext(ctx, "agent still running after FINISH; stopping it", "workload", h.Name)
				stop()
			}
		}
	}
}

// exited records the end of an agent: the status of its FINISH, or failed with the reason
// when it ended without one.
func (s *Scheduler) exited(ctx context.Context, r *Run, h *runtime.Handle, res runtime.ExitResult) error {
	st, reason, ok, err := s.finishAfter(ctx, r)
	if err != nil {
		return err
	}
	if ok {
		return s.record(ctx, r, h, st, reason, false)
	}
	if cancelled, err := s.runs.cancelRequested(ctx, r.ID); err == nil && cancelled {
		return s.record(ctx, r, h, StateCancelled, "cancelled by the user", true)
	}
	switch {
	case res.OOMKilled:
		reason = fmt.Sprintf("the agent ran out of memory (exit code %d) before finishing", res.ExitCode)
	case res.ExitCode < 0 || res.ExitCode > 128:
		reason = fmt.Sprintf("the agent was killed (exit code %d) before finishing", res.ExitCode)
	default:
		reason = fmt.Sprintf("the agent exited with code %d without finishing", res.ExitCode)
	}
	if tail := s.logTail(ctx, h); tail != "" {
		reason += "; its last output: " + tail
	}
	return s.record(ctx, r, h, StateFailed, reason, true)
}

// logTail returns the agent's last lines of output, redacted and bounded.
func (s *Scheduler) logTail(ctx context.Context, h *runtime.Handle) string {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rc, err := s.cfg.Driver.Logs(lctx, h, runtime.LogOptions{Tail: 5})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var lines []string
	sc := bufio.NewScanner(io.LimitReader(rc, 64<<10))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	out := s.redact(strings.Join(lines, " | "))
	if len(out) > 500 {
		out = "…" + out[len(out)-500:]
	}
	return out
}

// redact hides secret values of the agent environment.
func (s *Scheduler) redact(text string) string {
	for k, v := range s.cfg.Env {
		uk := strings.ToUpper(k)
		if len(v) >= 4 && (strings.Contains(uk, "KEY") || strings.Contains(uk, "SECRET") ||
			strings.Contains(uk, "TOKEN") || strings.Contains(uk, "PASSWORD")) {
			text = strings.ReplaceAll(text, v, "[redacted]")
		}
	}
	return text
}

// record ends the run: FINISH (unless the agent wrote one), the final state, then the
// workload's removal. Its writes outlive ctx so a shutdown does not cut them in half.
func (s *Scheduler) record(ctx context.Context, r *Run, h *runtime.Handle, state, reason string, emit bool) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if emit {
		if _, _, ok, err := s.finishAfter(wctx, r); err == nil && !ok {
			if err := s.cfg.Events.Emit(wctx, r.SessionID, "FINISH", RoleScheduler, map[string]any{
				"status": state, "reason": reason, "run": r.Number, "attempts": r.Attempts,
			}); err != nil {
				return fmt.Errorf("emit FINISH of run %s: %w", r.ID, err)
			}
		}
	}
	if _, err := s.runs.finish(wctx, r.ID, state, reason); err != nil {
		return err
	}
	if h != nil {
		if err := s.cfg.Driver.Remove(wctx, h); err != nil {
			s.log.WarnContext(wctx, "remove agent", "workload", h.Name, "err", err)
		}
	}
	s.log.InfoContext(wctx, "run finished", "run", r.ID, "session", r.SessionID, "state", state, "reason", reason)
	return nil
}

// eventDoc is the part of an event the scheduler reads.
type eventDoc struct {
	Seq  int64          `bson:"seq"`
	Data map[string]any `bson:"data"`
}

// finishAfter looks for the FINISH of r: the first after its start.
func (s *Scheduler) finishAfter(ctx context.Context, r *Run) (state, reason string, ok bool, err error) {
	var ev eventDoc
	err = s.events.FindOne(ctx, bson.M{"session_id": r.SessionID, "seq": bson.M{"$gt": r.StartSeq}, "type": "FINISH"},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: 1}})).Decode(&ev)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("look for FINISH of run %s: %w", r.ID, err)
	}
	state, _ = ev.Data["status"].(string)
	reason, _ = ev.Data["reason"].(string)
	switch state {
	case StateSucceeded, StateFailed, StateCancelled, StateTimedOut:
	default:
		reason = fmt.Sprintf("the agent finished with an unknown status %q: %s", state, reason)
		state = StateFailed
	}
	return state, reason, true, nil
}

func (s *Scheduler) lastSeq(ctx context.Context, sessionID string) (int64, error) {
	var ev eventDoc
	err := s.events.FindOne(ctx, bson.M{"session_id": sessionID},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.M{"seq": 1})).Decode(&ev)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last seq of session %s: %w", sessionID, err)
	}
	return ev.Seq, nil
}
