package container

import (
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// forward relays TCP connections made to host (the test network's bridge
// address, which containers reach) to target (the Bot API stand-in, which
// listens on 127.0.0.1 only) and returns the URL to give the containers. The
// listener is bound before the bridge has its address (IP_FREEBIND), so it is
// ready whenever the first container starts.
func forward(t *testing.T, host string, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_FREEBIND, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(t.Context(), "tcp4", net.JoinHostPort(host, "0"))
	require.NoError(t, err)

	var (
		mu     sync.Mutex
		conns  = map[net.Conn]bool{}
		closed bool
		wg     sync.WaitGroup
	)
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			c.Close()
			return false
		}
		conns[c] = true
		return true
	}
	t.Cleanup(func() {
		mu.Lock()
		closed = true
		l.Close()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			if !track(in) {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer in.Close()
				out, err := net.Dial("tcp", u.Host)
				if err != nil || !track(out) {
					return
				}
				defer out.Close()
				done := make(chan struct{})
				go func() {
					_, _ = io.Copy(out, in)
					_ = out.(*net.TCPConn).CloseWrite()
					close(done)
				}()
				_, _ = io.Copy(in, out)
				_ = in.(*net.TCPConn).CloseWrite()
				<-done
			}()
		}
	}()
	return "http://" + l.Addr().String()
}
