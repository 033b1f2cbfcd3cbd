package loadgen

import (
	"context"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meshsim/meshsim/loadgen/proxyless"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/poll/polltest"
	"github.com/meshsim/meshsim/sim/xds"
)

// startGRPCApp starts a sample gRPC service on addr (a free loopback port
// when empty), retrying while the address is still taken by a task that is
// going away.
func startGRPCApp(t *testing.T, addr string, cfg grpcapp.Config) *grpcapp.Server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cfg.Addr = addr
	if cfg.Service == "" {
		cfg.Service = "echo"
	}
	if cfg.TaskID == "" {
		cfg.TaskID = "task-" + cfg.Version
	}
	var s *grpcapp.Server
	var err error
	polltest.Eventually(t, "a sample gRPC service to start on "+addr, func() bool {
		s, err = grpcapp.Start(context.Background(), cfg)
		if err != nil {
			t.Logf("starting on %s: %v", addr, err)
		}
		return err == nil
	})
	t.Cleanup(func() { s.Close() })
	return s
}

// echoWorld is a mesh in which "front" calls the virtual service
// echo.m.local, routed by weight to the virtual nodes echo-v1 and echo-v2.
func echoWorld(v1, v2 []string, w1, w2 uint32) xds.World {
	endpoints := func(addrs []string) []xds.Endpoint {
		var eps []xds.Endpoint
		for i, a := range addrs {
			host, port, _ := net.SplitHostPort(a)
			p, _ := strconv.Atoi(port)
			eps = append(eps, xds.Endpoint{InstanceID: "task-" + strconv.Itoa(i), Address: host, Port: uint32(p)})
		}
		return eps
	}
	grpcListener := []xds.Listener{{Port: 8080, Protocol: xds.GRPC}}
	return xds.World{Meshes: []xds.Mesh{{
		Name: "m",
		VirtualNodes: []xds.VirtualNode{
			{Name: "front", Listeners: []xds.Listener{{Port: 8080, Protocol: xds.HTTP}}, Backends: []string{"echo.m.local"}},
			{Name: "echo-v1", Listeners: grpcListener, Endpoints: endpoints(v1)},
			{Name: "echo-v2", Listeners: grpcListener, Endpoints: endpoints(v2)},
		},
		VirtualServices: []xds.VirtualService{{Name: "echo.m.local", ProviderRouter: "echo-router"}},
		VirtualRouters: []xds.VirtualRouter{{
			Name:      "echo-router",
			Listeners: grpcListener,
			Routes: []xds.Route{{
				Name:     "echo-route",
				Protocol: xds.GRPC,
				Targets:  []xds.WeightedTarget{{VirtualNode: "echo-v1", Weight: w1}, {VirtualNode: "echo-v2", Weight: w2}},
			}},
		}},
	}}}
}

// startControlPlane serves w with a real sim/xds server on loopback.
func startControlPlane(t *testing.T, w xds.World) (*xds.Server, string) {
	t.Helper()
	s := xds.NewServer(xds.Options{})
	if err := s.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return s, ln.Addr().String()
}

func proxylessTarget(xdsAddr string) GRPCTarget {
	return GRPCTarget{
		Address: "xds:///echo.m.local",
		XDS:     &XDSClient{Server: xdsAddr, NodeID: contract.NodeID("m", "front"), NewResolver: proxyless.NewResolver},
	}
}

// count counts the observations of kind in sink that match (all when nil).
func (s *memSink) count(kind string, match func(rundir.Observation) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, o := range s.obs {
		if o.Kind == kind && (match == nil || match(o)) {
			n++
		}
	}
	return n
}

func TestSequence(t *testing.T) {
	tests := []struct {
		name                 string
		seqs                 []uint64
		lost, dup, ooo, last uint64
	}{
		{"in order", []uint64{1, 2, 3, 4}, 0, 0, 0, 4},
		{"gap", []uint64{1, 2, 6, 7}, 3, 0, 0, 7},
		{"gap at start", []uint64{3, 4}, 2, 0, 0, 4},
		{"duplicate", []uint64{1, 2, 2, 3}, 0, 1, 0, 3},
		{"late message fills its gap", []uint64{1, 3, 2, 4}, 0, 0, 1, 4},
		{"late message splits a gap", []uint64{1, 6, 3, 7}, 3, 0, 1, 7},
		{"late message then its repeat", []uint64{1, 4, 2, 2}, 1, 1, 1, 4},
		{"zero is never sent", []uint64{0, 1}, 0, 1, 0, 1},
		{"two gaps, both ends filled", []uint64{1, 4, 8, 2, 3, 7}, 2, 0, 3, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSequence()
			var lost, dup, ooo uint64
			for _, seq := range tt.seqs {
				r := s.observe(seq)
				lost += r.lost
				if r.filled {
					lost--
				}
				if r.duplicate {
					dup++
				}
				if r.outOfOrder {
					ooo++
				}
			}
			if lost != tt.lost || dup != tt.dup || ooo != tt.ooo || s.last() != tt.last {
				t.Errorf("lost %d dup %d ooo %d last %d, want %d %d %d %d", lost, dup, ooo, s.last(), tt.lost, tt.dup, tt.ooo, tt.last)
			}
		})
	}
}

func TestClassifyGRPC(t *testing.T) {
	app := metadata.Pairs(contract.HeaderVersion, "v1")
	tests := []struct {
		err             error
		header, trailer metadata.MD
		canceled        bool
		want            string
	}{
		{status.Error(codes.Unavailable, "stream terminated by RST_STREAM with error code: CANCEL"), nil, nil, false, "rst-stream"},
		{status.Error(codes.Unavailable, "the connection is draining"), nil, nil, false, "goaway"},
		{status.Error(codes.Unavailable, `closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: NO_ERROR`), nil, nil, false, "goaway"},
		{status.Error(codes.Unavailable, "error reading from server: read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"), nil, nil, false, "reset"},
		{status.Error(codes.Unavailable, "error reading from server: EOF"), nil, nil, false, "eof"},
		{status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:1: connect: connection refused"`), nil, nil, false, "refused"},
		{status.Error(codes.DeadlineExceeded, "context deadline exceeded"), nil, nil, false, "deadline"},
		{status.Error(codes.Canceled, "context canceled"), nil, nil, true, "canceled"},
		{status.Error(codes.Unavailable, "meshsim: echo/v1/t is shutting down; resume at seq 9"), app, metadata.Pairs(contract.MetadataEnd, "draining"), false, "drained"},
		{status.Error(codes.Internal, "injected error"), app, nil, false, "app-error"},
		{status.Error(codes.Unavailable, "upstream connect error"), metadata.Pairs(contract.HeaderProxy, "sidecar"), nil, false, "proxy-error"},
		{status.Error(codes.Unavailable, "no healthy upstream"), nil, nil, false, "no-healthy-upstream"},
		{nil, app, nil, false, "ended"},
		{status.Error(codes.Unknown, "something"), nil, nil, false, "other"},
	}
	for _, tt := range tests {
		if got := classifyGRPC(tt.err, tt.header, tt.trailer, tt.canceled); got != tt.want {
			t.Errorf("classifyGRPC(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestGRPCConfigInvalid(t *testing.T) {
	ok := GRPCTarget{Address: "127.0.0.1:1"}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"no port", func() error {
			_, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{Target: GRPCTarget{Address: "localhost"}, Rate: 1}, nil, &memSink{})
			return err
		}, "want host:port"},
		{"http url", func() error {
			_, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{Target: GRPCTarget{Address: "http://a:1"}, Rate: 1}, nil, &memSink{})
			return err
		}, "want host:port or xds"},
		{"xds without control plane", func() error {
			_, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{Target: GRPCTarget{Address: "xds:///echo"}, Rate: 1}, nil, &memSink{})
			return err
		}, "needs an xDS control plane"},
		{"zero rate", func() error {
			_, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{Target: ok}, nil, &memSink{})
			return err
		}, "rate 0"},
		{"no streams", func() error {
			_, err := RunStreams(context.Background(), StreamConfig{Target: ok}, nil, &memSink{})
			return err
		}, "want 1 to"},
		{"backoff max below base", func() error {
			_, err := RunStreams(context.Background(), StreamConfig{Target: ok, Chat: 1, BackoffBase: time.Second, BackoffMax: time.Millisecond}, nil, &memSink{})
			return err
		}, "below its base"},
		{"bad bootstrap", func() error {
			_, err := XDSClient{Server: "nowhere"}.Bootstrap()
			return err
		}, "not host:port"},
	}
	for _, tt := range tests {
		err := tt.run()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestRunGRPCUnary(t *testing.T) {
	app := startGRPCApp(t, "", grpcapp.Config{Version: "0.9", TaskID: "task-a"})
	var step atomic.Int64
	step.Store(3)
	sink := &memSink{}
	const rate = 200
	sum, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{
		Target:      GRPCTarget{Address: app.Addr()},
		Rate:        rate,
		Duration:    500 * time.Millisecond,
		Connections: 3,
	}, func() int { return int(step.Load()) }, sink)
	if err != nil {
		t.Fatal(err)
	}
	obs := sink.sorted()
	// 100 calls are due; a machine at a third of its speed may fall
	// behind the schedule and send fewer before the duration ends.
	if len(obs) < rate/2/3 || sum.Requests != len(obs) || sum.Successes != len(obs) {
		t.Fatalf("%d observations, summary %+v", len(obs), sum)
	}
	interval := time.Second / rate
	for i, o := range obs {
		if o.Seq != uint64(i+1) || o.Kind != rundir.KindGRPCUnary || !o.OK() || !o.IsRequest() {
			t.Fatalf("observation %d = %+v", i, o)
		}
		if o.Version != "0.9" || o.Task != "task-a" || o.Chain != "echo/0.9/task-a" || o.Step != 3 {
			t.Fatalf("observation %d attributed to %q %q %q step %d", i, o.Version, o.Task, o.Chain, o.Step)
		}
		if o.Latency < o.ServiceTime || o.ServiceTime <= 0 {
			t.Fatalf("observation %d latency %v service time %v", i, o.Latency, o.ServiceTime)
		}
		if i > 0 && o.Scheduled.Sub(obs[i-1].Scheduled) != interval {
			t.Fatalf("observations %d and %d scheduled %v apart, want %v", i-1, i, o.Scheduled.Sub(obs[i-1].Scheduled), interval)
		}
	}
}

func TestRunGRPCUnaryFailures(t *testing.T) {
	failing := startGRPCApp(t, "", grpcapp.Config{Version: "v1", ErrorRate: 1})
	slow := startGRPCApp(t, "", grpcapp.Config{Version: "v1", Latency: time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name, addr string
		timeout    time.Duration
		code, kind string
	}{
		{"application error", failing.Addr(), 0, "INTERNAL", "app-error"},
		{"deadline", slow.Addr(), 50 * time.Millisecond, "DEADLINE_EXCEEDED", "deadline"},
		{"nothing listens", closed, 0, "UNAVAILABLE", "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memSink{}
			sum, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{
				Target: GRPCTarget{Address: tt.addr}, Rate: 100, Duration: 200 * time.Millisecond, Timeout: tt.timeout,
			}, nil, sink)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Requests == 0 || sum.Successes != 0 || sum.Errors[tt.kind] != sum.Requests {
				t.Fatalf("summary %+v, want every call failed as %s", sum, tt.kind)
			}
			for _, o := range sink.sorted() {
				if o.OK() || o.GRPCCode != tt.code || o.Error == "" {
					t.Fatalf("observation %+v, want code %s", o, tt.code)
				}
			}
		})
	}
}

// streamTotals sums the stream-end observations of sink.
type streamTotals struct {
	streams, connected              int
	breaks, resumes                 int
	received, lost, duplicated, ooo uint64
	versions                        map[string]int // of the connected streams at the end
}

func endTotals(t *testing.T, sink *memSink) streamTotals {
	t.Helper()
	tot := streamTotals{versions: map[string]int{}}
	for _, o := range sink.sorted() {
		if o.Kind != rundir.KindStreamEnd {
			continue
		}
		s := o.Stream
		tot.streams++
		tot.breaks += s.Breaks
		tot.resumes += s.Resumes
		tot.received += s.Received
		tot.lost += s.Lost
		tot.duplicated += s.Duplicated
		tot.ooo += s.OutOfOrder
		if s.Connected {
			tot.connected++
			tot.versions[o.Version]++
		}
	}
	return tot
}

func TestProxylessSplitsUnaryByWeight(t *testing.T) {
	v1 := startGRPCApp(t, "", grpcapp.Config{Version: "v1"})
	v2 := startGRPCApp(t, "", grpcapp.Config{Version: "v2"})
	cp, xdsAddr := startControlPlane(t, echoWorld([]string{v1.Addr()}, []string{v2.Addr()}, 75, 25))
	split := func(want1 float64) {
		t.Helper()
		sink := &memSink{}
		sum, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{
			Target: proxylessTarget(xdsAddr), Rate: 400, Duration: 1500 * time.Millisecond,
		}, nil, sink)
		if err != nil {
			t.Fatal(err)
		}
		// 600 calls are due; a third of them is enough for the binomial
		// test below (its tolerance follows the count), and a busy
		// machine that falls behind the schedule still sends that many.
		if sum.Successes != sum.Requests || sum.Requests < 200 {
			t.Fatalf("summary %+v", sum)
		}
		n := float64(sum.Requests)
		got1 := float64(sink.count(rundir.KindGRPCUnary, func(o rundir.Observation) bool { return o.Version == "v1" })) / n
		// Every call is an independent weighted pick: the share of v1 is
		// binomial; allow 4σ.
		if tol := 4 * math.Sqrt(want1*(1-want1)/n); math.Abs(got1-want1) > tol {
			t.Errorf("v1 served %.3f of %d calls, want %.2f ± %.3f", got1, sum.Requests, want1, tol)
		}
	}
	split(0.75)
	// The control plane changes the weights; the same kind of client,
	// configured anew, follows them.
	if err := cp.Update(context.Background(), echoWorld([]string{v1.Addr()}, []string{v2.Addr()}, 10, 90)); err != nil {
		t.Fatal(err)
	}
	split(0.10)
}

func TestStreamSurvivesWeightChange(t *testing.T) {
	v1 := startGRPCApp(t, "", grpcapp.Config{Version: "v1"})
	v2 := startGRPCApp(t, "", grpcapp.Config{Version: "v2"})
	cp, xdsAddr := startControlPlane(t, echoWorld([]string{v1.Addr()}, []string{v2.Addr()}, 100, 0))
	sink := &memSink{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 10
	done := make(chan StreamSummary, 1)
	meter := &Meter{}
	go func() {
		sum, err := RunStreams(ctx, StreamConfig{
			Target: proxylessTarget(xdsAddr), Subscribe: n, Chat: n, Interval: 10 * time.Millisecond, Meter: meter,
		}, nil, sink)
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	polltest.Eventually(t, "every stream to open", func() bool { return sink.count(rundir.KindStreamOpen, nil) == 2*n })

	// Shift every new call to v2 while the streams are open, and check with
	// unary calls from a client of the same node that the shift is served.
	if err := cp.Update(context.Background(), echoWorld([]string{v1.Addr()}, []string{v2.Addr()}, 0, 100)); err != nil {
		t.Fatal(err)
	}
	unary := &memSink{}
	if _, err := RunGRPCUnary(context.Background(), GRPCUnaryConfig{
		Target: proxylessTarget(xdsAddr), Rate: 200, Duration: 250 * time.Millisecond,
	}, nil, unary); err != nil {
		t.Fatal(err)
	}
	if got, all := unary.count(rundir.KindGRPCUnary, func(o rundir.Observation) bool { return o.Version == "v2" && o.OK() }),
		unary.count(rundir.KindGRPCUnary, nil); got != all || all == 0 {
		t.Fatalf("after the shift v2 served %d of %d calls", got, all)
	}
	// The streams go on: each Chat stream sends 20 more messages (however
	// long a busy machine takes for them).
	shifted := meter.Read(time.Now()).Sent
	polltest.Eventually(t, "20 more messages on each Chat stream after the shift", func() bool {
		return meter.Read(time.Now()).Sent >= shifted+n*20
	})
	cancel()
	sum := <-done

	tot := endTotals(t, sink)
	if tot.streams != 2*n || tot.connected != 2*n || tot.versions["v1"] != 2*n {
		t.Errorf("at the end %d of %d streams connected, by version %v; want all still on v1", tot.connected, tot.streams, tot.versions)
	}
	if tot.breaks != 0 || sum.Breaks != 0 || tot.lost+tot.duplicated+tot.ooo != 0 {
		t.Errorf("a weight change broke streams: %+v", tot)
	}
	// Every Chat message sent after the shift is answered, but for the
	// one per stream in flight at the end.
	if want := shifted + n*19; sum.Received < want {
		t.Errorf("received %d messages, want at least %d", sum.Received, want)
	}
}

// TestStreamsTaskReplaced holds streams on a task that is then replaced at
// the same address by a task of another version, stopped either gracefully
// or abruptly, and checks what the streams went through.
func TestStreamsTaskReplaced(t *testing.T) {
	tests := []struct {
		name   string
		stop   func(*grpcapp.Server) error
		outage time.Duration // between the stop and the new task
		kinds  []string      // acceptable break kinds
		// retention is how much of its feed a task replays; lossy says
		// that Subscribe streams lose messages.
		retention time.Duration
		lossy     bool
	}{
		{
			name: "graceful",
			stop: func(s *grpcapp.Server) error {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				return s.Shutdown(ctx)
			},
			kinds:     []string{"drained"},
			retention: 10 * time.Second,
		},
		{
			name:      "abrupt",
			stop:      (*grpcapp.Server).Close,
			outage:    300 * time.Millisecond,
			kinds:     []string{"reset", "eof"},
			retention: 50 * time.Millisecond,
			lossy:     true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := grpcapp.Config{Version: "v1", Drain: 200 * time.Millisecond, FeedRetention: tt.retention}
			old := startGRPCApp(t, "", cfg)
			addr := old.Addr()
			sink := &memSink{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const n = 10
			done := make(chan StreamSummary, 1)
			go func() {
				sum, err := RunStreams(ctx, StreamConfig{
					Target: GRPCTarget{Address: addr}, Subscribe: n, Chat: n, Interval: 10 * time.Millisecond,
				}, nil, sink)
				if err != nil {
					t.Error(err)
				}
				done <- sum
			}()
			polltest.Eventually(t, "every stream to open", func() bool { return sink.count(rundir.KindStreamOpen, nil) == 2*n })

			stopped := make(chan error, 1)
			go func() { stopped <- tt.stop(old) }()
			time.Sleep(tt.outage) // an outage of at least this long
			cfg.Version = "v2"
			replacing := time.Now() // no v2 message can arrive before
			startGRPCApp(t, addr, cfg)
			if err := <-stopped; err != nil {
				t.Fatal(err)
			}
			polltest.Eventually(t, "every stream to resume", func() bool { return sink.count(rundir.KindStreamResume, nil) == 2*n })
			cancel()
			sum := <-done

			tot := endTotals(t, sink)
			t.Logf("breaks by kind %v, lost %d, reconnect up to %v", sum.BreaksByKind, sum.Lost, sum.MaxReconnect)
			checkReplacedStreams(t, sink, sum, tot, n, tt.kinds, replacing)
			checkReplacementGaps(t, sink, sum, tot, n, tt.lossy)
		})
	}
}

// checkReplacedStreams checks that all 2n streams (n of each method) broke
// on v1 with a break of one of kinds and resumed on v2 after replacing,
// where they are at the end, without duplicated or out-of-order messages.
func checkReplacedStreams(t *testing.T, sink *memSink, sum StreamSummary, tot streamTotals, n int, kinds []string, replacing time.Time) {
	t.Helper()
	if tot.connected != 2*n || tot.versions["v2"] != 2*n || sum.Unresumed != 0 {
		t.Errorf("at the end %d streams connected, by version %v, %d unresumed; want all on v2", tot.connected, tot.versions, sum.Unresumed)
	}
	if tot.breaks != 2*n || sum.Breaks != 2*n || sum.Resumes != 2*n {
		t.Errorf("%d breaks (summary %d) and %d resumes, want %d each", tot.breaks, sum.Breaks, sum.Resumes, 2*n)
	}
	for kind, c := range sum.BreaksByKind {
		if !slices.Contains(kinds, kind) {
			t.Errorf("%d breaks of kind %q, want only %v", c, kind, kinds)
		}
	}
	for _, o := range sink.sorted() {
		switch o.Kind {
		case rundir.KindStreamBreak:
			if o.Version != "v1" || o.GRPCCode != "UNAVAILABLE" || o.Stream.Received == 0 {
				t.Errorf("break %+v %+v", o, *o.Stream)
			}
		case rundir.KindStreamResume:
			s := o.Stream
			if o.Version != "v2" || s.FromVersion != "v1" || s.Reconnect <= 0 || o.Sent.Before(replacing) || s.ResumeSeq != s.LastSeq+1 || s.Call < 2 {
				t.Errorf("resume %+v %+v", o, *s)
			}
		case rundir.KindStreamGap:
			if o.Stream.Method != MethodSubscribe || o.Stream.Lost == 0 || o.Stream.Duplicated+o.Stream.OutOfOrder != 0 {
				t.Errorf("gap %+v %+v", o, *o.Stream)
			}
		}
	}
	if tot.duplicated+tot.ooo != 0 {
		t.Errorf("%d duplicated and %d out-of-order messages", tot.duplicated, tot.ooo)
	}
}

// checkReplacementGaps checks what the replacement lost: when lossy, one
// gap in each of the n Subscribe feeds (the first message of each resumed
// call skips them), else nothing. A reader that a busy machine holds back
// longer than the feed's retention loses messages too: those gaps name no
// version the stream came from, and are only logged.
func checkReplacementGaps(t *testing.T, sink *memSink, sum StreamSummary, tot streamTotals, n int, lossy bool) {
	t.Helper()
	gaps := sink.count(rundir.KindStreamGap, nil)
	replaced := map[string]int{}
	for _, o := range sink.sorted() {
		if o.Kind == rundir.KindStreamGap && o.Stream.FromVersion == "v1" {
			replaced[o.Stream.ID]++
		}
	}
	if other := gaps - len(replaced); other > 0 {
		t.Logf("%d gaps besides those of the replacement (a reader held back past the feed's retention)", other)
	}
	switch {
	case lossy && (tot.lost == 0 || len(replaced) != n || sum.Lost != tot.lost):
		t.Errorf("lost %d messages (summary %d), replacement gaps by stream %v; want one in each of the %d feeds", tot.lost, sum.Lost, replaced, n)
	case lossy && slices.ContainsFunc(slices.Collect(maps.Values(replaced)), func(c int) bool { return c != 1 }):
		t.Errorf("replacement gaps by stream %v, want one each", replaced)
	case !lossy && tot.lost != 0:
		t.Errorf("lost %d messages", tot.lost)
	}
}
