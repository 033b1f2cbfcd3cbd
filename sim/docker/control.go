package docker

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/events"
)

// The control channel joins the fakes' ECS, in its container, to the
// docker runtime in the meshsim process on the host, which alone talks to
// the Docker engine. The fakes' container holds no Docker socket: it
// listens on FakesControlPort on the run network (never published) and
// accepts one connection, the host's, which must first present the run's
// token (EnvControlToken, made by the host for the run). Over it, as JSON
// lines, the fakes ask the host to start and stop tasks ("start", "stop",
// "cancel"); the host answers ("reply"), reports what the containers do
// ("report", "event") and beats once every HeartbeatInterval ("beat").
//
// The fakes stop themselves when the channel is lost: when the connection
// closes (the host process exited, even by SIGKILL) or no beat has come
// for HeartbeatTimeout. Task containers share the fakes' PID namespace, so
// when the fakes' process exits the kernel kills every task process: an
// orphaned run leaves nothing running.
const (
	// FakesControlPort is the fakes' control port on the run network.
	FakesControlPort = 4567
	// EnvControlToken is the run's control token, in the fakes'
	// environment.
	EnvControlToken = "MESHSIM_CONTROL_TOKEN"
	// HeartbeatInterval is how often the host beats.
	HeartbeatInterval = time.Second
	// HeartbeatMisses is how many beats the fakes may miss before they
	// stop: HeartbeatTimeout = HeartbeatMisses × HeartbeatInterval (10 s).
	HeartbeatMisses = 10
	// HeartbeatTimeout is how long the fakes wait for a beat.
	HeartbeatTimeout = HeartbeatMisses * HeartbeatInterval
	// controlConnectTimeout is how long the fakes wait for the host to
	// connect before they give up and exit.
	controlConnectTimeout = 2 * time.Minute
	// controlWriteTimeout bounds writing one message.
	controlWriteTimeout = 10 * time.Second
)

// message is one line on the control channel. Op says which fields are
// set.
type message struct {
	// ID pairs a request ("start", "stop", "cancel") with its "reply".
	ID     uint64          `json:"id,omitempty"`
	Op     string          `json:"op"`
	Token  string          `json:"token,omitempty"`  // hello
	Spec   *ecs.TaskSpec   `json:"spec,omitempty"`   // start
	Task   string          `json:"task,omitempty"`   // stop, report
	Grace  time.Duration   `json:"grace,omitempty"`  // stop
	Report *ecs.TaskReport `json:"report,omitempty"` // report
	Event  *events.Event   `json:"event,omitempty"`  // event
	IP     string          `json:"ip,omitempty"`     // reply to start
	Error  string          `json:"error,omitempty"`  // reply
}

// newToken returns a fresh control token.
func newToken() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error (see crypto/rand.Read)
	return hex.EncodeToString(b[:])
}

// wire writes messages to a connection, one goroutine at a time.
type wire struct {
	conn net.Conn
	mu   sync.Mutex
	enc  *json.Encoder
}

func newWire(conn net.Conn) *wire { return &wire{conn: conn, enc: json.NewEncoder(conn)} }

func (w *wire) send(m message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conn.SetWriteDeadline(time.Now().Add(controlWriteTimeout))
	return w.enc.Encode(m)
}

// errChannelLost is the error of a call whose control channel is gone.
var errChannelLost = errors.New("the control channel to the meshsim process is lost")

// remote is the fakes' side of the control channel: the ecs.Runtime the
// fakes' ECS uses, which asks the host to run the tasks.
type remote struct {
	token string
	bus   *events.Bus
	ln    net.Listener

	connected chan struct{} // closed once the host is connected
	lost      chan struct{} // closed once the channel is lost
	lostOnce  sync.Once
	why       error // why the channel was lost; set before lost closes

	mu      sync.Mutex
	w       *wire
	next    uint64
	pending map[uint64]chan message
	reports map[string]func(ecs.TaskReport)
}

// listenControl listens on addr for the host's control connection.
func listenControl(addr, token string, bus *events.Bus) (*remote, error) {
	if token == "" {
		return nil, fmt.Errorf("meshsim container fakes: %s is not set", EnvControlToken)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("meshsim container fakes: control channel: %w", err)
	}
	return &remote{
		token: token, bus: bus, ln: ln,
		connected: make(chan struct{}), lost: make(chan struct{}),
		pending: make(map[uint64]chan message), reports: make(map[string]func(ecs.TaskReport)),
	}, nil
}

// serve accepts the host's connection (the first that presents the
// token; the listener closes then) and reads from it until it is lost.
// It gives up when no host connects within controlConnectTimeout or ctx is
// done.
func (r *remote) serve(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { r.ln.Close() })
	defer stop()
	timer := time.AfterFunc(controlConnectTimeout, func() { r.ln.Close() })
	defer timer.Stop()
	for {
		conn, err := r.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				r.lose(ctx.Err())
			} else {
				r.lose(fmt.Errorf("no meshsim process connected within %s", controlConnectTimeout))
			}
			return
		}
		dec, ok := r.hello(conn)
		if !ok {
			conn.Close()
			continue
		}
		r.ln.Close()
		timer.Stop()
		r.mu.Lock()
		r.w = newWire(conn)
		r.mu.Unlock()
		close(r.connected)
		context.AfterFunc(ctx, func() { conn.Close() })
		r.read(conn, dec)
		return
	}
}

// hello reads the connection's first line and reports whether it
// presents the token.
func (r *remote) hello(conn net.Conn) (*json.Decoder, bool) {
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	dec := json.NewDecoder(bufio.NewReader(conn))
	var m message
	if err := dec.Decode(&m); err != nil || m.Op != "hello" ||
		subtle.ConstantTimeCompare([]byte(m.Token), []byte(r.token)) != 1 {
		return nil, false
	}
	return dec, true
}

// read dispatches what the host sends until the connection closes or no
// beat comes for HeartbeatTimeout.
func (r *remote) read(conn net.Conn, dec *json.Decoder) {
	for {
		conn.SetReadDeadline(time.Now().Add(HeartbeatTimeout))
		var m message
		if err := dec.Decode(&m); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("no heartbeat for %s", HeartbeatTimeout)
			}
			r.lose(err)
			conn.Close()
			return
		}
		switch m.Op {
		case "reply":
			r.mu.Lock()
			ch := r.pending[m.ID]
			delete(r.pending, m.ID)
			r.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		case "report":
			r.mu.Lock()
			report := r.reports[m.Task]
			r.mu.Unlock()
			if report != nil && m.Report != nil {
				report(*m.Report)
			}
		case "event":
			if r.bus != nil && m.Event != nil {
				r.bus.Emit(*m.Event)
			}
		}
	}
}

// lose marks the channel lost, failing every call waiting on it.
func (r *remote) lose(why error) {
	r.lostOnce.Do(func() {
		r.why = why
		close(r.lost)
	})
}

// Lost is closed once the channel is lost; Why says why.
func (r *remote) Lost() <-chan struct{} { return r.lost }

// call sends a request and waits for its reply. When ctx is done first it
// asks the host to cancel the request and still waits for the reply, so
// that nothing started is forgotten.
func (r *remote) call(ctx context.Context, m message) (message, error) {
	select {
	case <-r.connected:
	case <-r.lost:
		return message{}, fmt.Errorf("%w: %v", errChannelLost, r.why)
	case <-ctx.Done():
		return message{}, ctx.Err()
	}
	ch := make(chan message, 1)
	r.mu.Lock()
	r.next++
	m.ID = r.next
	r.pending[m.ID] = ch
	w := r.w
	r.mu.Unlock()
	if err := w.send(m); err != nil {
		r.mu.Lock()
		delete(r.pending, m.ID)
		r.mu.Unlock()
		return message{}, fmt.Errorf("%w: %v", errChannelLost, err)
	}
	done := ctx.Done()
	for {
		select {
		case reply := <-ch:
			if reply.Error != "" {
				return reply, errors.New(reply.Error)
			}
			return reply, nil
		case <-r.lost:
			return message{}, fmt.Errorf("%w: %v", errChannelLost, r.why)
		case <-done:
			done = nil
			_ = w.send(message{Op: "cancel", ID: m.ID})
		}
	}
}

// Start asks the host to start the task; the host's reports reach report
// until Stop returns.
func (r *remote) Start(ctx context.Context, spec ecs.TaskSpec, report func(ecs.TaskReport)) (ecs.Started, error) {
	if report != nil {
		r.mu.Lock()
		r.reports[spec.TaskID] = report
		r.mu.Unlock()
	}
	reply, err := r.call(ctx, message{Op: "start", Spec: &spec})
	if err != nil {
		r.forget(spec.TaskID)
		return ecs.Started{}, err
	}
	return ecs.Started{IP: reply.IP}, nil
}

// Stop asks the host to stop the task. The host sends the task's last
// reports before its reply, so none is delivered after Stop returns.
func (r *remote) Stop(ctx context.Context, taskID string, grace time.Duration) error {
	defer r.forget(taskID)
	_, err := r.call(ctx, message{Op: "stop", Task: taskID, Grace: grace})
	return err
}

func (r *remote) forget(taskID string) {
	r.mu.Lock()
	delete(r.reports, taskID)
	r.mu.Unlock()
}

// Close closes the channel: the host stops whatever task is left.
func (r *remote) Close() error {
	r.ln.Close()
	r.mu.Lock()
	w := r.w
	r.mu.Unlock()
	if w != nil {
		w.conn.Close()
	}
	r.lose(errors.New("closed"))
	return nil
}

// host is the host's side of the control channel: it serves the fakes'
// requests with the docker runtime and beats.
type host struct {
	w  *wire
	rt *Runtime

	mu     sync.Mutex
	starts map[uint64]context.CancelFunc
}

// dialControl connects to the fakes' control port at addr and presents
// the token.
func dialControl(ctx context.Context, addr, token string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to the fakes' control channel at %s: %w", addr, err)
	}
	if err := newWire(conn).send(message{Op: "hello", Token: token}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connecting to the fakes' control channel at %s: %w", addr, err)
	}
	return conn, nil
}

// emitter sends the runtime's events to the fakes' bus, stamped with the
// time they happened on the host.
type emitter struct{ w *wire }

func (e emitter) Emit(ev events.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	_ = e.w.send(message{Op: "event", Event: &ev})
}

// serveHost serves the fakes' requests on conn with rt, beating every
// HeartbeatInterval, until the connection closes. It then closes rt,
// which stops every task still running.
func serveHost(conn net.Conn, w *wire, rt *Runtime) error {
	h := &host{w: w, rt: rt, starts: make(map[uint64]context.CancelFunc)}
	beats := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-beats:
				return
			case <-t.C:
				if w.send(message{Op: "beat"}) != nil {
					conn.Close()
					return
				}
			}
		}
	})
	dec := json.NewDecoder(bufio.NewReader(conn))
	for {
		var m message
		if dec.Decode(&m) != nil {
			break // the fakes exited, or the world is closing
		}
		switch m.Op {
		case "start":
			if m.Spec == nil {
				continue
			}
			ctx, cancel := context.WithCancel(rt.ctx)
			h.mu.Lock()
			h.starts[m.ID] = cancel
			h.mu.Unlock()
			wg.Go(func() { h.start(ctx, m.ID, *m.Spec) })
		case "stop":
			wg.Go(func() { h.stop(m.ID, m.Task, m.Grace) })
		case "cancel":
			h.mu.Lock()
			if cancel := h.starts[m.ID]; cancel != nil {
				cancel()
			}
			h.mu.Unlock()
		}
	}
	close(beats)
	conn.Close()
	// The fakes are gone: nothing else will stop what still runs.
	err := rt.Close()
	wg.Wait()
	return err
}

func (h *host) start(ctx context.Context, id uint64, spec ecs.TaskSpec) {
	defer func() {
		h.mu.Lock()
		if cancel := h.starts[id]; cancel != nil {
			cancel()
		}
		delete(h.starts, id)
		h.mu.Unlock()
	}()
	started, err := h.rt.Start(ctx, spec, func(r ecs.TaskReport) {
		_ = h.w.send(message{Op: "report", Task: spec.TaskID, Report: &r})
	})
	reply := message{Op: "reply", ID: id, IP: started.IP}
	if err != nil {
		reply.Error = err.Error()
	}
	_ = h.w.send(reply)
}

func (h *host) stop(id uint64, taskID string, grace time.Duration) {
	ctx, cancel := context.WithTimeout(h.rt.ctx, grace+cleanupTimeout)
	defer cancel()
	reply := message{Op: "reply", ID: id}
	if err := h.rt.Stop(ctx, taskID, grace); err != nil {
		reply.Error = err.Error()
	}
	_ = h.w.send(reply)
}
