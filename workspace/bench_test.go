package workspace_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// File rates through the API (httptest server, loopback HTTP, os.Root, ETag hashing).
func BenchmarkFilesAPI(b *testing.B) {
	for _, size := range []int{4 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("write/%dKiB", size>>10), func(b *testing.B) {
			e := newEnv(b, 10<<20)
			body := bytes.Repeat([]byte("x"), size)
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/workspaces/w1/files/src/f%d.txt", e.srv.URL, i%100), bytes.NewReader(body))
				req.Header.Set("X-Test-User", "alice")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					b.Fatalf("PUT: %d", resp.StatusCode)
				}
			}
		})
		b.Run(fmt.Sprintf("read/%dKiB", size>>10), func(b *testing.B) {
			e := newEnv(b, 10<<20)
			req, _ := http.NewRequest("PUT", e.srv.URL+"/api/workspaces/w1/files/src/r.txt", bytes.NewReader(bytes.Repeat([]byte("y"), size)))
			req.Header.Set("X-Test-User", "alice")
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
				b.Fatalf("seed: %v", err)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				req, _ := http.NewRequest("GET", e.srv.URL+"/api/workspaces/w1/files/src/r.txt", nil)
				req.Header.Set("X-Test-User", "alice")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n != int64(size) {
					b.Fatalf("GET: %d, %d bytes", resp.StatusCode, n)
				}
			}
		})
	}
}
