package devenv

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// Console is an app's dev console: install and server output of every service plus MGX's
// own status lines. It keeps a bounded scrollback in memory, appends to a bounded log
// file, and fans out to subscribers (the read-only terminal).
type Console struct {
	mu       sync.Mutex
	buf      []byte // scrollback, at most max bytes
	max      int
	file     *os.File
	fileSize int64
	fileMax  int64
	path     string
	subs     map[chan []byte]struct{}
}

func newConsole(path string, scrollback int, fileMax int64) *Console {
	c := &Console{max: scrollback, fileMax: fileMax, path: path, subs: map[chan []byte]struct{}{}}
	if path != "" {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			c.file = f
			if fi, err := f.Stat(); err == nil {
				c.fileSize = fi.Size()
			}
			// Scrollback survives an MGX restart: start from the file's tail.
			if b, err := tail(path, scrollback); err == nil {
				c.buf = b
			}
		}
	}
	return c
}

func tail(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := fi.Size() - int64(n)
	if off < 0 {
		off = 0
	}
	b := make([]byte, fi.Size()-off)
	_, err = f.ReadAt(b, off)
	if err != nil && err != io.EOF {
		return nil, err
	}
	if i := bytes.IndexByte(b, '\n'); off > 0 && i >= 0 {
		b = b[i+1:] // start on a line boundary
	}
	return b, nil
}

// Write appends p to the console.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	if over := len(c.buf) - c.max; over > 0 {
		c.buf = append(c.buf[:0:0], c.buf[over:]...)
	}
	if c.file != nil {
		if c.fileSize+int64(len(p)) > c.fileMax {
			c.rotate()
		}
		if n, err := c.file.Write(p); err == nil {
			c.fileSize += int64(n)
		}
	}
	for ch := range c.subs {
		chunk := append([]byte(nil), p...)
		select {
		case ch <- chunk:
		default: // a slow reader loses output rather than stalling the dev server
		}
	}
	return len(p), nil
}

func (c *Console) rotate() {
	c.file.Close()
	_ = os.Rename(c.path, c.path+".1")
	f, err := os.OpenFile(c.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		c.file = nil
		return
	}
	c.file, c.fileSize = f, 0
}

// Subscribe returns the scrollback and a channel of what is written from now on; cancel
// ends the subscription and closes the channel.
func (c *Console) Subscribe() (scrollback []byte, ch <-chan []byte, cancel func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc := make(chan []byte, 256)
	c.subs[sc] = struct{}{}
	var once sync.Once
	return append([]byte(nil), c.buf...), sc, func() {
		once.Do(func() {
			c.mu.Lock()
			if _, ok := c.subs[sc]; ok {
				delete(c.subs, sc)
				close(sc)
			}
			c.mu.Unlock()
		})
	}
}

// Scrollback returns a copy of the retained output.
func (c *Console) Scrollback() []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.buf...)
}

// close ends the console: subscribers' channels close, the file is closed.
func (c *Console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		delete(c.subs, ch)
		close(ch)
	}
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
}

// prefixWriter writes to w with prefix at the start of every line.
type prefixWriter struct {
	w       io.Writer
	prefix  []byte
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	var out []byte
	for len(b) > 0 {
		if !p.midLine {
			out = append(out, p.prefix...)
			p.midLine = true
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:i+1]...)
		b = b[i+1:]
		p.midLine = false
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}
