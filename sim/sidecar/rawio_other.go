//go:build !linux

package sidecar

import "net"

// newHTTP1Conn is an accepted connection as the HTTP/1.1 server reads
// and writes it: on this system, as net does (see rawIOConn on Linux).
func newHTTP1Conn(c *trackedConn) net.Conn { return c }

// newUpstreamConn is a connection to an upstream as the HTTP/1.1 path's
// pools read and write it: on this system, as net does.
func newUpstreamConn(c net.Conn) net.Conn { return c }
