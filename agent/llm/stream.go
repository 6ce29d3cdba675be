package llm

import (
	"bufio"
	"io"
	"sort"
	"strings"
)

// Assembler builds a Response from streamed pieces and forwards each piece to a DeltaFunc.
// Drivers share it so that every provider assembles replies the same way.
type Assembler struct {
	OnDelta DeltaFunc
	text    strings.Builder
	calls   map[int]*ToolCall
	started bool
}

// Started reports whether any piece was delivered (after which a call is not retried).
func (a *Assembler) Started() bool { return a.started }

// Text adds reply text.
func (a *Assembler) Text(s string) {
	if s == "" {
		return
	}
	a.started = true
	a.text.WriteString(s)
	if a.OnDelta != nil {
		a.OnDelta(Delta{Text: s})
	}
}

// ToolStart opens (or names) the tool call at index.
func (a *Assembler) ToolStart(index int, id, name string) {
	a.started = true
	if a.calls == nil {
		a.calls = map[int]*ToolCall{}
	}
	c := a.calls[index]
	if c == nil {
		c = &ToolCall{}
		a.calls[index] = c
	}
	if id != "" {
		c.ID = id
	}
	if name != "" {
		c.Name += name
	}
	if a.OnDelta != nil {
		a.OnDelta(Delta{ToolPiece: true, Index: index, ToolID: id, ToolName: name})
	}
}

// ToolArgs appends a fragment of the JSON arguments of the call at index.
func (a *Assembler) ToolArgs(index int, frag string) {
	if frag == "" {
		return
	}
	if a.calls == nil || a.calls[index] == nil {
		a.ToolStart(index, "", "")
	}
	a.calls[index].Arguments += frag
	if a.OnDelta != nil {
		a.OnDelta(Delta{ToolPiece: true, Index: index, ToolArgs: frag})
	}
}

// Message returns the assembled assistant message; tool calls in index order, empty
// arguments as "{}".
func (a *Assembler) Message() Message {
	m := Message{Role: RoleAssistant, Content: a.text.String()}
	idx := make([]int, 0, len(a.calls))
	for i := range a.calls {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	for _, i := range idx {
		c := *a.calls[i]
		if strings.TrimSpace(c.Arguments) == "" {
			c.Arguments = "{}"
		}
		m.ToolCalls = append(m.ToolCalls, c)
	}
	return m
}

// SSEEvent is one server-sent event.
type SSEEvent struct {
	Event string
	Data  string
}

// ReadSSE calls fn for each event of a text/event-stream body until EOF or fn returns an
// error. Lines may be up to 8 MiB (a tool call's arguments can be a whole file).
func ReadSSE(r io.Reader, fn func(SSEEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 8<<20)
	var ev SSEEvent
	var data []string
	flush := func() error {
		if len(data) == 0 && ev.Event == "" {
			return nil
		}
		ev.Data = strings.Join(data, "\n")
		err := fn(ev)
		ev, data = SSEEvent{}, nil
		return err
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if err := flush(); err != nil {
				return err
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			ev.Event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(line[len("data:"):], " "))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return flush()
}
