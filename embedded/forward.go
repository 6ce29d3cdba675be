package embedded

import (
	"context"
	"io"
	"net"
	"sync"
)

// Forwarder relays TCP connections from one address to another. MGX keeps its embedded
// services on loopback and forwards the Docker bridge's address to them, so containers
// reach them while the services themselves only ever see local peers.
type Forwarder struct {
	Addr string // where it listens, host:port
	ln   net.Listener
	wg   sync.WaitGroup
}

// Forward listens on listen and relays every connection to target.
func Forward(listen, target string) (*Forwarder, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{Addr: ln.Addr().String(), ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go relay(c, target)
		}
	}()
	return f, nil
}

func relay(c net.Conn, target string) {
	defer c.Close()
	var d net.Dialer
	t, err := d.DialContext(context.Background(), "tcp", target)
	if err != nil {
		return
	}
	defer t.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(t, c); closeWrite(t); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, t); closeWrite(c); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// Close stops accepting; open relays end with their peers.
func (f *Forwarder) Close() {
	_ = f.ln.Close()
	f.wg.Wait()
}
