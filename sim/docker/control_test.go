package docker

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
)

// TestControlHeartbeat: the fakes' side of the control channel is lost
// HeartbeatTimeout after the last beat, not before, even when the
// connection stays open (a frozen meshsim process).
func TestControlHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fakes, host := net.Pipe()
		defer host.Close()
		r := &remote{connected: make(chan struct{}), lost: make(chan struct{}),
			pending: map[uint64]chan message{}, reports: map[string]func(ecs.TaskReport){}}
		go r.read(fakes, json.NewDecoder(fakes))
		w := newWire(host)
		for range 5 {
			time.Sleep(HeartbeatInterval)
			if err := w.send(message{Op: "beat"}); err != nil {
				t.Fatal(err)
			}
		}
		lastBeat := time.Now()
		time.Sleep(HeartbeatTimeout - time.Millisecond)
		synctest.Wait()
		select {
		case <-r.Lost():
			t.Fatalf("lost %s after the last beat, before the heartbeat timeout: %v", time.Since(lastBeat), r.why)
		default:
		}
		<-r.Lost()
		if since := time.Since(lastBeat); since != HeartbeatTimeout || !strings.Contains(r.why.Error(), "no heartbeat") {
			t.Errorf("lost %s after the last beat (%v), want %s and no heartbeat", since, r.why, HeartbeatTimeout)
		}
	})
}

// TestControlChannel runs the protocol over loopback with a scripted
// host: a wrong token is turned away, the right one connects, a start is
// answered, reports and events reach the fakes, a stop is answered, and a
// closed connection fails the calls waiting on it.
func TestControlChannel(t *testing.T) {
	bus := events.NewBus(0)
	r, err := listenControl("127.0.0.1:0", "secret", bus)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	go r.serve(ctx)
	addr := r.ln.Addr().String()

	bad, err := dialControl(ctx, addr, "guess")
	if err != nil {
		t.Fatal(err)
	}
	bad.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); err == nil {
		t.Error("a connection with a wrong token was kept")
	}
	bad.Close()

	conn, err := dialControl(ctx, addr, "secret")
	if err != nil {
		t.Fatal(err)
	}
	w := newWire(conn)
	dec := json.NewDecoder(bufio.NewReader(conn))

	reports := make(chan ecs.TaskReport, 1)
	sub := bus.Subscribe(ctx, 0)
	started := make(chan error, 1)
	go func() {
		st, err := r.Start(ctx, ecs.TaskSpec{TaskID: "t1"}, func(tr ecs.TaskReport) { reports <- tr })
		if err == nil && st.IP != "10.0.0.7" {
			err = errUnexpected(st.IP)
		}
		started <- err
	}()
	var m message
	if err := dec.Decode(&m); err != nil || m.Op != "start" || m.Spec == nil || m.Spec.TaskID != "t1" {
		t.Fatalf("host read %+v, %v; want a start of t1", m, err)
	}
	w.send(message{Op: "report", Task: "t1", Report: &ecs.TaskReport{Container: "app", Health: ecs.HealthHealthy}})
	w.send(message{Op: "event", Event: &events.Event{Source: "runtime", Type: "container.started"}})
	w.send(message{Op: "reply", ID: m.ID, IP: "10.0.0.7"})
	if err := <-started; err != nil {
		t.Fatalf("Start: %v", err)
	}
	if tr := <-reports; tr.Container != "app" || tr.Health != ecs.HealthHealthy {
		t.Errorf("report %+v", tr)
	}
	if e := <-sub; e.Type != "container.started" {
		t.Errorf("event %+v", e)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop(ctx, "t1", time.Second) }()
	if err := dec.Decode(&m); err != nil || m.Op != "stop" || m.Task != "t1" || m.Grace != time.Second {
		t.Fatalf("host read %+v, %v; want a stop of t1", m, err)
	}
	w.send(message{Op: "reply", ID: m.ID, Error: "boom"})
	if err := <-stopped; err == nil || err.Error() != "boom" {
		t.Errorf("Stop: %v, want the host's error", err)
	}

	// The host goes away while a start waits.
	go func() {
		_, err := r.Start(ctx, ecs.TaskSpec{TaskID: "t2"}, nil)
		started <- err
	}()
	if err := dec.Decode(&m); err != nil || m.Op != "start" {
		t.Fatalf("host read %+v, %v", m, err)
	}
	conn.Close()
	if err := <-started; err == nil || !strings.Contains(err.Error(), "control channel") {
		t.Errorf("Start when the host is gone: %v", err)
	}
	<-r.Lost()
}

type errUnexpected string

func (e errUnexpected) Error() string { return "unexpected " + string(e) }
