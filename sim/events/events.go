// Package events carries what happens in the simulated AWS world (API calls,
// task state changes, Cloud Map registrations, xDS pushes and ACKs) from the
// part of sim where it happens to whoever records it.
//
// The fakes' endpoint serves the stream as JSON lines on GET /_meshsim/events,
// so a recorder never reaches into the fakes' memory: in-process and in a
// container alike, it reads the same stream over HTTP.
package events

import (
	"context"
	"sync"
	"time"
)

// Event is one thing that happened in the world. Its JSON form is the line
// format of GET /_meshsim/events and of events.jsonl in a run directory.
type Event struct {
	// Seq numbers events in the order the bus accepted them, from 1.
	Seq uint64 `json:"seq"`
	// Time is when the event happened.
	Time time.Time `json:"time"`
	// Source is the part of the world that emitted it: "ecs", "cloudmap",
	// "appmesh", "xds", "runtime", "sidecar".
	Source string `json:"source"`
	// Type names what happened, dotted, for example "task.state",
	// "instance.registered", "route.updated", "xds.push", "xds.ack", "xds.nack".
	Type string `json:"type"`
	// Resource is the ARN or node id the event is about.
	Resource string `json:"resource,omitempty"`
	// Detail holds type-specific fields (for task.state: "from", "to",
	// "service", "taskDefinition"; for xds.push/ack: "node", "version",
	// "typeUrl").
	Detail map[string]string `json:"detail,omitempty"`
}

// Bus fans events out to subscribers and keeps a bounded history, so that a
// subscriber that connects late can ask for what it missed. The zero value is
// not usable; call NewBus.
type Bus struct {
	mu      sync.Mutex
	seq     uint64
	history []Event
	limit   int
	subs    map[chan Event]struct{}
	now     func() time.Time
}

// NewBus returns a bus that keeps the last limit events for replay.
func NewBus(limit int) *Bus {
	if limit <= 0 {
		limit = 100000
	}
	return &Bus{limit: limit, subs: make(map[chan Event]struct{}), now: time.Now}
}

// Emit records e, stamping Seq and, when zero, Time. It never blocks: a
// subscriber whose buffer is full loses the event and sees a gap in Seq.
func (b *Bus) Emit(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	b.history = append(b.history, e)
	if len(b.history) > b.limit {
		b.history = append(b.history[:0:0], b.history[len(b.history)-b.limit:]...)
	}
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Subscribe returns the events after seq `since` (0 for the whole history)
// followed by every new event, until ctx is done; then the channel is closed.
func (b *Bus) Subscribe(ctx context.Context, since uint64) <-chan Event {
	out := make(chan Event, 4096)
	b.mu.Lock()
	var backlog []Event
	for _, e := range b.history {
		if e.Seq > since {
			backlog = append(backlog, e)
		}
	}
	live := make(chan Event, 4096)
	b.subs[live] = struct{}{}
	b.mu.Unlock()

	go func() {
		defer close(out)
		defer func() {
			b.mu.Lock()
			delete(b.subs, live)
			b.mu.Unlock()
		}()
		last := since
		send := func(e Event) bool {
			if e.Seq <= last {
				return true
			}
			last = e.Seq
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, e := range backlog {
			if !send(e) {
				return
			}
		}
		for {
			select {
			case e := <-live:
				if !send(e) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
