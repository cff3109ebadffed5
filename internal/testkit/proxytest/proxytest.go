// Package proxytest is a forward HTTP proxy for tests, as squid or tinyproxy
// run it for a network that reaches Telegram only through them: it tunnels
// CONNECT requests to their target, may require credentials, and can be
// told to refuse or hang up. It listens on 127.0.0.1.
package proxytest

import (
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Proxy is the running proxy. Its fields set before a request decide how
// the request is answered; it is safe for concurrent use through its methods.
type Proxy struct {
	*httptest.Server

	mu       sync.Mutex
	auth     string   // "user:password" required; "" for none
	refuse   int      // status to answer CONNECT with; 0 tunnels
	hangUp   bool     // close the connection instead of answering
	connects []string // targets of the tunnels opened
	seen     []string // request lines, as a proxy's log would hold them
	closed   chan struct{}
}

// New starts a proxy that requires auth ("user:password", or "" for none)
// and stops it when the test ends.
func New(tb testing.TB, auth string) *Proxy {
	tb.Helper()
	p := &Proxy{auth: auth, closed: make(chan struct{})}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(func() {
		close(p.closed)
		p.Server.Close()
	})
	return p
}

// Refuse makes the proxy answer CONNECT with status (0: tunnel again).
func (p *Proxy) Refuse(status int) { p.mu.Lock(); p.refuse = status; p.mu.Unlock() }

// HangUp makes the proxy close CONNECT requests without an answer.
func (p *Proxy) HangUp() { p.mu.Lock(); p.hangUp = true; p.mu.Unlock() }

// RequireAuth changes the credentials the proxy wants.
func (p *Proxy) RequireAuth(auth string) { p.mu.Lock(); p.auth = auth; p.mu.Unlock() }

// Tunnels returns the targets of the tunnels opened so far.
func (p *Proxy) Tunnels() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.connects...)
}

// Seen returns every request line the proxy received.
func (p *Proxy) Seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.RequestURI)
	refuse, hangUp, auth := p.refuse, p.hangUp, p.auth
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if auth != "" && r.Header.Get("Proxy-Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte(auth)) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
		http.Error(w, "who are you", http.StatusProxyAuthRequired)
		return
	}
	if refuse != 0 {
		http.Error(w, "not allowed here", refuse)
		return
	}
	conn, buffered, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if hangUp {
		_ = conn.Close()
		return
	}
	upstream, err := net.Dial("tcp", r.Host)
	if err != nil {
		_, _ = io.WriteString(conn, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		_ = conn.Close()
		return
	}
	// The status line is written on the hijacked connection itself, so that
	// no header of net/http's (or a chunked body) can come between it and
	// the tunnelled bytes.
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = conn.Close()
		_ = upstream.Close()
		return
	}
	p.mu.Lock()
	p.connects = append(p.connects, r.Host)
	p.mu.Unlock()
	go func() {
		<-p.closed
		_ = conn.Close()
		_ = upstream.Close()
	}()
	// What the client sent after its CONNECT may already sit in the buffer.
	go func() { _, _ = io.Copy(upstream, buffered); _ = upstream.Close() }()
	go func() { _, _ = io.Copy(conn, upstream); _ = conn.Close() }()
}
