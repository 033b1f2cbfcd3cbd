package sidecar_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll/polltest"
	"github.com/meshsim/meshsim/sim/sidecar"
	sidecaradmin "github.com/meshsim/meshsim/sim/sidecar/admin"
	"github.com/meshsim/meshsim/sim/xds"
)

const (
	echoSvc       = "echo.bookingapp.local"
	echoAuthority = "echo.bookingapp.local:9090"
	testService   = "grpc.testing.TestService"
)

// echoBackend is a test-only gRPC server on loopback implementing the
// grpc testing service: UnaryCall answers with the serving version (in
// server_id) and task (in hostname); StreamingOutputCall sends one message
// per response parameter, its body "version/task/index"; FullDuplexCall
// answers every message with its payload prefixed by "version/task/".
// Every call sends the header x-meshsim-version and the trailer
// x-meshsim-task. A request whose response_status is set ends with that
// status (a streaming call after the messages before it; a unary call
// trailers-only).
type echoBackend struct {
	testpb.UnimplementedTestServiceServer
	version, task string
	srv           *grpc.Server
	lis           *trackingListener
	port          uint32

	calls atomic.Int64
	// unary, when set, runs before UnaryCall answers; an error is
	// returned as the call's status.
	unary func(ctx context.Context, n int64) error
	// draining is closed before a graceful stop: open streams end with
	// UNAVAILABLE "server draining".
	draining chan struct{}
	// deadlines receives the time left on each unary call's deadline
	// (-1 when it has none), when not nil.
	deadlines chan time.Duration
}

func startEchoBackend(t testing.TB, version, task string, opts ...grpc.ServerOption) *echoBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveEcho(t, ln, version, task, opts...)
}

func serveEcho(t testing.TB, ln net.Listener, version, task string, opts ...grpc.ServerOption) *echoBackend {
	b := &echoBackend{
		version: version, task: task,
		srv:      grpc.NewServer(opts...),
		lis:      &trackingListener{Listener: ln, conns: make(map[net.Conn]bool)},
		port:     uint32(ln.Addr().(*net.TCPAddr).Port),
		draining: make(chan struct{}),
	}
	testpb.RegisterTestServiceServer(b.srv, b)
	go b.srv.Serve(b.lis)
	t.Cleanup(b.srv.Stop)
	return b
}

func (b *echoBackend) endpoint() xds.Endpoint {
	return xds.Endpoint{InstanceID: b.task, Address: "127.0.0.1", Port: b.port}
}

func (b *echoBackend) who() string { return b.version + "/" + b.task + "/" }

func (b *echoBackend) metadata(ctx context.Context) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-meshsim-version", b.version))
	grpc.SetTrailer(ctx, metadata.Pairs("x-meshsim-task", b.task))
}

func (b *echoBackend) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	n := b.calls.Add(1)
	// Errors go out trailers-only, with no header metadata before them, as
	// a proxy can retry only those.
	grpc.SetTrailer(ctx, metadata.Pairs("x-meshsim-task", b.task))
	if b.deadlines != nil {
		left := time.Duration(-1)
		if d, ok := ctx.Deadline(); ok {
			left = time.Until(d)
		}
		b.deadlines <- left
	}
	if b.unary != nil {
		if err := b.unary(ctx, n); err != nil {
			return nil, err
		}
	}
	if s := req.GetResponseStatus(); s != nil {
		return nil, status.Error(codes.Code(s.GetCode()), s.GetMessage())
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-meshsim-version", b.version))
	return &testpb.SimpleResponse{ServerId: b.version, Hostname: b.task, Payload: req.GetPayload()}, nil
}

func (b *echoBackend) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, st grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	b.calls.Add(1)
	b.metadata(st.Context())
	for i, p := range req.GetResponseParameters() {
		if d := time.Duration(p.GetIntervalUs()) * time.Microsecond; d > 0 {
			select {
			case <-time.After(d):
			case <-b.draining:
				return status.Error(codes.Unavailable, "server draining")
			case <-st.Context().Done():
				return st.Context().Err()
			}
		}
		body := b.who() + strconv.Itoa(i)
		if size := int(p.GetSize()); size > len(body) {
			body += strings.Repeat("x", size-len(body))
		}
		if err := st.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(body)}}); err != nil {
			return err
		}
	}
	if s := req.GetResponseStatus(); s != nil {
		return status.Error(codes.Code(s.GetCode()), s.GetMessage())
	}
	return nil
}

func (b *echoBackend) FullDuplexCall(st grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	b.calls.Add(1)
	b.metadata(st.Context())
	reqs := make(chan *testpb.StreamingOutputCallRequest)
	errc := make(chan error, 1)
	go func() {
		for {
			req, err := st.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case reqs <- req:
			case <-st.Context().Done():
				return
			}
		}
	}()
	for {
		select {
		case <-b.draining:
			return status.Error(codes.Unavailable, "server draining")
		case err := <-errc:
			if err == io.EOF {
				return nil
			}
			return err
		case req := <-reqs:
			if s := req.GetResponseStatus(); s != nil {
				return status.Error(codes.Code(s.GetCode()), s.GetMessage())
			}
			body := append([]byte(b.who()), req.GetPayload().GetBody()...)
			if err := st.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: body}}); err != nil {
				return err
			}
		}
	}
}

// stopGracefully ends the backend's streams with UNAVAILABLE "server
// draining" and stops it with GOAWAY, as a task draining on SIGTERM does.
func (b *echoBackend) stopGracefully() {
	close(b.draining)
	b.srv.GracefulStop()
}

// kill drops the backend's connections with a TCP reset, as when its
// process is killed.
func (b *echoBackend) kill() {
	b.lis.kill()
	b.srv.Stop()
}

// trackingListener records accepted connections so that they can be
// reset.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns[c] = true
	l.mu.Unlock()
	return c, nil
}

func (l *trackingListener) kill() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
	}
}

// echoWorld is home → echo router → echo-v1 / echo-v2 (grpc). The router's
// routes are routes, or one route "echo" with weights w1 and w2.
func echoWorld(v1, v2 []xds.Endpoint, w1, w2 uint32, routes ...xds.Route) xds.World {
	if len(routes) == 0 {
		routes = []xds.Route{{
			Name: "echo", Protocol: xds.GRPC,
			Targets: []xds.WeightedTarget{{VirtualNode: "echo-v1", Weight: w1}, {VirtualNode: "echo-v2", Weight: w2}},
		}}
	}
	grpcListener := []xds.Listener{{Port: 9090, Protocol: xds.GRPC}}
	return xds.World{Meshes: []xds.Mesh{{
		Name: mesh,
		VirtualNodes: []xds.VirtualNode{
			{Name: "home", Listeners: []xds.Listener{{Port: 8080, Protocol: xds.HTTP}}, Backends: []string{echoSvc}},
			{Name: "echo-v1", Listeners: grpcListener, Endpoints: v1},
			{Name: "echo-v2", Listeners: grpcListener, Endpoints: v2},
		},
		VirtualServices: []xds.VirtualService{{Name: echoSvc, ProviderRouter: "echo-router"}},
		VirtualRouters:  []xds.VirtualRouter{{Name: "echo-router", Listeners: grpcListener, Routes: routes}},
	}}}
}

func endpoints(bs ...*echoBackend) []xds.Endpoint {
	var eps []xds.Endpoint
	for _, b := range bs {
		eps = append(eps, b.endpoint())
	}
	return eps
}

// startEcho starts a control plane serving w and the home node's sidecar,
// and returns a gRPC client of the echo service through its egress
// listener.
func startEcho(t testing.TB, w xds.World) (*controlPlane, *sidecar.Proxy, testpb.TestServiceClient, *grpc.ClientConn) {
	t.Helper()
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
	conn := dialSidecar(t, p.EgressAddr(), echoAuthority)
	return cp, p, testpb.NewTestServiceClient(conn), conn
}

func dialSidecar(t testing.TB, addr, authority string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority(authority),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// chat sends one message on a bidi stream and returns the echo.
func chat(st grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse], msg string) (string, error) {
	// Send reports an ended stream as io.EOF; Recv then has its status.
	if err := st.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(msg)}}); err != nil && err != io.EOF {
		return "", fmt.Errorf("send %q: %w", msg, err)
	}
	res, err := st.Recv()
	if err != nil {
		return "", err
	}
	return string(res.GetPayload().GetBody()), nil
}

func TestGRPCThroughSidecar(t *testing.T) {
	v1 := startEchoBackend(t, "v1", "t1")
	_, _, c, _ := startEcho(t, echoWorld(endpoints(v1), nil, 100, 0))
	ctx := testCtx(t)

	t.Run("unary", grpcUnaryThrough(ctx, c))
	t.Run("unary status and trailers", grpcUnaryStatusThrough(ctx, c))
	t.Run("large message", grpcLargeMessageThrough(ctx, c))
	t.Run("server streaming", grpcServerStreamThrough(ctx, c))
	t.Run("bidi ping-pong", grpcBidiPingPongThrough(ctx, c))
	t.Run("bidi status", grpcBidiStatusThrough(ctx, c))
}

// grpcUnaryThrough tests a unary call and its attribution header and trailer through the sidecar's client c.
func grpcUnaryThrough(ctx context.Context, c testpb.TestServiceClient) func(*testing.T) {
	return func(t *testing.T) {
		var header, trailer metadata.MD
		res, err := c.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hi")}},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		if res.GetServerId() != "v1" || string(res.GetPayload().GetBody()) != "hi" {
			t.Errorf("response = %v", res)
		}
		if got := header.Get("x-meshsim-version"); len(got) != 1 || got[0] != "v1" {
			t.Errorf("header x-meshsim-version = %v", got)
		}
		if got := header.Get("x-meshsim-proxy"); len(got) != 1 || got[0] != contract.NodeID(mesh, "home") {
			t.Errorf("header x-meshsim-proxy = %v", got)
		}
		if got := trailer.Get("x-meshsim-task"); len(got) != 1 || got[0] != "t1" {
			t.Errorf("trailer x-meshsim-task = %v", got)
		}
	}
}

// grpcUnaryStatusThrough tests a unary call's status as the backend sent it, with trailers through the sidecar's client c.
func grpcUnaryStatusThrough(ctx context.Context, c testpb.TestServiceClient) func(*testing.T) {
	return func(t *testing.T) {
		var trailer metadata.MD
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "no such movie: 42"}},
			grpc.Trailer(&trailer))
		if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "no such movie: 42" {
			t.Errorf("status = %v, want NotFound as the backend sent it", err)
		}
		if got := trailer.Get("x-meshsim-task"); len(got) != 1 || got[0] != "t1" {
			t.Errorf("trailer x-meshsim-task = %v", got)
		}
	}
}

// grpcLargeMessageThrough tests a 3 MB message, many HTTP/2 frames through the sidecar's client c.
func grpcLargeMessageThrough(ctx context.Context, c testpb.TestServiceClient) func(*testing.T) {
	return func(t *testing.T) {
		body := strings.Repeat("0123456789", 300_000) // 3 MB, many HTTP/2 frames
		res, err := c.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(body)}}, grpc.MaxCallSendMsgSize(8<<20))
		if err != nil {
			t.Fatal(err)
		}
		if string(res.GetPayload().GetBody()) != body {
			t.Errorf("echoed %d bytes, want the %d sent", len(res.GetPayload().GetBody()), len(body))
		}
	}
}

// grpcServerStreamThrough tests a server stream of 50 messages and its final status and trailer through the sidecar's client c.
func grpcServerStreamThrough(ctx context.Context, c testpb.TestServiceClient) func(*testing.T) {
	return func(t *testing.T) {
		params := make([]*testpb.ResponseParameters, 50)
		for i := range params {
			params[i] = &testpb.ResponseParameters{IntervalUs: 1000}
		}
		st, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
			ResponseParameters: params,
			ResponseStatus:     &testpb.EchoStatus{Code: int32(codes.FailedPrecondition), Message: "end of feed"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range params {
			res, err := st.Recv()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if got, want := string(res.GetPayload().GetBody()), "v1/t1/"+strconv.Itoa(i); got != want {
				t.Fatalf("message %d = %q, want %q", i, got, want)
			}
		}
		_, err = st.Recv()
		if s := status.Convert(err); s.Code() != codes.FailedPrecondition || s.Message() != "end of feed" {
			t.Errorf("end of stream: %v, want FailedPrecondition end of feed", err)
		}
		wantTaskTrailer(t, st.Trailer(), "t1")
	}
}

// grpcBidiPingPongThrough tests a bidi stream, each message answered before the next is sent through the sidecar's client c.
func grpcBidiPingPongThrough(ctx context.Context, c testpb.TestServiceClient) func(*testing.T) {
	return func(t *testing.T) {
		// Each message is answered before the next is sent: a proxy that
		// buffered either direction would stall here.
		st, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			got, err := chat(st, strconv.Itoa(i))
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if want := "v1/t1/" + strconv.Itoa(i); got != want {
				t.Fatalf("message %d = %q, want %q", i, got, want)
			}
		}
		if h, err := st.Header(); err != nil || len(h.Get("x-meshsim-version")) != 1 {
			t.Errorf("header = %v, %v", h, err)
		}
		if err := st.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != io.EOF {
			t.Errorf("after CloseSend: %v, want EOF (status OK)", err)
		}
		wantTaskTrailer(t, st.Trailer(), "t1")
	}
}

// grpcBidiStatusThrough tests a bidi stream's status as the backend sent it through the sidecar's client c.
func grpcBidiStatusThrough(ctx context.Context, c testpb.TestServiceClient) func(*testing.T) {
	return func(t *testing.T) {
		st, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chat(st, "first"); err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.ResourceExhausted), Message: "quota"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != "quota" {
			t.Errorf("status = %v, want ResourceExhausted quota", err)
		}
	}
}

func TestGRPCIngressReachesLocalApp(t *testing.T) {
	ip := loopbackIP(t)
	// The application listens on the task's address at its listener port.
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "9090"))
	if err != nil {
		t.Fatal(err)
	}
	serveEcho(t, ln, "v1", "local")
	w := echoWorld(nil, nil, 100, 0)
	w.Meshes[0].VirtualNodes[1].Listeners[0].IdleTimeoutMillis = 60_000
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, contract.NodeID(mesh, "echo-v1"), ip)
	c := testpb.NewTestServiceClient(dialSidecar(t, p.IngressAddr(), "whatever:15000"))
	ctx := testCtx(t)
	st, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if got, err := chat(st, strconv.Itoa(i)); err != nil || got != "v1/local/"+strconv.Itoa(i) {
			t.Fatalf("message %d through ingress: %q, %v", i, got, err)
		}
	}
	st.CloseSend()
	if _, err := st.Recv(); err != io.EOF {
		t.Errorf("end: %v", err)
	}
}

func TestGRPCRouteMatches(t *testing.T) {
	v1, v2 := startEchoBackend(t, "v1", "t1"), startEchoBackend(t, "v2", "t2")
	to := func(node string) []xds.WeightedTarget { return []xds.WeightedTarget{{VirtualNode: node, Weight: 1}} }
	prio := func(p int) *int { return &p }
	routes := []xds.Route{
		{Name: "method", Priority: prio(0), Protocol: xds.GRPC, GRPCService: testService, GRPCMethod: "StreamingOutputCall", Targets: to("echo-v2")},
		{Name: "tenant", Priority: prio(1), Protocol: xds.GRPC, GRPCService: testService, Targets: to("echo-v2"),
			Headers: []xds.HeaderMatch{{Name: "tenant", Exact: "acme"}}},
		{Name: "region", Priority: prio(2), Protocol: xds.GRPC, Targets: to("echo-v2"),
			Headers: []xds.HeaderMatch{{Name: "region", Prefix: "eu-"}, {Name: "build", Suffix: "-rc"}}},
		{Name: "user", Priority: prio(3), Protocol: xds.GRPC, Targets: to("echo-v2"),
			Headers: []xds.HeaderMatch{{Name: "user", Regex: "beta-[0-9]+"}}},
		{Name: "shard", Priority: prio(4), Protocol: xds.GRPC, Targets: to("echo-v2"),
			Headers: []xds.HeaderMatch{{Name: "shard", Range: &xds.MatchRange{Start: 10, End: 20}}}},
		{Name: "not-internal", Priority: prio(5), Protocol: xds.GRPC, Targets: to("echo-v2"),
			Headers: []xds.HeaderMatch{{Name: "caller", Invert: true, Exact: "internal"}, {Name: "caller"}}},
		{Name: "service", Priority: prio(6), Protocol: xds.GRPC, GRPCService: testService, Targets: to("echo-v1")},
	}
	_, _, c, conn := startEcho(t, echoWorld(endpoints(v1), endpoints(v2), 1, 0, routes...))
	ctx := testCtx(t)

	tests := []struct {
		name string
		md   []string
		want string
	}{
		{"no metadata", nil, "v1"},
		{"tenant exact", []string{"tenant", "acme"}, "v2"},
		{"tenant other", []string{"tenant", "acme-corp"}, "v1"},
		{"prefix and suffix", []string{"region", "eu-west-1", "build", "42-rc"}, "v2"},
		{"prefix without suffix", []string{"region", "eu-west-1", "build", "42"}, "v1"},
		{"regex", []string{"user", "beta-17"}, "v2"},
		{"regex is anchored", []string{"user", "xbeta-17"}, "v1"},
		{"range start", []string{"shard", "10"}, "v2"},
		{"range end is exclusive", []string{"shard", "20"}, "v1"},
		{"range not a number", []string{"shard", "ten"}, "v1"},
		{"invert", []string{"caller", "web"}, "v2"},
		{"inverted match fails", []string{"caller", "internal"}, "v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cctx := metadata.AppendToOutgoingContext(ctx, tt.md...)
			res, err := c.UnaryCall(cctx, &testpb.SimpleRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if res.GetServerId() != tt.want {
				t.Errorf("served by %s, want %s", res.GetServerId(), tt.want)
			}
		})
	}

	t.Run("method", func(t *testing.T) {
		st, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Recv()
		if err != nil || !strings.HasPrefix(string(res.GetPayload().GetBody()), "v2/") {
			t.Errorf("StreamingOutputCall: %v %v, want it served by v2", res, err)
		}
	})
	t.Run("other service", func(t *testing.T) {
		err := conn.Invoke(ctx, "/other.Service/Call", &testpb.SimpleRequest{}, &testpb.SimpleResponse{})
		if st := status.Convert(err); st.Code() != codes.Unimplemented || st.Message() != "route not found" {
			t.Errorf("unrouted call: %v, want Unimplemented route not found", err)
		}
	})
}

func TestGRPCWeightedSplit(t *testing.T) {
	v1, v2 := startEchoBackend(t, "v1", "t1"), startEchoBackend(t, "v2", "t2")
	_, _, c, _ := startEcho(t, echoWorld(endpoints(v1), endpoints(v2), 75, 25))
	// Not testCtx's 10 s: how long the calls take depends on the machine;
	// only go test's own deadline bounds them.
	ctx := t.Context()

	const n = 1000
	counts := make(map[string]int)
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= n {
				res, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
				mu.Lock()
				if err != nil {
					counts[status.Code(err).String()]++
				} else {
					counts[res.GetServerId()]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if counts["v1"]+counts["v2"] != n {
		t.Fatalf("responses = %v, want %d from v1 and v2", counts, n)
	}
	within3Sigma(t, "v1 share of unary calls", counts["v1"], n, 0.75)

	// A stream is routed once: all its messages come from one backend.
	const streams = 60
	perVersion := make(map[string]int)
	for i := range streams {
		st, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var version string
		for j := range 5 {
			got, err := chat(st, strconv.Itoa(j))
			if err != nil {
				t.Fatal(err)
			}
			v, _, _ := strings.Cut(got, "/")
			if j > 0 && v != version {
				t.Fatalf("stream %d moved from %s to %s", i, version, v)
			}
			version = v
		}
		st.CloseSend()
		perVersion[version]++
	}
	within3Sigma(t, "v1 share of streams", perVersion["v1"], streams, 0.75)
}

// TestGRPCStreamSurvivesWeightChange holds streams while the weights move
// from v1 to v2: the streams stay on v1 and lose nothing, new calls go to
// v2. (That activity keeps a stream open past the idle timeout is
// TestDeadlines, on a fake clock: over real sockets a busy machine can
// stall a stream longer than any idle timeout short enough for a test.)
func TestGRPCStreamSurvivesWeightChange(t *testing.T) {
	v1, v2 := startEchoBackend(t, "v1", "t1"), startEchoBackend(t, "v2", "t2")
	world := func(w1, w2 uint32) xds.World {
		return echoWorld(endpoints(v1), endpoints(v2), w1, w2)
	}
	cp, _, c, _ := startEcho(t, world(100, 0))
	ctx := testCtx(t)

	const messages, interval = 30, 50 * time.Millisecond
	bidi, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	params := make([]*testpb.ResponseParameters, messages)
	for i := range params {
		params[i] = &testpb.ResponseParameters{IntervalUs: int32(interval / time.Microsecond)}
	}
	feed, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
	if err != nil {
		t.Fatal(err)
	}
	feedErr := make(chan error, 1)
	go func() { feedErr <- readFeed(feed, messages, "v1/t1/") }()

	changed := false
	for i := range messages {
		if i == messages/3 {
			cp.update(t, world(0, 100), resource.RouteType)
			changed = true
			res, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
			if err != nil || res.GetServerId() != "v2" {
				t.Fatalf("unary call after the change: %v %v, want v2", res, err)
			}
		}
		got, err := chat(bidi, strconv.Itoa(i))
		if err != nil {
			t.Fatalf("bidi message %d (weights changed: %v): %v", i, changed, err)
		}
		if want := "v1/t1/" + strconv.Itoa(i); got != want {
			t.Fatalf("bidi message %d = %q, want %q", i, got, want)
		}
		time.Sleep(interval)
	}
	if err := bidi.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := bidi.Recv(); err != io.EOF {
		t.Errorf("bidi end: %v, want EOF", err)
	}
	if err := <-feedErr; err != nil {
		t.Error(err)
	}
	st, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := chat(st, "new"); err != nil || got != "v2/t2/new" {
		t.Errorf("a stream opened after the change: %q %v, want it on v2", got, err)
	}
}

func TestGRPCTimeouts(t *testing.T) {
	t.Run("idle before the response", func(t *testing.T) {
		_, c, ctx := setupTimeoutRoute(t, xds.Route{Protocol: xds.GRPC, IdleTimeoutMillis: 200})
		st, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.Recv() // nothing sent, nothing answered
		if s := status.Convert(err); s.Code() != codes.Unknown || s.Message() != "stream timeout" {
			t.Errorf("idle stream: %v, want Unknown stream timeout (Envoy's 408)", err)
		}
	})
	t.Run("idle after the response started", func(t *testing.T) {
		_, c, ctx := setupTimeoutRoute(t, xds.Route{Protocol: xds.GRPC, IdleTimeoutMillis: 200})
		st, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The last activity is after start: the idle timeout cannot end
		// the stream before start+200ms, however slow the machine.
		start := time.Now()
		if _, err := chat(st, "hello"); err != nil {
			t.Fatal(err)
		}
		_, err = st.Recv()
		if !isRST(err) {
			t.Errorf("idle stream: %v, want it reset", err)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("reset after %v, before the idle timeout", d)
		}
	})
	t.Run("grpc per-request timeout bounds a stream", func(t *testing.T) {
		_, c, ctx := setupTimeoutRoute(t, xds.Route{Protocol: xds.GRPC, PerRequestTimeoutMillis: 300})
		began := time.Now()
		feed, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: feedParams(40, 50*time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for {
			if _, err = feed.Recv(); err != nil {
				break
			}
			got++
		}
		// The backend waits at least 50 ms before each message, so at most
		// 6 can come before the 300 ms timeout (a busy machine sends
		// fewer); the reset cannot come before it.
		if took := time.Since(began); !isRST(err) || got > 6 || took < 300*time.Millisecond {
			t.Errorf("after %d messages and %v: %v; want a reset after at most 6 messages, at 300 ms or later", got, took, err)
		}
	})
	t.Run("grpc per-request timeout before the response", func(t *testing.T) {
		v1, c, ctx := setupTimeoutRoute(t, xds.Route{Protocol: xds.GRPC, PerRequestTimeoutMillis: 300})
		v1.unary = hangUnary
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
		if s := status.Convert(err); s.Code() != codes.DeadlineExceeded || s.Message() != "downstream duration timeout" {
			t.Errorf("hanging call: %v, want DeadlineExceeded downstream duration timeout", err)
		}
	})
	t.Run("grpc deadline is forwarded and capped", testGRPCDeadlineCapped)
	t.Run("grpc default keeps the deadline", testGRPCDefaultDeadline)
	t.Run("http2 route timeout starts at the end of the request", testHTTP2RouteTimeout)
}

// hangUnary is an echoBackend's unary handler that answers nothing before
// the call ends.
func hangUnary(ctx context.Context, _ int64) error {
	<-ctx.Done()
	return ctx.Err()
}

// isRST says whether err is a stream the proxy reset.
func isRST(err error) bool {
	return status.Code(err) == codes.Internal && strings.Contains(err.Error(), "RST_STREAM")
}

// feedParams asks a server stream for n messages, every apart.
func feedParams(n int, every time.Duration) []*testpb.ResponseParameters {
	ps := make([]*testpb.ResponseParameters, n)
	for i := range ps {
		ps[i] = &testpb.ResponseParameters{IntervalUs: int32(every / time.Microsecond)}
	}
	return ps
}

// setupTimeoutRoute starts a backend v1 behind a sidecar with the route rt
// to it, and returns the backend, the sidecar's client and the test's
// context.
func setupTimeoutRoute(t *testing.T, rt xds.Route) (*echoBackend, testpb.TestServiceClient, context.Context) {
	v1 := startEchoBackend(t, "v1", "t1")
	rt.Name, rt.Targets = "echo", []xds.WeightedTarget{{VirtualNode: "echo-v1", Weight: 1}}
	_, _, c, _ := startEcho(t, echoWorld(endpoints(v1), nil, 0, 0, rt))
	return v1, c, testCtx(t)
}

// testGRPCDeadlineCapped tests that the backend sees the smaller of the client's deadline and the
// route's per-request timeout.
func testGRPCDeadlineCapped(t *testing.T) {
	v1, c, ctx := setupTimeoutRoute(t, xds.Route{Protocol: xds.GRPC, PerRequestTimeoutMillis: 700})
	v1.deadlines = make(chan time.Duration, 1)
	// The backend sees at most the smaller of the client's deadline
	// and the cap, and no less than that minus the call's time.
	tests := []struct {
		deadline time.Duration // 0: none
		max      time.Duration
	}{
		{0, 700 * time.Millisecond},
		{400 * time.Millisecond, 400 * time.Millisecond},
		{time.Hour, 700 * time.Millisecond},
	}
	for _, tt := range tests {
		cctx, cancel := context.WithCancel(ctx)
		if tt.deadline > 0 {
			cctx, cancel = context.WithTimeout(ctx, tt.deadline)
		}
		began := time.Now()
		_, err := c.UnaryCall(cctx, &testpb.SimpleRequest{})
		took := time.Since(began)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if left := <-v1.deadlines; left < tt.max-took || left > tt.max {
			t.Errorf("client deadline %v: backend sees %v left, want %v to %v (the call took %v)", tt.deadline, left, tt.max-took, tt.max, took)
		}
	}
}

// testGRPCDefaultDeadline tests that without a per-request timeout the backend sees the client's
// deadline, and a call past it ends DeadlineExceeded.
func testGRPCDefaultDeadline(t *testing.T) {
	began := time.Now() // before the test's 10 s context is made
	v1, c, ctx := setupTimeoutRoute(t, xds.Route{Protocol: xds.GRPC})
	v1.deadlines = make(chan time.Duration, 1)
	if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	if left := <-v1.deadlines; left < 10*time.Second-took || left > 10*time.Second {
		t.Errorf("backend sees %v left of a 10 s deadline (the call took %v)", left, took)
	}
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	v1.unary = hangUnary
	if _, err := c.UnaryCall(cctx, &testpb.SimpleRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call past its deadline: %v, want DeadlineExceeded", err)
	}
	<-v1.deadlines
}

// testHTTP2RouteTimeout tests that an http2 route's timeout starts once the request is complete.
func testHTTP2RouteTimeout(t *testing.T) {
	// Envoy's route timeout bounds the response once the request is
	// complete: it never starts for a bidi stream the client keeps
	// open, and cuts a server stream whose request ended.
	_, c, ctx := setupTimeoutRoute(t, xds.Route{Protocol: xds.HTTP2, PerRequestTimeoutMillis: 300})
	bidi, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 { // 600 ms
		if _, err := chat(bidi, strconv.Itoa(i)); err != nil {
			t.Fatalf("open bidi stream, message %d: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	bidi.CloseSend()
	if _, err := bidi.Recv(); err != io.EOF {
		t.Errorf("bidi end: %v", err)
	}
	feed, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: feedParams(40, 50*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = feed.Recv()
	}
	if !isRST(err) {
		t.Errorf("server stream: %v, want it reset by the route timeout", err)
	}
}

func TestGRPCRetries(t *testing.T) {
	everyOther := func(code codes.Code) func(context.Context, int64) error {
		return func(_ context.Context, n int64) error {
			if n%2 == 1 {
				return status.Error(code, "flaky")
			}
			return nil
		}
	}
	tests := []struct {
		name   string
		retry  *xds.RetryPolicy
		fail   codes.Code
		wantOK bool
	}{
		{"App Mesh default retries UNAVAILABLE", nil, codes.Unavailable, true},
		{"App Mesh default does not retry INTERNAL", nil, codes.Internal, false},
		{"internal event", &xds.RetryPolicy{MaxRetries: 1, PerRetryTimeoutMillis: 1000, GRPCRetryEvents: []string{"internal"}}, codes.Internal, true},
		{"a policy replaces the default", &xds.RetryPolicy{MaxRetries: 1, PerRetryTimeoutMillis: 1000, GRPCRetryEvents: []string{"internal"}}, codes.Unavailable, false},
		{"resource-exhausted event", &xds.RetryPolicy{MaxRetries: 2, PerRetryTimeoutMillis: 1000, GRPCRetryEvents: []string{"cancelled", "resource-exhausted"}}, codes.ResourceExhausted, true},
		{"deadline-exceeded event", &xds.RetryPolicy{MaxRetries: 2, PerRetryTimeoutMillis: 1000, GRPCRetryEvents: []string{"deadline-exceeded"}}, codes.DeadlineExceeded, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v1 := startEchoBackend(t, "v1", "t1")
			v1.unary = everyOther(tt.fail)
			w := echoWorld(endpoints(v1), nil, 1, 0)
			w.Meshes[0].VirtualRouters[0].Routes[0].Retry = tt.retry
			_, _, c, _ := startEcho(t, w)
			ctx := testCtx(t)
			failed := 0
			for range 10 {
				_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
				switch {
				case status.Code(err) == tt.fail:
					failed++
				case err != nil:
					t.Fatalf("unexpected error %v", err)
				}
			}
			if tt.wantOK && (failed > 0 || v1.calls.Load() != 20) {
				t.Errorf("%d calls failed, backend saw %d; want 0 failures and 20 attempts", failed, v1.calls.Load())
			}
			if !tt.wantOK && (failed != 5 || v1.calls.Load() != 10) {
				t.Errorf("%d calls failed, backend saw %d; want every other call failed, no retries", failed, v1.calls.Load())
			}
		})
	}

	t.Run("streaming call failing before its response", func(t *testing.T) {
		// The first attempt ends trailers-only with UNAVAILABLE; the retry
		// is sent the same request again.
		var attempts atomic.Int64
		v1 := startEchoBackend(t, "v1", "t1", grpc.StreamInterceptor(
			func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				if attempts.Add(1) == 1 {
					return status.Error(codes.Unavailable, "warming up")
				}
				return handler(srv, ss)
			}))
		_, _, c, _ := startEcho(t, echoWorld(endpoints(v1), nil, 1, 0))
		st, err := c.StreamingOutputCall(testCtx(t), &testpb.StreamingOutputCallRequest{
			ResponseParameters: []*testpb.ResponseParameters{{Size: 100}, {Size: 100}},
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			res, err := st.Recv()
			if err != nil || !strings.HasPrefix(string(res.GetPayload().GetBody()), "v1/t1/"+strconv.Itoa(i)) {
				t.Fatalf("message %d: %v %v", i, res, err)
			}
		}
		if _, err := st.Recv(); err != io.EOF {
			t.Errorf("end: %v", err)
		}
		if attempts.Load() != 2 {
			t.Errorf("%d attempts, want 2", attempts.Load())
		}
	})
}

// TestGRPCBackendStop stops one of two backends under open streams: a
// graceful stop ends its streams with the status it sends, an abrupt one
// resets them; the other backend's streams and new calls are unaffected.
func TestGRPCBackendStop(t *testing.T) {
	for _, graceful := range []bool{true, false} {
		name := "abrupt"
		if graceful {
			name = "graceful"
		}
		t.Run(name, func(t *testing.T) {
			a, b := startEchoBackend(t, "v1", "task-a"), startEchoBackend(t, "v1", "task-b")
			_, _, c, _ := startEcho(t, echoWorld(endpoints(a, b), nil, 1, 0))
			ctx := testCtx(t)

			type stream struct {
				grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]
				task string
			}
			var streams []stream
			for i := range 6 { // round robin: three on each task
				st, err := c.FullDuplexCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got, err := chat(st, "hello")
				if err != nil {
					t.Fatalf("stream %d: %v", i, err)
				}
				streams = append(streams, stream{st, strings.Split(got, "/")[1]})
			}
			for i, st := range streams {
				if want := []string{"task-a", "task-b"}[i%2]; st.task != want {
					t.Fatalf("stream %d on %s, want round robin from task-a", i, st.task)
				}
			}
			// A unary call in flight on task-a (next in turn) when it stops.
			a.unary = func(ctx context.Context, _ int64) error {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-a.draining:
					return status.Error(codes.Unavailable, "server draining")
				}
			}
			type result struct {
				res *testpb.SimpleResponse
				err error
			}
			inflight := make(chan result, 1)
			go func() {
				res, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
				inflight <- result{res, err}
			}()
			polltest.Eventually(t, "three streams and the unary call on task-a", func() bool { return a.calls.Load() >= 4 })

			if graceful {
				a.stopGracefully()
			} else {
				a.kill()
			}
			for i, st := range streams {
				_, err := chat(st, "after")
				switch {
				case st.task == "task-b":
					if err != nil {
						t.Errorf("stream %d on task-b: %v", i, err)
					}
				case graceful:
					if s := status.Convert(err); s.Code() != codes.Unavailable || s.Message() != "server draining" {
						t.Errorf("stream %d on task-a: %v, want the backend's Unavailable server draining", i, err)
					}
				default:
					if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "RST_STREAM") {
						t.Errorf("stream %d on task-a: %v, want a reset", i, err)
					}
				}
			}
			// App Mesh's default retry policy retries the call on task-b:
			// on UNAVAILABLE (graceful) or on the reset (abrupt).
			if r := <-inflight; r.err != nil || r.res.GetHostname() != "task-b" {
				t.Errorf("in-flight unary call: %v %v, want it retried on task-b", r.res, r.err)
			}
			for i := range 20 {
				res, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
				if err != nil || res.GetHostname() != "task-b" {
					t.Fatalf("call %d after the stop: %v %v, want task-b", i, res, err)
				}
			}
		})
	}
}

// TestSidecarCloseDrainsGRPC closes the sidecar under open streams: it
// sends GOAWAY, lets streams that end within the drain timeout finish,
// and cuts the others when it ends.
func TestSidecarCloseDrainsGRPC(t *testing.T) {
	v1 := startEchoBackend(t, "v1", "t1")
	_, p, c, conn := startEcho(t, echoWorld(endpoints(v1), nil, 1, 0))
	ctx := testCtx(t)
	short, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	long, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []grpc.BidiStreamingClient[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]{short, long} {
		if _, err := chat(st, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	start := time.Now()
	go func() {
		p.Close()
		close(closed)
	}()
	// GOAWAY: the channel leaves READY while its streams go on.
	polltest.Eventually(t, "the client to see the GOAWAY", func() bool { return conn.GetState() != connectivity.Ready })
	for i := range 5 {
		if _, err := chat(short, strconv.Itoa(i)); err != nil {
			t.Fatalf("draining: message %d: %v", i, err)
		}
	}
	short.CloseSend()
	if _, err := short.Recv(); err != io.EOF {
		t.Errorf("a stream that ends while draining: %v, want EOF", err)
	}
	select {
	case <-closed:
		if d := time.Since(start); d < time.Second {
			t.Fatalf("Close returned %v after it began while a stream was open, before the 1 s drain timeout", d)
		}
	default:
	}
	_, err = long.Recv()
	if status.Code(err) != codes.Unavailable {
		t.Errorf("a stream open past the drain timeout: %v, want Unavailable", err)
	}
	<-closed
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("Close took %v, want the 1 s drain timeout", d)
	}
	if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err == nil {
		t.Error("a call after Close succeeded")
	}
}

// readFeed reads a server stream of n messages from who, in order, to its
// clean end.
func readFeed(feed grpc.ServerStreamingClient[testpb.StreamingOutputCallResponse], n int, who string) error {
	for i := range n {
		res, err := feed.Recv()
		if err != nil {
			return fmt.Errorf("feed message %d: %w", i, err)
		}
		if got, want := string(res.GetPayload().GetBody()), who+strconv.Itoa(i); got != want {
			return fmt.Errorf("feed message %d = %q, want %q", i, got, want)
		}
	}
	if _, err := feed.Recv(); err != io.EOF {
		return fmt.Errorf("feed end: %v, want EOF", err)
	}
	return nil
}

// TestGRPCMetadataAndStatusPassThrough checks what crosses the sidecar
// besides messages: binary and text metadata both ways, a compressed
// request, and an error status with a non-ASCII message, details and
// trailer metadata, as a transparent HTTP/2 proxy passes them.
func TestGRPCMetadataAndStatusPassThrough(t *testing.T) {
	v1 := startEchoBackend(t, "v1", "t1")
	got := make(chan metadata.MD, 1)
	v1.unary = func(ctx context.Context, _ int64) error {
		md, _ := metadata.FromIncomingContext(ctx)
		got <- md
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-reply-bin", "\x00\xffheader"))
		grpc.SetTrailer(ctx, metadata.Pairs("x-trailer-bin", "\x01trailer", "x-trailer", "text"))
		st, err := status.New(codes.FailedPrecondition, "état: 100% invalide").WithDetails(&testpb.Payload{Body: []byte("detail")})
		if err != nil {
			return err
		}
		return st.Err()
	}
	_, _, client, _ := startEcho(t, echoWorld(endpoints(v1), nil, 1, 0))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-bin", "\x00\x01raw", "x-request", "plain")
	var header, trailer metadata.MD
	_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: bytes.Repeat([]byte("z"), 4096)}},
		grpc.UseCompressor(gzip.Name), grpc.Header(&header), grpc.Trailer(&trailer))
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || st.Message() != "état: 100% invalide" {
		t.Fatalf("status %v %q; want FailedPrecondition with the backend's message", st.Code(), st.Message())
	}
	if d := st.Details(); len(d) != 1 || string(d[0].(*testpb.Payload).GetBody()) != "detail" {
		t.Errorf("details %v; want the backend's Payload", d)
	}
	md := <-got
	if v := md.Get("x-request-bin"); len(v) != 1 || v[0] != "\x00\x01raw" {
		t.Errorf("backend got x-request-bin %q", v)
	}
	if v := md.Get("x-request"); len(v) != 1 || v[0] != "plain" {
		t.Errorf("backend got x-request %q", v)
	}
	// An error goes out trailers-only: the header metadata set before it
	// comes with the trailers.
	all := metadata.Join(header, trailer)
	for k, want := range map[string]string{"x-reply-bin": "\x00\xffheader", "x-trailer-bin": "\x01trailer", "x-trailer": "text"} {
		if v := all.Get(k); len(v) != 1 || v[0] != want {
			t.Errorf("client got %s %q, want %q (header %v, trailer %v)", k, v, want, header, trailer)
		}
	}
}

// TestGRPCFaults sets the sidecar's faults while gRPC calls go through
// it: a dropped call's stream is reset (RST_STREAM, INTERNAL_ERROR), a
// delayed call reaches the backend only after the delay, even when its
// request body came during it, and cleared faults leave calls alone.
func TestGRPCFaults(t *testing.T) {
	b := startEchoBackend(t, "v1", "task-a")
	_, p, c, _ := startEcho(t, echoWorld(endpoints(b), nil, 100, 0))
	ctx := testCtx(t)
	if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	admin := func(set func(ctx context.Context, c *http.Client, addr string) error) {
		t.Helper()
		if err := set(ctx, http.DefaultClient, p.AdminAddr()); err != nil {
			t.Fatal(err)
		}
	}

	admin(func(ctx context.Context, c *http.Client, addr string) error {
		return sidecaradmin.SetDropPercent(ctx, c, addr, 100)
	})
	calls := b.calls.Load()
	for i := range 5 {
		if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); !isRST(err) {
			t.Errorf("call %d with every call dropped: %v, want its stream reset", i, err)
		}
	}
	if n := b.calls.Load() - calls; n != 0 {
		t.Errorf("%d dropped calls reached the backend", n)
	}

	const delay = 300 * time.Millisecond
	admin(sidecaradmin.ClearFaults)
	admin(func(ctx context.Context, c *http.Client, addr string) error {
		return sidecaradmin.SetDelay(ctx, c, addr, delay)
	})
	start := time.Now()
	st, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := chat(st, "during the delay"); err != nil || got != b.who()+"during the delay" {
		t.Fatalf("delayed stream: %q, %v", got, err)
	}
	if d := time.Since(start); d < delay {
		t.Errorf("delayed stream answered after %v, before the %v delay", d, delay)
	}
	_ = st.CloseSend()

	admin(sidecaradmin.ClearFaults)
	if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

// wantTaskTrailer checks that a call's trailer names the task that served
// it (x-meshsim-task, which the backend sets).
func wantTaskTrailer(t *testing.T, trailer metadata.MD, task string) {
	t.Helper()
	if got := trailer.Get("x-meshsim-task"); len(got) != 1 || got[0] != task {
		t.Errorf("trailer x-meshsim-task = %v", got)
	}
}
