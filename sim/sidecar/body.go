package sidecar

import (
	"errors"
	"io"
	"sync"
)

// requestBody is the downstream request body: reading it is stream
// activity, and its end starts the route timeout.
type requestBody struct {
	d  *deadlines
	rc io.ReadCloser
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.d.touch()
	}
	if err == io.EOF {
		b.d.requestDone()
	}
	return n, err
}

func (b *requestBody) Close() error { return b.rc.Close() }

// responseBody is the upstream response body: reading it is stream
// activity.
type responseBody struct {
	d  *deadlines
	rc io.ReadCloser
}

func (b *responseBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.d.touch()
	}
	return n, err
}

func (b *responseBody) Close() error { return b.rc.Close() }

// replayLimit is how much of a request body is kept for retries, like
// Envoy's per-request buffer limit; a longer body is not retried.
const replayLimit = 64 << 10

// replayBody feeds a request body to the upstream attempts, one reader
// per attempt, and keeps what it read so that a retry can send it again.
//
// An attempt that fails must stop reading even while the client sends
// nothing (a bidirectional stream waiting for its first answer): the
// HTTP/2 transport closes the attempt's body and waits for its reader.
// So until commit, the body is read by a pump goroutine, one read at a
// time as the current attempt needs data, and a closed attempt's reader
// returns at once; what the pump read is kept for the next attempt.
//
// Once committed (the response is on its way: no attempt follows) the
// current attempt reads the body itself and nothing is kept; closing its
// reader closes the body, which is how the transport ends a stream whose
// client is still sending. A body of a route without retries is
// committed from the start.
type replayBody struct {
	src  io.ReadCloser
	pool *bufferPool

	mu        sync.Mutex
	changed   chan struct{} // closed when a waiting read may go on; nil when none waits
	buf       []byte        // bytes [base, total) of the body
	base      int64
	total     int64
	cur       int64 // offset of the current attempt's reader
	gen       int
	err       error // sticky error of src, io.EOF included
	pumping   bool
	large     bool // the latest pump filled its buffer: more is likely waiting
	committed bool
	overflow  bool
	srcClosed bool
}

var (
	errStaleAttempt  = errors.New("sidecar: request body read by a superseded attempt")
	errAttemptClosed = errors.New("sidecar: request body read after the attempt ended")
	errNotReplayable = errors.New("sidecar: request body too long to replay")
)

func newReplayBody(src io.ReadCloser, pool *bufferPool, retries bool) *replayBody {
	return &replayBody{src: src, pool: pool, committed: !retries}
}

// reader returns a reader for a new attempt, from the start of the body.
func (b *replayBody) reader() io.ReadCloser {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	b.cur = 0
	b.wake()
	return &replayReader{b: b, gen: b.gen}
}

// replayable reports whether a new attempt can be sent the whole body.
func (b *replayBody) replayable() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.overflow && !b.committed
}

// commit ends recording: no attempt follows the current one.
func (b *replayBody) commit() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.committed = true
	b.trim()
}

// wake lets waiting reads go on; b.mu is held.
func (b *replayBody) wake() {
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// trim drops what the current reader has read once it need not be
// replayed; b.mu is held.
func (b *replayBody) trim() {
	if !b.committed && !b.overflow {
		return
	}
	if n := b.cur - b.base; n > 0 {
		b.buf = b.buf[n:]
		b.base = b.cur
	}
	if len(b.buf) == 0 {
		b.buf = nil
	}
}

// pump reads once from src for the current attempt. A pump mostly
// waits for the client's next message, so it waits with a small buffer
// and takes a copy buffer only while a read fills the small one.
func (b *replayBody) pump() {
	b.mu.Lock()
	large := b.large
	b.mu.Unlock()
	var p []byte
	if large {
		p = b.pool.Get()
	} else {
		p = b.pool.getSmall()
	}
	n, err := b.src.Read(p)
	b.mu.Lock()
	b.large = n == len(p)
	if !b.committed && !b.overflow && b.total+int64(n) > replayLimit {
		b.overflow = true
	}
	b.buf = append(b.buf, p[:n]...)
	b.total += int64(n)
	if err != nil {
		b.err = err
	}
	b.pumping = false
	b.trim()
	b.wake()
	b.mu.Unlock()
	b.pool.putAny(p)
}

type replayReader struct {
	b      *replayBody
	gen    int
	off    int64
	closed bool // guarded by b.mu
}

func (r *replayReader) Read(p []byte) (int, error) {
	b := r.b
	b.mu.Lock()
	for {
		switch {
		case r.closed:
			b.mu.Unlock()
			return 0, errAttemptClosed
		case r.gen != b.gen:
			b.mu.Unlock()
			return 0, errStaleAttempt
		case r.off < b.base:
			b.mu.Unlock()
			return 0, errNotReplayable
		case r.off < b.total:
			n := copy(p, b.buf[r.off-b.base:])
			r.off += int64(n)
			b.cur = r.off
			b.trim()
			b.mu.Unlock()
			return n, nil
		case b.err != nil:
			err := b.err
			b.mu.Unlock()
			return 0, err
		case b.committed && !b.pumping:
			b.mu.Unlock()
			return r.direct(p)
		}
		if !b.pumping {
			b.pumping = true
			go b.pump()
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		wait := b.changed
		b.mu.Unlock()
		<-wait
		b.mu.Lock()
	}
}

// direct reads src for the committed, current attempt.
func (r *replayReader) direct(p []byte) (int, error) {
	b := r.b
	n, err := b.src.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(n)
	r.off += int64(n)
	b.cur, b.base = r.off, b.total // nothing is kept
	if err != nil {
		b.err = err
	}
	return n, err
}

// Close ends the attempt's use of the body. Closing the committed attempt
// closes the body itself.
func (r *replayReader) Close() error {
	b := r.b
	b.mu.Lock()
	if r.closed {
		b.mu.Unlock()
		return nil
	}
	r.closed = true
	closeSrc := b.committed && r.gen == b.gen && !b.srcClosed
	if closeSrc {
		b.srcClosed = true
	}
	b.wake()
	b.mu.Unlock()
	if closeSrc {
		return b.src.Close()
	}
	return nil
}
