package sidecar

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReplayBody(t *testing.T) {
	b := &replayBody{src: io.NopCloser(strings.NewReader("hello world"))}
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
	lb := &replayBody{src: io.NopCloser(bytes.NewReader(long))}
	got, err = io.ReadAll(lb.reader())
	if err != nil || len(got) != len(long) {
		t.Fatalf("long body: %d bytes, %v", len(got), err)
	}
	if lb.replayable() {
		t.Error("a body over the limit must not be replayable")
	}
}
