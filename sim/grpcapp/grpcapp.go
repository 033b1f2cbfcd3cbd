// Package grpcapp is the sample gRPC service that the tasks of a rehearsal
// run, modelled on the gRPC echo tutorial of App Mesh. Its API is
// echopb.Echo:
//
//   - Echo, unary: "Hello, NAME-san! (Said <task ip>, Version <version>)";
//   - Subscribe, server streaming: a feed of sequence-numbered messages at a
//     set rate, which a client can resume from a given sequence number on
//     any task (message n falls due at origin + n·interval, and each task
//     replays what fell due within its retention);
//   - Chat, bidirectional: every message echoed with its sequence number.
//
// Every response says which service, version and task served it, in the
// header metadata x-meshsim-version, x-meshsim-task and x-meshsim-chain and
// in the messages themselves. The gRPC health service and server reflection
// are on. Knobs model what a rollout meets: added latency and an error rate
// on Echo, a slow start, and a graceful drain (GOAWAY, then open streams end
// with a clean UNAVAILABLE status when the drain time is up) or an abrupt
// exit (every connection reset at once).
package grpcapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
	"github.com/meshsim/meshsim/sim/sampleapp"
	"github.com/meshsim/meshsim/sim/taskexit"
)

// EndDraining is the contract.MetadataEnd trailer of a stream a task ends
// because it is shutting down; contract.MetadataNextSeq then carries the
// sequence number to resume from (Subscribe) or the next one expected
// (Chat).
const EndDraining = "draining"

// ServiceName is the full name of the Echo service, under which the health
// service also reports its status.
const ServiceName = "meshsim.echo.v1.Echo"

// Server is a running sample gRPC service.
type Server struct {
	cfg    Config
	cost   *sampleapp.Cost
	taskIP string
	self   string // this task's chain entry
	header metadata.MD
	ready  time.Time

	ln         *trackingListener
	gs         *grpc.Server
	health     *health.Server
	readyTimer *time.Timer
	healthSrv  *http.Server // nil without Config.HealthAddr
	healthLn   net.Listener

	draining  atomic.Bool
	drainEnd  chan struct{} // closed when open streams must end
	drainOnce sync.Once
	serveDone chan struct{}

	exit *taskexit.Exit
}

// ErrCrashed is the exit error of a task configured to crash.
var ErrCrashed = errors.New("grpcapp: crashed (MESHSIM_CRASH_AFTER)")

// Start listens on cfg.Addr (and cfg.HealthAddr) and serves until Shutdown,
// Close, a configured crash, or ctx is done (which closes it as Close
// does).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("grpcapp: %s/%s: %w", cfg.Service, cfg.Version, err)
	}
	var healthLn net.Listener
	if cfg.HealthAddr != "" {
		if healthLn, err = lc.Listen(ctx, "tcp", cfg.HealthAddr); err != nil {
			ln.Close()
			return nil, fmt.Errorf("grpcapp: %s/%s: health: %w", cfg.Service, cfg.Version, err)
		}
	}
	taskIP, _, _ := net.SplitHostPort(ln.Addr().String())
	self := cfg.Service + "/" + cfg.Version + "/" + cfg.TaskID
	s := &Server{
		cfg:    cfg,
		cost:   sampleapp.NewCost(sampleapp.Config{Latency: cfg.Latency, LatencyDist: cfg.LatencyDist, CPU: cfg.CPU, Concurrency: cfg.Concurrency}),
		taskIP: taskIP,
		self:   self,
		header: metadata.Pairs(contract.HeaderVersion, cfg.Version, contract.HeaderTask, cfg.TaskID, contract.HeaderChain, self),
		ready:  time.Now().Add(cfg.StartDelay),
		ln:     &trackingListener{Listener: ln, conns: make(map[net.Conn]struct{})},
		health: health.NewServer(),

		drainEnd:  make(chan struct{}),
		serveDone: make(chan struct{}),
		exit:      taskexit.New(),
	}
	s.gs = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	)
	echopb.RegisterEchoServer(s.gs, &echoService{s: s})
	healthgrpc.RegisterHealthServer(s.gs, s.health)
	reflection.Register(s.gs)
	switch {
	case cfg.FailHealth:
		s.setServing(healthgrpc.HealthCheckResponse_NOT_SERVING)
	case cfg.StartDelay > 0:
		s.setServing(healthgrpc.HealthCheckResponse_NOT_SERVING)
		// health.Server ignores updates after Shutdown, so a task that
		// stops while starting stays NOT_SERVING.
		s.readyTimer = time.AfterFunc(cfg.StartDelay, func() { s.setServing(healthgrpc.HealthCheckResponse_SERVING) })
	default:
		s.setServing(healthgrpc.HealthCheckResponse_SERVING)
	}

	go func() {
		defer close(s.serveDone)
		s.gs.Serve(s.ln)
	}()
	if healthLn != nil {
		s.healthLn = healthLn
		s.healthSrv = &http.Server{Handler: http.HandlerFunc(s.serveHealth), ReadHeaderTimeout: 10 * time.Second}
		go s.healthSrv.Serve(healthLn)
	}
	go s.exit.Watch(ctx, s.serveDone, s.Close, cfg.CrashAfter, ErrCrashed)
	return s, nil
}

// Done is closed once the task has exited: after Shutdown or Close, or by
// itself when it crashes.
func (s *Server) Done() <-chan struct{} { return s.exit.Done() }

// Err is why the task exited: ErrCrashed for a crash, nil otherwise. It
// blocks until Done is closed.
func (s *Server) Err() error { return s.exit.Err() }

// Addr returns the address the gRPC server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// HealthAddr returns the address of the HTTP health check, "" without
// Config.HealthAddr.
func (s *Server) HealthAddr() string {
	if s.healthLn == nil {
		return ""
	}
	return s.healthLn.Addr().String()
}

func (s *Server) setServing(st healthgrpc.HealthCheckResponse_ServingStatus) {
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(ServiceName, st)
}

// Shutdown stops the task. By default it drains: the health service
// reports NOT_SERVING at once and the server sends GOAWAY, so clients open
// no new calls on its connections; calls in flight finish, and streams go
// on for cfg.Drain and are then ended with UNAVAILABLE and the trailer
// x-meshsim-end: draining. Shutdown returns once every call has ended. If
// ctx ends first, the remaining calls are cut off as by Close and Shutdown
// returns ctx's error. With cfg.Abrupt, Shutdown is Close.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.cfg.Abrupt {
		return s.Close()
	}
	s.beginDrain()
	stopped := make(chan struct{})
	go func() {
		s.gs.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(s.cfg.Drain)
	defer t.Stop()
	var err error
	select {
	case <-t.C:
		s.endStreams()
		select {
		case <-stopped:
		case <-ctx.Done():
			err = ctx.Err()
		}
	case <-stopped:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.ln.reset()
		s.gs.Stop()
		<-stopped
	}
	s.closeHealth(ctx)
	if err != nil {
		return fmt.Errorf("grpcapp: shutting down %s: %w", s.self, err)
	}
	return nil
}

// Close stops the task abruptly, as a killed process whose network goes
// away: the listener closes and every connection is reset (TCP RST) at
// once, so calls and streams in flight break without a status from the
// task.
func (s *Server) Close() error {
	s.beginDrain()
	err := s.ln.reset()
	s.gs.Stop()
	s.endStreams()
	if s.healthSrv != nil {
		s.healthSrv.Close()
	}
	if err != nil {
		return fmt.Errorf("grpcapp: closing %s: %w", s.self, err)
	}
	return nil
}

func (s *Server) beginDrain() {
	s.draining.Store(true)
	if s.readyTimer != nil {
		s.readyTimer.Stop()
	}
	s.health.Shutdown()
}

func (s *Server) endStreams() { s.drainOnce.Do(func() { close(s.drainEnd) }) }

func (s *Server) closeHealth(ctx context.Context) {
	if s.healthSrv == nil {
		return
	}
	if err := s.healthSrv.Shutdown(ctx); err != nil {
		s.healthSrv.Close()
	}
}

// serveHealth answers sampleapp.HealthPath as sim/sampleapp does.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(contract.HeaderVersion, s.cfg.Version)
	w.Header().Set(contract.HeaderTask, s.cfg.TaskID)
	if r.URL.Path != sampleapp.HealthPath {
		http.NotFound(w, r)
		return
	}
	sampleapp.WriteHealth(w, s.cfg.FailHealth, s.draining.Load(), s.ready)
}

// isEcho reports whether method is one of the Echo service's.
func isEcho(method string) bool { return strings.HasPrefix(method, "/"+ServiceName+"/") }

// checkReady fails the Echo service's calls while the task is starting.
func (s *Server) checkReady(method string) error {
	if isEcho(method) && time.Now().Before(s.ready) {
		return status.Error(codes.Unavailable, "meshsim: "+s.self+" is starting: not ready yet")
	}
	return nil
}

// unaryInterceptor sets the header metadata of every unary call.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := grpc.SetHeader(ctx, s.header); err != nil {
		return nil, err
	}
	if err := s.checkReady(info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// streamInterceptor sends the header metadata of every stream at once, so
// that a client knows who serves it before the first message.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := s.checkReady(info.FullMethod); err != nil {
		ss.SetHeader(s.header) // sent with the status
		return err
	}
	if isEcho(info.FullMethod) {
		if err := ss.SendHeader(s.header); err != nil {
			return err
		}
	} else if err := ss.SetHeader(s.header); err != nil {
		return err
	}
	return handler(srv, ss)
}

// drained ends a stream because the task is shutting down.
func (s *Server) drained(stream grpc.ServerStream, next uint64) error {
	stream.SetTrailer(metadata.Pairs(contract.MetadataEnd, EndDraining, contract.MetadataNextSeq, strconv.FormatUint(next, 10)))
	return status.Errorf(codes.Unavailable, "meshsim: %s is shutting down; resume at seq %d", s.self, next)
}

// echoService implements echopb.EchoServer.
type echoService struct {
	echopb.UnimplementedEchoServer
	s *Server
}

// Echo greets the caller after the call's cost (cfg.Latency, LatencyDist,
// CPU, in one of cfg.Concurrency slots), failing cfg.ErrorRate of the
// calls with INTERNAL.
func (e *echoService) Echo(ctx context.Context, req *echopb.EchoRequest) (*echopb.EchoResponse, error) {
	s := e.s
	if !s.cost.Acquire(ctx) {
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	defer s.cost.Release()
	if !s.cost.Spend(ctx) {
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if s.cfg.ErrorRate > 0 && rand.Float64() < s.cfg.ErrorRate {
		return nil, status.Errorf(codes.Internal, "injected error (error rate %v)", s.cfg.ErrorRate)
	}
	return &echopb.EchoResponse{
		Message: fmt.Sprintf("Hello, %s-san! (Said %s, Version %s)", req.GetName(), s.taskIP, s.cfg.Version),
		Service: s.cfg.Service,
		Version: s.cfg.Version,
		Task:    s.cfg.TaskID,
	}, nil
}

// feed is the schedule of one subscription: message n falls due at
// origin + n·interval, and the task retains the last `retained` messages
// that fell due.
type feed struct {
	origin   time.Time
	interval time.Duration
	retained uint64
}

// lastDue is the highest sequence number due at t (0 before the first).
func (f feed) lastDue(t time.Time) uint64 {
	if !t.After(f.origin) {
		return 0
	}
	return uint64(t.Sub(f.origin) / f.interval)
}

// oldest is the lowest sequence number still retained when last is the
// last one due.
func (f feed) oldest(last uint64) uint64 {
	if last < f.retained {
		return 1
	}
	return last - f.retained + 1
}

// due is when message n falls due.
func (f feed) due(n uint64) time.Time { return f.origin.Add(time.Duration(n) * f.interval) }

// Subscribe streams the feed the request names, from its from_seq: first
// the messages already due that the task retains (older ones are lost to
// the subscriber), then each message as it falls due.
func (e *echoService) Subscribe(req *echopb.SubscribeRequest, stream echopb.Echo_SubscribeServer) error {
	s := e.s
	f := feed{origin: time.Now(), interval: s.cfg.FeedInterval}
	if d := req.GetInterval(); d != nil {
		if err := d.CheckValid(); err != nil {
			return status.Errorf(codes.InvalidArgument, "interval: %v", err)
		}
		f.interval = d.AsDuration()
		if f.interval < minFeedInterval {
			return status.Errorf(codes.InvalidArgument, "interval %v is below %v", f.interval, minFeedInterval)
		}
	}
	if o := req.GetOrigin(); o != nil {
		if err := o.CheckValid(); err != nil {
			return status.Errorf(codes.InvalidArgument, "origin: %v", err)
		}
		f.origin = o.AsTime()
	}
	f.retained = max(uint64(s.cfg.FeedRetention/f.interval), 1)
	next := max(req.GetFromSeq(), 1)
	if next > uint64(math.MaxInt64/f.interval) {
		return status.Errorf(codes.InvalidArgument, "from_seq %d is beyond the feed's end", next)
	}

	ctx := stream.Context()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		last := f.lastDue(time.Now())
		next = max(next, f.oldest(last))
		for ; next <= last; next++ {
			select {
			case <-s.drainEnd:
				return s.drained(stream, next)
			default:
			}
			if err := stream.Send(&echopb.FeedMessage{
				Seq:     next,
				Due:     timestamppb.New(f.due(next)),
				Sent:    timestamppb.Now(),
				Version: s.cfg.Version,
				Task:    s.cfg.TaskID,
			}); err != nil {
				return err
			}
		}
		if next > uint64(math.MaxInt64/f.interval) {
			return nil // the end of time: the feed is complete
		}
		timer.Reset(time.Until(f.due(next)))
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.drainEnd:
			return s.drained(stream, next)
		case <-timer.C:
		}
	}
}

// Chat echoes each message with its sequence number until the client
// closes its side.
func (e *echoService) Chat(stream echopb.Echo_ChatServer) error {
	s := e.s
	ctx := stream.Context()
	in := make(chan *echopb.ChatMessage)
	recvErr := make(chan error, 1)
	// The receiver ends when Recv fails, which it does once the handler
	// has returned and the stream is done.
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	var next uint64 = 1
	for {
		select {
		case m := <-in:
			next = m.GetSeq() + 1
			if err := stream.Send(&echopb.ChatMessage{
				Seq:     m.GetSeq(),
				Sent:    timestamppb.Now(),
				Version: s.cfg.Version,
				Task:    s.cfg.TaskID,
			}); err != nil {
				return err
			}
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-s.drainEnd:
			return s.drained(stream, next)
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// trackingListener remembers the connections it accepted, so that they can
// be reset at once.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		resetConn(c)
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// reset closes the listener and resets every connection it accepted.
func (l *trackingListener) reset() error {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = make(map[net.Conn]struct{})
	l.mu.Unlock()
	err := l.Listener.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil // already closed by a graceful stop
	}
	for c := range conns {
		resetConn(c.(*trackedConn).Conn)
	}
	return err
}

// resetConn closes c with an RST instead of a FIN, as the kernel does for
// a connection whose process and network went away with data unread.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
