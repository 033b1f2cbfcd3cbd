package events

import (
	"context"
	"testing"
	"time"
)

func TestBusReplayAndFollow(t *testing.T) {
	b := NewBus(3)
	for i := 0; i < 5; i++ {
		b.Emit(Event{Type: "old"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Subscribe(ctx, 0)
	// Only the last 3 are kept for replay.
	for want := uint64(3); want <= 5; want++ {
		if e := <-ch; e.Seq != want || e.Time.IsZero() {
			t.Fatalf("replayed %+v, want seq %d with a time", e, want)
		}
	}
	b.Emit(Event{Type: "new"})
	select {
	case e := <-ch:
		if e.Seq != 6 || e.Type != "new" {
			t.Errorf("live %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live event")
	}
	cancel()
	for range ch { // closed once ctx is done
	}
	b.Emit(Event{Type: "after"}) // no subscriber left: must not block
}

func TestBusSince(t *testing.T) {
	b := NewBus(0)
	for i := 0; i < 4; i++ {
		b.Emit(Event{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if e := <-b.Subscribe(ctx, 2); e.Seq != 3 {
		t.Errorf("since 2: first seq %d, want 3", e.Seq)
	}
}
