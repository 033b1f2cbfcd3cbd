package sidecar

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/http2"
)

// sniffTimeout bounds the wait for a new connection's first bytes, as
// net/http's ReadHeaderTimeout did.
const sniffTimeout = 30 * time.Second

// h2Preface is how an HTTP/2 connection with prior knowledge begins; no
// HTTP/1.1 request begins so.
var h2Preface = []byte("PRI ")

// connServer serves the connections of one listener. It reads the first
// bytes of each: an HTTP/2 connection (h2c with prior knowledge, what gRPC
// clients open) is served by x/net/http2's server with a write scheduler
// whose cost does not grow with the streams open on the connection (the
// default round robin one walks every stream per frame); any other is an
// HTTP/1.1 connection, served by fasthttp's server, which reads and
// writes each request on the connection's goroutine and flushes each
// response once.
type connServer struct {
	lh  *listenerHandler
	ln  net.Listener
	h1  *fasthttp.Server
	h1q *connQueue // the HTTP/1.1 connections h1 serves
	hs  *http.Server
	h2  *http2.Server
	h2h http.Handler

	mu       sync.Mutex
	conns    map[*trackedConn]struct{}
	groups   map[*relayGroup]struct{} // the HTTP/2 connections the relay serves
	draining bool
	wg       sync.WaitGroup // the accept loop, sniffers and HTTP/2 connections
}

func newConnServer(ln net.Listener, h1 fasthttp.RequestHandler, h2h *listenerHandler) *connServer {
	s := &connServer{
		lh:     h2h,
		groups: make(map[*relayGroup]struct{}),
		ln:     ln,
		h1q:    newConnQueue(ln.Addr()),
		hs:     &http.Server{Handler: h2h, ErrorLog: discardLog},
		h2h:    h2h,
		conns:  make(map[*trackedConn]struct{}),
		h2: &http2.Server{
			MaxConcurrentStreams: maxConcurrentStreams,
			NewWriteScheduler:    http2.NewRandomWriteScheduler,
		},
		h1: &fasthttp.Server{
			Handler:                       h1,
			NoDefaultServerHeader:         true,
			NoDefaultDate:                 true,
			NoDefaultContentType:          true,
			DisablePreParseMultipartForm:  true,
			DisableHeaderNamesNormalizing: false,
			ReadTimeout:                   sniffTimeout,
			IdleTimeout:                   time.Hour, // Envoy's downstream idle timeout
			MaxRequestBodySize:            maxHTTP1Body,
			Logger:                        discardLogger{},
		},
	}
	// ConfigureServer makes hs.Shutdown send GOAWAY on the HTTP/2
	// connections served with BaseConfig hs.
	_ = http2.ConfigureServer(s.hs, s.h2) // fails only with TLS settings it dislikes; hs has none
	return s
}

// serve accepts connections until the listener closes.
func (s *connServer) serve() {
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		_ = s.h1.Serve(s.h1q) // returns when h1q closes
	}()
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
			tc := s.track(c)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.route(tc)
			}()
		}
	}()
}

// route reads the first bytes of c and hands it to the server of its
// protocol.
func (s *connServer) route(c *trackedConn) {
	var buf [4]byte
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	n, err := io.ReadFull(c, buf[:])
	_ = c.SetReadDeadline(time.Time{})
	if err != nil && n == 0 {
		c.Close()
		return
	}
	c.pending = buf[:n]
	if bytes.Equal(buf[:n], h2Preface) {
		s.serveRelay(c)
		c.Close()
		return
	}
	if !s.h1q.push(newHTTP1Conn(c)) {
		c.Close()
	}
}

// serveH2 serves an HTTP/2 connection with the net/http path (x/net's
// server and the listener's handler): the relay's internal connections.
func (s *connServer) serveH2(c net.Conn) {
	s.h2.ServeConn(c, &http2.ServeConnOpts{Handler: s.h2h, BaseConfig: s.hs})
}

// addGroup counts a relay group in, unless the server is draining.
func (s *connServer) addGroup(g *relayGroup) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.groups[g] = struct{}{}
	return true
}

func (s *connServer) removeGroup(g *relayGroup) {
	s.mu.Lock()
	delete(s.groups, g)
	s.mu.Unlock()
}

func (s *connServer) track(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, s: s}
	s.mu.Lock()
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	return tc
}

// shutdown stops accepting and lets open requests and streams finish
// (HTTP/2 clients get GOAWAY, idle HTTP/1.1 connections close) until ctx
// is done; then it closes the connections left. It returns once every
// connection is closed.
func (s *connServer) shutdown(ctx context.Context) {
	s.ln.Close()
	s.mu.Lock()
	s.draining = true
	groups := make([]*relayGroup, 0, len(s.groups))
	for g := range s.groups {
		groups = append(groups, g)
	}
	s.mu.Unlock()
	for _, g := range groups {
		g.goAway() // GOAWAY to the clients of the relay
	}
	_ = s.hs.Shutdown(ctx) // GOAWAY to the HTTP/2 connections
	h1done := make(chan struct{})
	go func() {
		defer close(h1done)
		_ = s.h1.ShutdownWithContext(ctx)
		s.h1q.Close()
	}()
	done := make(chan struct{})
	go func() {
		<-h1done
		s.waitConns(ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.closeConns()
	<-done
	s.wg.Wait()
}

// waitConns waits until no connection is open or ctx is done.
func (s *connServer) waitConns(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *connServer) closeConns() {
	s.mu.Lock()
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// trackedConn is an accepted connection: it replays the bytes read to
// tell its protocol, and leaves its server's set when closed.
type trackedConn struct {
	net.Conn
	s       *connServer
	pending []byte
	once    sync.Once
}

func (c *trackedConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return err
}

// SetLinger lets a dropped request's connection be reset (see drop).
func (c *trackedConn) SetLinger(sec int) error {
	if tc, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return tc.SetLinger(sec)
	}
	return nil
}

// connQueue is the listener the HTTP/1.1 server accepts from: the
// connections route hands it.
type connQueue struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) bool {
	select {
	case q.ch <- c:
		return true
	case <-q.done:
		return false
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// discardLogger silences fasthttp's log of connection errors, as the
// net/http servers' ErrorLog is silenced.
type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
