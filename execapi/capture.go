package execapi

import (
	"fmt"
	"sync"
)

// capture keeps a command's output as tools.Trim would trim it (its first quarter and its
// tail within max bytes) without holding more than about 2×max, however long the command
// talks. stdout and stderr write to one capture, interleaved as they come.
type capture struct {
	mu    sync.Mutex
	max   int
	head  []byte
	tail  []byte // the last bytes after head; trimmed to tailMax once it doubles
	total int
}

func newCapture(max int) *capture { return &capture{max: max} }

func (c *capture) headMax() int { return c.max / 4 }
func (c *capture) tailMax() int { return c.max - c.headMax() }

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += n
	if room := c.headMax() - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	if tm := c.tailMax(); len(p) >= tm {
		c.tail = append(c.tail[:0], p[len(p)-tm:]...)
	} else {
		c.tail = append(c.tail, p...)
		if len(c.tail) > 2*tm {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-tm:]...)
		}
	}
	return n, nil
}

// String is the output, trimmed like tools.Trim(output, max).
func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.total <= c.max {
		return string(c.head) + string(c.tail)
	}
	tail := c.tail[len(c.tail)-c.tailMax():]
	return string(c.head) + fmt.Sprintf("\n… (%d bytes omitted) …\n", c.total-c.max) + string(tail)
}
