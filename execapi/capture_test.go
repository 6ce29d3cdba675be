package execapi

import (
	"strings"
	"testing"

	"github.com/mgx-dev/mgx/agent/tools"
)

// capture keeps exactly what tools.Trim keeps of the whole output, whatever the writes.
func TestCaptureMatchesTrim(t *testing.T) {
	const max = 64
	tests := []struct {
		name   string
		writes []int // sizes
	}{
		{"empty", nil},
		{"short", []int{10}},
		{"exactly max", []int{max}},
		{"one over", []int{max + 1}},
		{"one big write", []int{1000}},
		{"bytewise", repeat(1, 300)},
		{"head boundary split", []int{15, 2, 47}},
		{"tail-sized writes", repeat(48, 9)},
		{"mixed", []int{3, 100, 1, 47, 48, 49, 200, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCapture(max)
			var all strings.Builder
			n := 0
			for _, size := range tc.writes {
				var b strings.Builder
				for range size {
					b.WriteByte(byte('a' + n%26))
					n++
				}
				if k, err := c.Write([]byte(b.String())); k != size || err != nil {
					t.Fatalf("Write = %d %v", k, err)
				}
				all.WriteString(b.String())
			}
			if got, want := c.String(), tools.Trim(all.String(), max); got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
			if len(c.tail) > 2*(max-max/4) {
				t.Errorf("tail grew to %d bytes", len(c.tail))
			}
		})
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}
