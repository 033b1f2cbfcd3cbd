package grpcapp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Service == "" {
		cfg.Service = "echo"
	}
	if cfg.Version == "" {
		cfg.Version = "0.9"
	}
	if cfg.TaskID == "" {
		cfg.TaskID = "task-1"
	}
	cfg.Addr = "127.0.0.1:0"
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"MESHSIM_SERVICE": "echo", "MESHSIM_VERSION": "1.0"}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	cfg, err := ConfigFromEnv(with("MESHSIM_PORT", "9090", "MESHSIM_SHUTDOWN", "abrupt", "MESHSIM_DRAIN", "2s",
		"MESHSIM_HEALTH_PORT", "8081", "MESHSIM_FEED_INTERVAL", "20ms", "MESHSIM_CRASH_AFTER", "1m"), "t1", "127.0.1.5")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Service: "echo", Version: "1.0", TaskID: "t1", Addr: "127.0.1.5:9090", HealthAddr: "127.0.1.5:8081",
		Drain: 2 * time.Second, Abrupt: true, CrashAfter: time.Minute,
		FeedInterval: 20 * time.Millisecond, FeedRetention: DefaultFeedRetention}
	if cfg != want {
		t.Errorf("ConfigFromEnv = %+v, want %+v", cfg, want)
	}
	cfg, err = ConfigFromEnv(base, "t1", "")
	if err != nil || cfg.Addr != ":8080" || cfg.Abrupt || cfg.HealthAddr != "" || cfg.FeedInterval != DefaultFeedInterval {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"MESHSIM_VERSION": "1"}, "MESHSIM_SERVICE is not set"},
		{with("MESHSIM_SHUTDOWN", "later"), "MESHSIM_SHUTDOWN"},
		{with("MESHSIM_HEALTH_PORT", "http"), `MESHSIM_HEALTH_PORT="http"`},
		{with("MESHSIM_FEED_INTERVAL", "0s"), "MESHSIM_FEED_INTERVAL"},
		{with("MESHSIM_FEED_RETENTION", "soon"), "MESHSIM_FEED_RETENTION"},
		{with("MESHSIM_FEED_INTERVAL", "10us"), "below 1ms"},
	} {
		if _, err := ConfigFromEnv(tt.env, "t", ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ConfigFromEnv(%v) = %v, want an error naming %q", tt.env, err, tt.want)
		}
	}
}

func TestEchoHealthReflection(t *testing.T) {
	s := start(t, Config{})
	cc := dial(t, s.Addr())
	ctx := ctxT(t)

	var header metadata.MD
	resp, err := echopb.NewEchoClient(cc).Echo(ctx, &echopb.EchoRequest{Name: "Kaori"}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Hello, Kaori-san! (Said 127.0.0.1, Version 0.9)"; resp.GetMessage() != want {
		t.Errorf("message %q, want %q", resp.GetMessage(), want)
	}
	if resp.GetVersion() != "0.9" || resp.GetTask() != "task-1" || resp.GetService() != "echo" {
		t.Errorf("response %v", resp)
	}
	for k, want := range map[string]string{contract.HeaderVersion: "0.9", contract.HeaderTask: "task-1", contract.HeaderChain: "echo/0.9/task-1"} {
		if got := header.Get(k); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %v, want %q", k, got, want)
		}
	}

	for _, svc := range []string{"", ServiceName} {
		h, err := healthgrpc.NewHealthClient(cc).Check(ctx, &healthgrpc.HealthCheckRequest{Service: svc})
		if err != nil || h.GetStatus() != healthgrpc.HealthCheckResponse_SERVING {
			t.Errorf("health of %q: %v, %v", svc, h, err)
		}
	}

	rs, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range r.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), ServiceName) {
		t.Errorf("reflection lists %v, want %s among them", names, ServiceName)
	}
}

func TestStartDelayAndErrors(t *testing.T) {
	ctx := ctxT(t)
	// A task that is still starting, whatever the machine's speed: its
	// start delay is an hour.
	starting := dial(t, start(t, Config{StartDelay: time.Hour, ErrorRate: 1}).Addr())
	_, err := echopb.NewEchoClient(starting).Echo(ctx, &echopb.EchoRequest{Name: "a"})
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "starting") {
		t.Errorf("while starting: %v, want UNAVAILABLE starting", err)
	}
	h, err := healthgrpc.NewHealthClient(starting).Check(ctx, &healthgrpc.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthgrpc.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health while starting: %v, %v", h, err)
	}

	began := time.Now()
	const delay = 300 * time.Millisecond
	s := start(t, Config{StartDelay: delay, ErrorRate: 1})
	cc := dial(t, s.Addr())
	client := echopb.NewEchoClient(cc)
	// Once the start delay has passed, health reports SERVING (looked at
	// until it does: no margin over the delay to get wrong on a busy
	// machine).
	polltest.Eventually(t, "health to report SERVING once started", func() bool {
		h, err := healthgrpc.NewHealthClient(cc).Check(ctx, &healthgrpc.HealthCheckRequest{})
		return err == nil && h.GetStatus() == healthgrpc.HealthCheckResponse_SERVING
	})
	if since := time.Since(began); since < delay {
		t.Errorf("SERVING %v after the start, inside the start delay %v", since, delay)
	}
	var header metadata.MD
	_, err = client.Echo(ctx, &echopb.EchoRequest{Name: "a"}, grpc.Header(&header))
	if status.Code(err) != codes.Internal || len(header.Get(contract.HeaderVersion)) != 1 {
		t.Errorf("error rate 1: %v (header %v), want INTERNAL with the version", err, header)
	}
}

func TestSubscribe(t *testing.T) {
	const interval = 100 * time.Millisecond
	s := start(t, Config{FeedRetention: time.Second}) // 10 messages retained
	client := echopb.NewEchoClient(dial(t, s.Addr()))
	ctx := ctxT(t)
	tests := []struct {
		name      string
		ago       time.Duration // the feed's origin before now
		from      uint64
		wantFirst uint64
	}{
		{"a new feed starts at 1", 0, 0, 1},
		// 10.05 s into the feed, message 100 is due; 91..100 are retained.
		{"resuming within retention replays", 10050 * time.Millisecond, 95, 95},
		{"resuming beyond retention skips what is gone", 10050 * time.Millisecond, 3, 91},
		{"a future sequence waits for it", 0, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			origin := time.Now().Add(-tt.ago)
			stream, err := client.Subscribe(ctx, &echopb.SubscribeRequest{
				Feed: "f", Origin: timestamppb.New(origin), Interval: durationpb.New(interval), FromSeq: tt.from,
			})
			if err != nil {
				t.Fatal(err)
			}
			header, err := stream.Header()
			if err != nil || len(header.Get(contract.HeaderVersion)) != 1 {
				t.Fatalf("header %v, %v", header, err)
			}
			for i := range uint64(3) {
				m, err := stream.Recv()
				if err != nil {
					t.Fatal(err)
				}
				want := tt.wantFirst + i
				due := origin.Add(time.Duration(want) * interval)
				if m.GetSeq() != want || !m.GetDue().AsTime().Equal(due) || m.GetVersion() != "0.9" || m.GetTask() != "task-1" {
					t.Fatalf("message %d = %v, want seq %d due %v", i, m, want, due)
				}
				if sent := m.GetSent().AsTime(); sent.Before(due) {
					t.Fatalf("message %d sent at %v, before it was due at %v", want, sent, due)
				}
			}
		})
	}
	_, err := client.Subscribe(ctx, &echopb.SubscribeRequest{Interval: durationpb.New(time.Microsecond)})
	if err == nil {
		stream, _ := client.Subscribe(ctx, &echopb.SubscribeRequest{Interval: durationpb.New(time.Microsecond)})
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("interval of 1µs: %v, want INVALID_ARGUMENT", err)
	}
}

func TestChat(t *testing.T) {
	s := start(t, Config{})
	stream, err := echopb.NewEchoClient(dial(t, s.Addr())).Chat(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 2, 7} {
		if err := stream.Send(&echopb.ChatMessage{Seq: seq, Sent: timestamppb.Now()}); err != nil {
			t.Fatal(err)
		}
		m, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.GetSeq() != seq || m.GetVersion() != "0.9" || m.GetTask() != "task-1" {
			t.Errorf("echo %v, want seq %d", m, seq)
		}
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend: %v, want the stream to end cleanly", err)
	}
}

// openStreams opens a Subscribe and a Chat stream on s and waits for their
// first messages.
func openStreams(t *testing.T, s *Server) (echopb.Echo_SubscribeClient, echopb.Echo_ChatClient) {
	t.Helper()
	client := echopb.NewEchoClient(dial(t, s.Addr()))
	ctx := ctxT(t)
	sub, err := client.Subscribe(ctx, &echopb.SubscribeRequest{Interval: durationpb.New(5 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Recv(); err != nil {
		t.Fatal(err)
	}
	chat, err := client.Chat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := chat.Send(&echopb.ChatMessage{Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := chat.Recv(); err != nil {
		t.Fatal(err)
	}
	return sub, chat
}

// streamEnd reads recv until it fails and returns the error.
func streamEnd(recv func() error) error {
	for {
		if err := recv(); err != nil {
			return err
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	const drain = 200 * time.Millisecond
	s := start(t, Config{Drain: drain, HealthAddr: "127.0.0.1:0"})
	sub, chat := openStreams(t, s)
	cc := dial(t, s.Addr())

	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- s.Shutdown(context.Background()) }()

	subErr := streamEnd(func() error { _, err := sub.Recv(); return err })
	subEnded := time.Now()
	chatErr := streamEnd(func() error {
		if err := chat.Send(&echopb.ChatMessage{Seq: 2}); err != nil && err != io.EOF {
			return err
		}
		_, err := chat.Recv()
		return err
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The drain began after began, so no stream can end before began+drain;
	// that Shutdown returned at all shows it ended the streams, which never
	// end on their own.
	if took := time.Since(began); took < drain {
		t.Errorf("the shutdown returned after %v, inside the drain time %v", took, drain)
	}
	if subEnded.Sub(began) < drain {
		t.Errorf("the stream ended %v after the shutdown began, inside the drain time %v", subEnded.Sub(began), drain)
	}
	for name, tr := range map[string]struct {
		err     error
		trailer metadata.MD
	}{"subscribe": {subErr, sub.Trailer()}, "chat": {chatErr, chat.Trailer()}} {
		if status.Code(tr.err) != codes.Unavailable || !strings.Contains(tr.err.Error(), "shutting down") {
			t.Errorf("%s ended with %v, want UNAVAILABLE shutting down", name, tr.err)
		}
		if got := tr.trailer.Get(contract.MetadataEnd); len(got) != 1 || got[0] != EndDraining || len(tr.trailer.Get(contract.MetadataNextSeq)) != 1 {
			t.Errorf("%s trailer %v, want %s: %s and the next seq", name, tr.trailer, contract.MetadataEnd, EndDraining)
		}
	}
	// The task is gone: no new call gets through.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := echopb.NewEchoClient(cc).Echo(ctx, &echopb.EchoRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("a call after shutdown: %v, want UNAVAILABLE", err)
	}
}

func TestHealthHTTP(t *testing.T) {
	get := func(s *Server) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + s.HealthAddr() + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// Still starting whatever the machine's speed: the delay is an hour.
	starting := start(t, Config{HealthAddr: "127.0.0.1:0", StartDelay: time.Hour})
	if code, body := get(starting); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Errorf("while starting: %d %s", code, body)
	}
	began := time.Now()
	const delay = 200 * time.Millisecond
	started := start(t, Config{HealthAddr: "127.0.0.1:0", StartDelay: delay})
	polltest.Eventually(t, "/health to answer 200 once started", func() bool {
		code, _ := get(started)
		return code == http.StatusOK
	})
	if since := time.Since(began); since < delay {
		t.Errorf("/health answered 200 %v after the start, inside the start delay %v", since, delay)
	}

	failing := start(t, Config{HealthAddr: "127.0.0.1:0", FailHealth: true})
	if code, body := get(failing); code != http.StatusServiceUnavailable || !strings.Contains(body, "failing") {
		t.Errorf("failing health: %d %s", code, body)
	}
	h, err := healthgrpc.NewHealthClient(dial(t, failing.Addr())).Check(ctxT(t), &healthgrpc.HealthCheckRequest{Service: ServiceName})
	if err != nil || h.GetStatus() != healthgrpc.HealthCheckResponse_NOT_SERVING {
		t.Errorf("gRPC health of a failing task: %v, %v", h, err)
	}
	if start(t, Config{}).HealthAddr() != "" {
		t.Error("a health address without Config.HealthAddr")
	}
}

func TestAbruptExit(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		stop func(*Server) error
	}{
		{"close", Config{Drain: time.Hour}, (*Server).Close},
		{"shutdown of an abrupt task", Config{Drain: time.Hour, Abrupt: true}, func(s *Server) error { return s.Shutdown(context.Background()) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, tt.cfg)
			sub, _ := openStreams(t, s)
			if err := tt.stop(s); err != nil {
				t.Fatal(err)
			}
			err := streamEnd(func() error { _, err := sub.Recv(); return err })
			if status.Code(err) != codes.Unavailable || strings.Contains(err.Error(), "shutting down") || len(sub.Trailer().Get(contract.MetadataEnd)) != 0 {
				t.Errorf("stream ended with %v (trailer %v), want a broken connection", err, sub.Trailer())
			}
			if !strings.Contains(err.Error(), "connection reset") && !strings.Contains(err.Error(), "EOF") {
				t.Errorf("stream ended with %v, want the connection reset", err)
			}
			// The drain is an hour: a stream that broke at all was cut by
			// the exit, not drained.
			polltest.Eventually(t, "Done to close after the exit", func() bool { return closed(s.Done()) })
			if s.Err() != nil {
				t.Errorf("Err = %v after a stop", s.Err())
			}
		})
	}
}

func TestCrashAfter(t *testing.T) {
	s := start(t, Config{CrashAfter: 50 * time.Millisecond})
	polltest.Eventually(t, "the task to crash", func() bool { return closed(s.Done()) })
	if !errors.Is(s.Err(), ErrCrashed) {
		t.Errorf("Err = %v, want ErrCrashed", s.Err())
	}
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("a crashed task still accepts connections")
	}
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
