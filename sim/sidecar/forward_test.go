package sidecar

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func TestReplayBody(t *testing.T) {
	b := newReplayBody(io.NopCloser(strings.NewReader("hello world")), newBufferPool(), true)
	first := b.reader()
	buf := make([]byte, 5)
	if n, err := first.Read(buf); n != 5 || err != nil || string(buf) != "hello" {
		t.Fatalf("first read: %d %v %q", n, err, buf)
	}
	second := b.reader()
	if _, err := first.Read(buf); !errors.Is(err, errStaleAttempt) {
		t.Fatalf("superseded reader: err = %v, want errStaleAttempt", err)
	}
	got, err := io.ReadAll(second)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("replay: %q %v, want the whole body", got, err)
	}
	if !b.replayable() {
		t.Error("a short body must stay replayable")
	}
	third, err := io.ReadAll(b.reader())
	if err != nil || string(third) != "hello world" {
		t.Fatalf("second replay: %q %v", third, err)
	}

	long := bytes.Repeat([]byte("x"), replayLimit+1)
	lb := newReplayBody(io.NopCloser(bytes.NewReader(long)), newBufferPool(), true)
	got, err = io.ReadAll(lb.reader())
	if err != nil || len(got) != len(long) {
		t.Fatalf("long body: %d bytes, %v", len(got), err)
	}
	if lb.replayable() {
		t.Error("a body over the limit must not be replayable")
	}
}

// TestReplayBodyStreaming covers a streaming request body whose client
// sends nothing while an attempt fails, and the end of recording once the
// response is on its way.
func TestReplayBodyStreaming(t *testing.T) {
	pr, pw := io.Pipe()
	b := newReplayBody(pr, newBufferPool(), true)
	first := b.reader()
	firstErr := make(chan error, 1)
	go func() {
		_, err := first.Read(make([]byte, 16)) // the client has sent nothing yet
		firstErr <- err
	}()
	polltest.Eventually(t, "the first attempt to wait for the body", func() bool { return waiting(b) })
	first.Close() // the transport ends the failed attempt
	if err := <-firstErr; !errors.Is(err, errAttemptClosed) {
		t.Fatalf("closed attempt: %v, want errAttemptClosed", err)
	}

	second := b.reader() // the retry
	go pw.Write([]byte("msg-1"))
	buf := make([]byte, 16)
	if n, err := second.Read(buf); err != nil || string(buf[:n]) != "msg-1" {
		t.Fatalf("the retry read %q, %v; want the client's message", buf[:n], err)
	}

	b.commit() // the retry's response is on its way
	go pw.Write([]byte("msg-2"))
	if n, err := second.Read(buf); err != nil || string(buf[:n]) != "msg-2" {
		t.Fatalf("after commit: %q, %v", buf[:n], err)
	}
	b.mu.Lock()
	kept := len(b.buf)
	b.mu.Unlock()
	if kept != 0 || b.replayable() {
		t.Errorf("after commit %d bytes kept, replayable %v; want none kept, not replayable", kept, b.replayable())
	}
	// The transport closes the last attempt's body to end the stream: the
	// client's body is closed.
	second.Close()
	if _, err := pw.Write([]byte("msg-3")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("client write after the stream ended: %v, want ErrClosedPipe", err)
	}
}

func TestReplayBodyWithoutRetries(t *testing.T) {
	pr, pw := io.Pipe()
	src := &signalReader{ReadCloser: pr, reading: make(chan struct{}, 2)}
	b := newReplayBody(src, newBufferPool(), false)
	r := b.reader()
	go pw.Write([]byte("direct"))
	buf := make([]byte, 16)
	if n, err := r.Read(buf); err != nil || string(buf[:n]) != "direct" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
	if b.replayable() {
		t.Error("a body without retries is replayable")
	}
	readErr := make(chan error, 1)
	go func() {
		_, err := r.Read(buf)
		readErr <- err
	}()
	<-src.reading
	<-src.reading // the second read waits for the client
	r.Close()
	if err := <-readErr; !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("read blocked when the attempt closed: %v, want the body closed", err)
	}
}

// waiting reports whether a read of b waits for the pump.
func waiting(b *replayBody) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed != nil
}

// signalReader reports each Read on reading before it blocks.
type signalReader struct {
	io.ReadCloser
	reading chan struct{}
}

func (s *signalReader) Read(p []byte) (int, error) {
	s.reading <- struct{}{}
	return s.ReadCloser.Read(p)
}
