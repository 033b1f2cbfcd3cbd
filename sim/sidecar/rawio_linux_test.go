package sidecar

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection: the dialed
// end wrapped as the HTTP/1.1 path wraps its connections, and the
// accepted end as it is.
func tcpPair(t *testing.T) (*rawIOConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rw, ok := newRawIOConn(c, c)
	if !ok {
		t.Fatal("a TCP connection has no file descriptor")
	}
	t.Cleanup(func() { rw.Close(); peer.Close() })
	return rw, peer
}

// TestRawIOConn checks that the HTTP/1.1 path's connections read, write
// and fail as net's connections do: bytes in order (the sniffed ones
// first), writes larger than the socket's buffer in full, io.EOF when the
// peer closes, deadlines as timeouts, and a closed peer or connection as
// the errors the upstream pool's retry and the server look for.
func TestRawIOConn(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB: more than a loopback socket buffers
	tests := []struct {
		name string
		run  func(t *testing.T, c *rawIOConn, peer net.Conn)
	}{
		{"the pending bytes, then the socket's", func(t *testing.T, c *rawIOConn, peer net.Conn) {
			c.pending = []byte("GET ")
			if _, err := peer.Write([]byte("/ HTTP/1.1\r\n")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len("GET / HTTP/1.1\r\n"))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != "GET / HTTP/1.1\r\n" {
				t.Fatalf("read %q, %v", got, err)
			}
		}},
		{"a read waits for the peer's bytes", func(t *testing.T, c *rawIOConn, peer net.Conn) {
			got := make(chan string, 1)
			go func() {
				b := make([]byte, 8)
				n, err := c.Read(b)
				if err != nil {
					got <- err.Error()
				}
				got <- string(b[:n])
			}()
			if _, err := peer.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if s := <-got; s != "ping" {
				t.Fatalf("read %q, want ping", s)
			}
		}},
		{"a write larger than the socket buffer, in full", func(t *testing.T, c *rawIOConn, peer net.Conn) {
			errc := make(chan error, 1)
			go func() {
				n, err := c.Write(big)
				if err == nil && n != len(big) {
					err = errors.New("short write")
				}
				errc <- err
			}()
			got, err := io.ReadAll(io.LimitReader(peer, int64(len(big))))
			if err != nil || !bytes.Equal(got, big) {
				t.Fatalf("peer read %d bytes (%v), want the %d written", len(got), err, len(big))
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}},
		{"the peer's close is io.EOF", func(t *testing.T, c *rawIOConn, peer net.Conn) {
			peer.Close()
			if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("read %d, %v; want 0, io.EOF", n, err)
			}
		}},
		{"a read deadline is a timeout", func(t *testing.T, c *rawIOConn, _ net.Conn) {
			_ = c.SetReadDeadline(time.Now().Add(-time.Second))
			_, err := c.Read(make([]byte, 8))
			var ne net.Error
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("read: %v; want a timeout", err)
			}
		}},
		{"a write deadline is a timeout", func(t *testing.T, c *rawIOConn, _ net.Conn) {
			_ = c.SetWriteDeadline(time.Now().Add(-time.Second))
			if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("write: %v; want a timeout", err)
			}
		}},
		{"a peer reset is ECONNRESET", func(t *testing.T, c *rawIOConn, peer net.Conn) {
			_ = peer.(*net.TCPConn).SetLinger(0)
			peer.Close()
			_, err := c.Read(make([]byte, 8))
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("read: %v; want ECONNRESET", err)
			}
			var oe *net.OpError
			if !errors.As(err, &oe) || oe.Op != "read" {
				t.Fatalf("read: %v; want a *net.OpError", err)
			}
		}},
		{"writing to a reset connection fails without a signal", func(t *testing.T, c *rawIOConn, peer net.Conn) {
			_ = peer.(*net.TCPConn).SetLinger(0)
			peer.Close()
			var err error
			for range 3 { // the first write may be accepted before the reset is seen
				if _, err = c.Write([]byte("x")); err != nil {
					break
				}
			}
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("write: %v; want EPIPE or ECONNRESET", err)
			}
		}},
		{"a closed connection is net.ErrClosed", func(t *testing.T, c *rawIOConn, _ net.Conn) {
			c.Close()
			if _, err := c.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("read: %v; want net.ErrClosed", err)
			}
			if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("write: %v; want net.ErrClosed", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := tcpPair(t)
			tt.run(t, c, peer)
		})
	}
}
