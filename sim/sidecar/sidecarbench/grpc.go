package sidecarbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
	"github.com/meshsim/meshsim/sim/xds"
)

// Via is how a client reaches the gRPC backend.
type Via string

// The ways a GRPC client reaches the backend: Direct is client and backend
// alone, the sidecar's cost is what ThroughSidecar adds.
const (
	Direct         Via = "direct"
	ThroughSidecar Via = "sidecar"
)

// GRPC is the sample gRPC service (grpcapp) on loopback with two clients
// of it: one connected directly, one through a sidecar whose route sends
// GRPCService there.
type GRPC struct {
	world   *World
	backend *grpcapp.Server
	conns   map[Via]*grpc.ClientConn
}

// StartGRPC starts the sample gRPC service, a control plane and one
// sidecar, and connects a client directly and one through the sidecar's
// egress listener; each has made one call when it returns.
func StartGRPC(ctx context.Context) (*GRPC, error) {
	backend, err := grpcapp.Start(context.Background(), grpcapp.Config{Service: "echo", Version: "v1", TaskID: "t1", Addr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	g := &GRPC{backend: backend, conns: map[Via]*grpc.ClientConn{}}
	host, port, _ := net.SplitHostPort(backend.Addr())
	p, _ := strconv.Atoi(port)
	ep := xds.Endpoint{InstanceID: "t1", Address: host, Port: uint32(p)}
	if g.world, err = start(ctx, world(1, grpcService, ep, ep, 1, 0)); err != nil {
		g.Close()
		return nil, err
	}
	for via, addr := range map[Via]string{Direct: backend.Addr(), ThroughSidecar: g.world.Sidecars[0].EgressAddr()} {
		if _, err := g.dial(ctx, via, addr); err != nil {
			g.Close()
			return nil, err
		}
	}
	return g, nil
}

// dial connects a client, named via, to the backend through addr and
// makes one call.
func (g *GRPC) dial(ctx context.Context, via Via, addr string) (echopb.EchoClient, error) {
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority(GRPCAuthority))
	if err != nil {
		return nil, err
	}
	g.conns[via] = conn
	c := echopb.NewEchoClient(conn)
	if _, err := c.Echo(ctx, &echopb.EchoRequest{Name: "bench"}, grpc.WaitForReady(true)); err != nil {
		return nil, fmt.Errorf("sidecarbench: gRPC %s: %w", via, err)
	}
	return c, nil
}

// Client returns the client that reaches the backend via.
func (g *GRPC) Client(via Via) echopb.EchoClient { return echopb.NewEchoClient(g.conns[via]) }

// BackendAddr returns the backend's address, for another proxy to put in
// front of it (see ClientThrough).
func (g *GRPC) BackendAddr() string { return g.backend.Addr() }

// ClientThrough connects a client, named via, to the backend through
// another proxy listening on addr (an anchor such as haproxy), once it
// has made one call.
func (g *GRPC) ClientThrough(ctx context.Context, via Via, addr string) (echopb.EchoClient, error) {
	return g.dial(ctx, via, addr)
}

// Close closes the clients and stops the sidecar, the control plane and
// the backend.
func (g *GRPC) Close() {
	for _, c := range g.conns {
		c.Close()
	}
	if g.world != nil {
		g.world.Close()
	}
	g.backend.Close()
}

// StreamKind is a kind of stream held open.
type StreamKind string

// The kinds of streams: Bidi is the sample service's Chat, Server its
// Subscribe (a feed whose next message is an hour away).
const (
	Bidi   StreamKind = "bidi"
	Server StreamKind = "server"
)

// Streams is what holding streams open cost.
type Streams struct {
	// N counts the streams.
	N int
	// Open is the time it took to open them all, each with one message
	// through.
	Open time.Duration
	// Bytes is the process's live heap and goroutine stacks after a
	// collection while they were held, over the same before they opened.
	Bytes int64
	// Goroutines is the goroutines they held.
	Goroutines int
}

// BytesPerStream is the memory one held stream costs.
func (s Streams) BytesPerStream() float64 { return float64(s.Bytes) / float64(s.N) }

// GoroutinesPerStream is the goroutines one held stream holds.
func (s Streams) GoroutinesPerStream() float64 { return float64(s.Goroutines) / float64(s.N) }

// openers is how many goroutines open the streams.
const openers = 64

// HoldStreams opens n streams of kind through c, each with one message
// through, measures what they cost while held, then ends them and waits
// (up to a minute) for their goroutines to finish. The memory measured is
// the whole process's: run it where nothing else runs (what an earlier
// call left behind and frees meanwhile makes the figure smaller).
func HoldStreams(ctx context.Context, c echopb.EchoClient, kind StreamKind, n int) (Streams, error) {
	if n < 1 {
		return Streams{}, errors.New("sidecarbench: no streams to hold")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	before, goroutines := memory(), runtime.NumGoroutine()
	start := time.Now()
	chats, err := openStreams(ctx, c, kind, n)
	if err != nil {
		return Streams{}, err
	}
	s := Streams{N: n, Open: time.Since(start)}
	s.Bytes, s.Goroutines = memory()-before, runtime.NumGoroutine()-goroutines
	err = endStreams(chats)
	cancel() // ends the server streams
	for deadline := time.Now().Add(time.Minute); runtime.NumGoroutine() > goroutines+100 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return s, err
}

// openStreams opens n streams of kind, each with one message through, and
// returns the bidi ones.
func openStreams(ctx context.Context, c echopb.EchoClient, kind StreamKind, n int) ([]echopb.Echo_ChatClient, error) {
	chats := make([]echopb.Echo_ChatClient, n)
	errs := make([]error, openers)
	// A feed whose first message is due now and the next in an hour.
	feed := &echopb.SubscribeRequest{Feed: "bench", Origin: timestamppb.New(time.Now().Add(-time.Hour)), Interval: durationpb.New(time.Hour)}
	var wg sync.WaitGroup
	for w := range openers {
		wg.Go(func() {
			for i := w; i < n && errs[w] == nil; i += openers {
				switch kind {
				case Bidi:
					if chats[i], errs[w] = c.Chat(ctx); errs[w] == nil {
						errs[w] = chat(chats[i], uint64(i))
					}
				case Server:
					var st echopb.Echo_SubscribeClient
					if st, errs[w] = c.Subscribe(ctx, feed); errs[w] == nil {
						_, errs[w] = st.Recv()
					}
				default:
					errs[w] = fmt.Errorf("unknown stream kind %q", kind)
				}
				if errs[w] != nil {
					errs[w] = fmt.Errorf("sidecarbench: %s stream %d: %w", kind, i, errs[w])
				}
			}
		})
	}
	wg.Wait()
	return chats, errors.Join(errs...)
}

// chat sends message seq on st and receives its echo.
func chat(st echopb.Echo_ChatClient, seq uint64) error {
	// Send reports an ended stream as io.EOF; Recv then has its status.
	if err := st.Send(&echopb.ChatMessage{Seq: seq}); err != nil && err != io.EOF {
		return err
	}
	m, err := st.Recv()
	if err != nil {
		return err
	}
	if m.GetSeq() != seq {
		return fmt.Errorf("echo of message %d is %d", seq, m.GetSeq())
	}
	return nil
}

// endStreams closes the client side of each chat and waits for the server
// to end it.
func endStreams(chats []echopb.Echo_ChatClient) error {
	errs := make([]error, openers)
	var wg sync.WaitGroup
	for w := range openers {
		wg.Go(func() {
			for i := w; i < len(chats) && errs[w] == nil; i += openers {
				st := chats[i]
				if st == nil {
					continue
				}
				_ = st.CloseSend()
				if _, err := st.Recv(); err != io.EOF {
					errs[w] = fmt.Errorf("sidecarbench: closing stream %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// memory returns the process's live heap and stack memory after a
// collection.
func memory() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}
