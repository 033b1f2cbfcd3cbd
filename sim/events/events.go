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
	"strconv"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
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
	Source contract.Source `json:"source"`
	// Type names what happened, dotted, for example contract.EventTaskState,
	// contract.EventInstanceRegistered, contract.EventRouteUpdated, contract.EventXDSPush, contract.EventXDSAck, contract.EventXDSNack.
	Type contract.EventType `json:"type"`
	// Resource is the ARN or node id the event is about.
	Resource string `json:"resource,omitempty"`
	// Detail holds type-specific fields (for task.state: "from", "to",
	// "service", "taskDefinition"; for xds.push/ack: "node", "version",
	// "typeUrl").
	Detail map[string]string `json:"detail,omitempty"`
}

// DefaultHistory is how many events a bus keeps when NewBus is given no
// limit.
const DefaultHistory = 100000

// block is how many events one chunk of the history holds. The history grows
// by chunks up to its limit and then reuses them, so publishing never copies
// the history.
const block = 1024

// batch is how many events a subscriber copies out of the history per hold
// of the bus's lock.
const batch = 256

// Bus fans events out to subscribers and keeps a bounded history, a ring of
// the last events, so that a subscriber that connects late can ask for what
// it missed.
//
// Publishing is O(1) and never waits for a subscriber. Each subscriber reads
// the history at its own pace from its own position, a few hundred events per
// hold of the lock; a subscriber that falls behind by more than the history
// loses the oldest events it had not read and gets one gap marker in their
// place: an event with Source contract.SourceEvents and Type
// contract.EventGap whose Seq is the last lost event's (so a reader that
// resumes after the Seq it saw last does not ask for them again) and whose
// Detail gives the lost range (contract.DetailFrom, contract.DetailTo,
// inclusive) and their number (contract.DetailLost).
//
// The zero value is not usable; call NewBus.
type Bus struct {
	mu     sync.Mutex
	seq    uint64    // of the newest event; 0 before the first
	chunks [][]Event // the ring: with i = (s-1) % limit, event s is chunks[i/block][i%block]
	// limit is how many events the ring holds once all chunks exist: a
	// multiple of block.
	limit uint64
	wake  Changes // wakes subscribers after each Emit
	now   func() time.Time
}

// NewBus returns a bus that keeps at least the last limit events for replay
// (DefaultHistory when limit is 0 or less; rounded up to a multiple of 1024).
// Its memory grows with the history up to that limit and no further.
func NewBus(limit int) *Bus {
	if limit <= 0 {
		limit = DefaultHistory
	}
	n := (limit + block - 1) / block
	return &Bus{chunks: make([][]Event, n), limit: uint64(n * block), now: time.Now}
}

// Emit records e, stamping Seq and, when zero, Time. It never blocks on a
// subscriber and never copies the history.
func (b *Bus) Emit(e Event) {
	b.mu.Lock()
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = b.now()
	}
	i := (e.Seq - 1) % b.limit
	c := &b.chunks[i/block]
	if *c == nil {
		*c = make([]Event, block)
	}
	(*c)[i%block] = e
	b.mu.Unlock()
	b.wake.Notify()
}

// oldest is the Seq of the oldest event the history still holds (seq+1 when
// it is empty). b.mu must be held.
func (b *Bus) oldest() uint64 {
	if b.seq < b.limit {
		return 1
	}
	return b.seq - b.limit + 1
}

// read appends to dst up to batch events from seq next on, or from the
// oldest kept event if next has left the history, and returns them with the
// seq the first one has (the events before it are lost).
func (b *Bus) read(next uint64, dst []Event) ([]Event, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := max(next, b.oldest())
	for s := first; s <= b.seq && len(dst) < batch; s++ {
		i := (s - 1) % b.limit
		dst = append(dst, b.chunks[i/block][i%block])
	}
	return dst, first
}

// Subscribe returns the events after seq since (0 for the whole kept
// history) followed by every new event, until ctx is done; then the channel
// is closed. A subscriber that asked for events after since that have left
// the history, or that reads so slowly that unread events leave it, gets a
// gap marker in their place.
func (b *Bus) Subscribe(ctx context.Context, since uint64) <-chan Event {
	out := make(chan Event, batch)
	wake := b.wake.Watch(ctx) // before the first read: no Emit goes unnoticed
	b.mu.Lock()
	next := since + 1
	if since == 0 {
		next = b.oldest()
	}
	b.mu.Unlock()
	go func() {
		defer close(out)
		send := func(e Event) bool {
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		var buf []Event
		for {
			var first uint64
			buf, first = b.read(next, buf[:0])
			if first > next {
				if !send(b.gap(next, first-1)) {
					return
				}
			}
			for _, e := range buf {
				if !send(e) {
					return
				}
			}
			if len(buf) > 0 {
				next = buf[len(buf)-1].Seq + 1
			} else {
				next = first
			}
			if len(buf) == batch {
				continue // more may be waiting
			}
			if _, ok := <-wake; !ok {
				return // ctx is done
			}
		}
	}()
	return out
}

// gap is the marker for the lost events from to to, inclusive.
func (b *Bus) gap(from, to uint64) Event {
	return Event{Seq: to, Time: b.now(), Source: contract.SourceEvents, Type: contract.EventGap, Detail: map[string]string{
		contract.DetailFrom: strconv.FormatUint(from, 10),
		contract.DetailTo:   strconv.FormatUint(to, 10),
		contract.DetailLost: strconv.FormatUint(to-from+1, 10),
	}}
}
