package sidecar

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// rawIOConn is a TCP connection of the HTTP/1.1 path whose reads and
// writes are non-blocking system calls made without entering the Go
// scheduler's system call state, waiting on the runtime's poller (with
// the connection's deadlines) when the socket is not ready, as net's
// own reads and writes do.
//
// Why: a write on a loopback socket runs the receiver's TCP stack too and
// takes tens of microseconds, long enough for the runtime's sysmon to
// take the P from the thread in the call and wake another thread to run
// it, and every call made after the process was idle wakes sysmon from
// its deep sleep into 20 µs polling (golang/go#18236). Measured on the
// sidecar at wrk -c50 (perf, 2 CPUs shared with wrk and the backends):
// sysmon's sleeps, futex wake-ups and thread hand-offs were ~15% of the
// proxy's CPU; haproxy, which makes the same sends and receives, pays
// none of it. A socket call here never blocks (the socket is
// non-blocking), so not releasing the P costs nothing.
type rawIOConn struct {
	net.Conn // closing, addresses and deadlines
	rc       syscall.RawConn
	r, w     rawOp
	pending  []byte // read before the connection was wrapped; guarded by r.mu
}

// rawOp is the state of one direction's call, bound once to the method
// the RawConn calls so that a call allocates nothing.
type rawOp struct {
	mu    sync.Mutex // one call at a time, as net serializes them
	buf   []byte
	n     int
	errno syscall.Errno
	fn    func(fd uintptr) bool
}

// newHTTP1Conn is an accepted connection as the HTTP/1.1 server reads
// and writes it.
func newHTTP1Conn(c *trackedConn) net.Conn {
	rw, ok := newRawIOConn(c, c.Conn)
	if !ok {
		return c
	}
	rw.pending, c.pending = c.pending, nil
	return rw
}

// newUpstreamConn is a connection to an upstream as the HTTP/1.1 path's
// pools read and write it.
func newUpstreamConn(c net.Conn) net.Conn {
	if rw, ok := newRawIOConn(c, c); ok {
		return rw
	}
	return c
}

// newRawIOConn wraps c, whose socket is tcp's; it reports false when tcp
// has no file descriptor to use.
func newRawIOConn(c, tcp net.Conn) (*rawIOConn, bool) {
	sc, ok := tcp.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	rw := &rawIOConn{Conn: c, rc: rc}
	rw.r.fn = rw.r.read
	rw.w.fn = rw.w.write
	return rw, true
}

func (c *rawIOConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	o := &c.r
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	o.buf, o.n, o.errno = b, 0, 0
	err := c.rc.Read(o.fn)
	o.buf = nil
	switch {
	case err == nil && o.errno != 0:
		err = os.NewSyscallError("read", o.errno)
	case err == nil && o.n == 0:
		return 0, io.EOF
	}
	if err != nil {
		return o.n, c.opError("read", err)
	}
	return o.n, nil
}

func (c *rawIOConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	o := &c.w
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf, o.n, o.errno = b, 0, 0
	err := c.rc.Write(o.fn)
	o.buf = nil
	if err == nil && o.errno != 0 {
		err = os.NewSyscallError("write", o.errno)
	}
	if err != nil {
		return o.n, c.opError("write", err)
	}
	return o.n, nil
}

// opError wraps err as net's connections do.
func (c *rawIOConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// SetLinger lets a dropped request's connection be reset (see drop).
func (c *rawIOConn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return nil
}

// read reads once into o.buf; it reports false when the socket has
// nothing to read yet.
func (o *rawOp) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&o.buf[0])), uintptr(len(o.buf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			o.n = int(n)
		default:
			o.errno = e
		}
		return true
	}
}

// write sends what is left of o.buf (MSG_NOSIGNAL: a closed peer is
// EPIPE, not a signal); it reports false when the socket's buffer is
// full.
func (o *rawOp) write(fd uintptr) bool {
	for o.n < len(o.buf) {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&o.buf[o.n])), uintptr(len(o.buf)-o.n), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			o.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			o.errno = e
			return true
		}
	}
	return true
}
