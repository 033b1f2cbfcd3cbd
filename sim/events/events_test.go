package events

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/meshsim/meshsim/sim/contract"
)

// next returns the event ch holds once the bubble has settled, failing the
// test when there is none.
func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	synctest.Wait()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return e
	default:
		t.Fatal("no event")
	}
	return Event{}
}

// none fails the test if ch holds an event once the bubble has settled.
func none(t *testing.T, ch <-chan Event) {
	t.Helper()
	synctest.Wait()
	select {
	case e, ok := <-ch:
		if ok {
			t.Fatalf("unexpected event %+v", e)
		}
	default:
	}
}

func TestBusReplayAndFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBus(1) // rounded up to one chunk: 1024 events
		for range block + 6 {
			b.Emit(Event{Type: "old"})
		}
		ctx, cancel := context.WithCancel(context.Background())
		ch := b.Subscribe(ctx, 0)
		// Only the last 1024 are kept for replay; since 0 asks for what is
		// kept, so no gap marker.
		for want := uint64(7); want <= block+6; want++ {
			if e := next(t, ch); e.Seq != want || e.Time.IsZero() || e.Type != "old" {
				t.Fatalf("replayed %+v, want seq %d with a time", e, want)
			}
		}
		none(t, ch)
		b.Emit(Event{Type: "new"})
		if e := next(t, ch); e.Seq != block+7 || e.Type != "new" {
			t.Errorf("live %+v", e)
		}
		cancel()
		synctest.Wait()
		if _, ok := <-ch; ok {
			t.Error("subscription still open after its context ended")
		}
		b.Emit(Event{Type: "after"}) // no subscriber left: must not block
	})
}

func TestBusSince(t *testing.T) {
	tests := []struct {
		name     string
		emitted  int
		since    uint64
		wantGap  map[string]string // nil: no gap marker
		wantNext uint64            // the first real event's seq
	}{
		{name: "inside the history", emitted: 4, since: 2, wantNext: 3},
		{name: "at the newest", emitted: 4, since: 4, wantNext: 5},
		{name: "left the history", emitted: block + 10, since: 2,
			wantGap: map[string]string{"from": "3", "to": "10", "lost": "8"}, wantNext: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := NewBus(block)
				for range tt.emitted {
					b.Emit(Event{})
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				ch := b.Subscribe(ctx, tt.since)
				if tt.wantGap != nil {
					g := next(t, ch)
					if g.Type != contract.EventGap || g.Source != contract.SourceEvents || g.Seq != tt.wantNext-1 {
						t.Fatalf("first event %+v, want a gap marker with seq %d", g, tt.wantNext-1)
					}
					for k, v := range tt.wantGap {
						if g.Detail[k] != v {
							t.Errorf("gap %s = %q, want %q", k, g.Detail[k], v)
						}
					}
				}
				if uint64(tt.emitted) < tt.wantNext {
					none(t, ch)
					b.Emit(Event{})
				}
				if e := next(t, ch); e.Seq != tt.wantNext {
					t.Errorf("first seq %d, want %d", e.Seq, tt.wantNext)
				}
			})
		})
	}
}

// A subscriber that does not read cannot hold up publishers; when it reads
// again, every event is either delivered or counted in a gap marker, in
// order.
func TestBusSlowSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBus(block)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ch := b.Subscribe(ctx, 0)
		const total = 5 * block
		for range total { // would deadlock the bubble if Emit waited
			b.Emit(Event{Type: "x"})
		}
		synctest.Wait()
		var delivered, lost, gaps uint64
		last := uint64(0)
		for last < total {
			e := next(t, ch)
			if e.Seq <= last {
				t.Fatalf("seq %d after %d", e.Seq, last)
			}
			if e.Type == contract.EventGap {
				gaps++
				var from, to uint64
				for k, p := range map[string]*uint64{"from": &from, "to": &to} {
					for _, c := range e.Detail[k] {
						*p = *p*10 + uint64(c-'0')
					}
				}
				if from != last+1 || to != e.Seq {
					t.Fatalf("gap %v after seq %d", e.Detail, last)
				}
				lost += to - from + 1
			} else {
				if e.Seq != last+1 {
					t.Fatalf("seq %d after %d without a gap marker", e.Seq, last)
				}
				delivered++
			}
			last = e.Seq
		}
		// The subscriber holds at most its channel's buffer and one batch
		// while it waits, so it must have lost some; how it interleaved
		// with Emit decides in how many gaps.
		if delivered+lost != total || gaps == 0 || delivered < block {
			t.Errorf("delivered %d, lost %d in %d gaps; want %d in all, a gap, the last %d delivered",
				delivered, lost, gaps, total, block)
		}
		none(t, ch)
	})
}

// The history's memory stops growing at its limit.
func TestBusHistoryBounded(t *testing.T) {
	b := NewBus(3 * block)
	for range 10 * block {
		b.Emit(Event{Type: "x"})
	}
	if len(b.chunks) != 3 {
		t.Fatalf("%d chunks for a limit of 3 chunks", len(b.chunks))
	}
	for i, c := range b.chunks {
		if len(c) != block {
			t.Errorf("chunk %d holds %d events", i, len(c))
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if got := b.oldest(); got != 7*block+1 {
		t.Errorf("oldest kept seq %d, want %d", got, 7*block+1)
	}
}
