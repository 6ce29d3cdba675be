package deploy

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"time"
)

// maxBuildLogLines bounds a deployment's stored build log.
const maxBuildLogLines = 20000

// buildLog is a deployment's build log: an io.Writer that splits output into lines,
// stores them in batches and wakes the SSE streams that follow it.
type buildLog struct {
	dp   *Deployer
	id   string
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	partial []byte
	pending []LogLine
	seq     int64
	dropped bool
}

func (dp *Deployer) newBuildLog(id string) *buildLog {
	b := &buildLog{dp: dp, id: id, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.Flush()
			}
		}
	}()
	return b
}

// Write implements io.Writer; carriage returns (progress bars) end lines too.
func (b *buildLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexAny(b.partial, "\r\n")
		if i < 0 {
			break
		}
		line := string(b.partial[:i])
		b.partial = b.partial[i+1:]
		if strings.TrimSpace(line) == "" && i == 0 {
			continue
		}
		b.addLocked(line)
	}
	if len(b.partial) > 64<<10 { // a very long line without newline
		b.addLocked(string(b.partial))
		b.partial = b.partial[:0]
	}
	return len(p), nil
}

func (b *buildLog) addLocked(line string) {
	if b.seq >= maxBuildLogLines {
		if !b.dropped {
			b.dropped = true
			b.seq++
			b.pending = append(b.pending, LogLine{DeploymentID: b.id, Seq: b.seq, Time: time.Now().UTC(), Text: "(build log truncated)"})
		}
		return
	}
	b.seq++
	b.pending = append(b.pending, LogLine{DeploymentID: b.id, Seq: b.seq, Time: time.Now().UTC(), Text: line})
}

// Flush stores the pending lines and wakes followers.
func (b *buildLog) Flush() {
	b.mu.Lock()
	lines := b.pending
	b.pending = nil
	b.mu.Unlock()
	if len(lines) == 0 {
		return
	}
	if err := b.dp.st.appendLogs(context.Background(), lines); err != nil {
		b.dp.log.Error("store build log", "deployment", b.id, "err", err)
	}
	b.notify()
}

// notify wakes the streams following this deployment (status changes too).
func (b *buildLog) notify() { b.dp.wakeLog(b.id) }

// Close stores what is left.
func (b *buildLog) Close() {
	b.mu.Lock()
	if len(b.partial) > 0 {
		b.addLocked(string(b.partial))
		b.partial = nil
	}
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	b.Flush()
	b.notify()
}

func (dp *Deployer) logWaiter(id string) <-chan struct{} {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	c, ok := dp.logWaiters[id]
	if !ok {
		c = make(chan struct{})
		dp.logWaiters[id] = c
	}
	return c
}

func (dp *Deployer) wakeLog(id string) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	if c, ok := dp.logWaiters[id]; ok {
		close(c)
		delete(dp.logWaiters, id)
	}
}
