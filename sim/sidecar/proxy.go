package sidecar

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/sidecar/admin"
	"github.com/meshsim/meshsim/sim/xds"
)

// Proxy is a running sidecar: an ADS client that applies the control
// plane's configuration, and an HTTP server per configured listener.
type Proxy struct {
	cfg          Config
	node         string   // short node id
	nodeHeader   []string // value of x-meshsim-proxy
	bindIP       string
	drainTimeout time.Duration
	bus          *events.Bus

	state  atomic.Pointer[snapshot]
	faults atomic.Pointer[admin.Faults] // nil when none
	queue  queueStats

	adminMu sync.Mutex // serializes changes of faults
	admin   *http.Server
	adminLn net.Listener

	rp   *httputil.ReverseProxy
	pool *bufferPool // copy buffers of rp and of request body pumps

	ready  chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup // serving and draining listeners

	mu         sync.Mutex
	listeners  map[string]*boundListener
	transports map[transportKey]*http.Transport
	h1clients  fastClients // the HTTP/1.1 path's upstream connection pools
}

// snapshot is the immutable routing state requests are served from; a
// configuration change swaps in a new one.
type snapshot struct {
	listeners map[string]*listenerState // by listener name
	clusters  map[string]*upstream
}

// listenerState is what the requests of one listener are served with.
type listenerState struct {
	routes            *routeTable // nil until its RDS arrives
	streamIdle        time.Duration
	maxStreamDuration time.Duration
	outbound          bool
}

// maxConcurrentStreams is the HTTP/2 concurrent stream limit a listener
// advertises: Envoy's default, 2^31-1, so that a client can hold many
// long-lived streams on one connection.
const maxConcurrentStreams = math.MaxInt32

// upstream is a cluster with its endpoints.
type upstream struct {
	name      string
	addrs     []string
	random    bool
	rr        atomic.Uint64
	transport http.RoundTripper
	// h2 is set when the cluster speaks HTTP/2 upstream, which only the
	// net/http path does; connectTimeout bounds a new connection.
	h2             bool
	connectTimeout time.Duration
}

// next picks an endpoint: round robin, or at random for RANDOM clusters.
func (u *upstream) next() (string, bool) {
	n := uint64(len(u.addrs))
	switch {
	case n == 0:
		return "", false
	case u.random:
		return u.addrs[rand.Uint64N(n)], true
	}
	return u.addrs[(u.rr.Add(1)-1)%n], true
}

type transportKey struct {
	h2             bool
	connectTimeout time.Duration
}

// boundListener is a listening socket and the server on it.
type boundListener struct {
	name atomic.Pointer[string] // the listener may be renamed by LDS
	spec *listenerSpec          // guarded by Proxy.mu
	ln   net.Listener
	srv  *connServer
}

// Start connects to the control plane and starts applying its
// configuration; listeners open as LDS delivers them. It returns at once:
// wait on Ready for the first complete configuration. The proxy stops
// when ctx is done or Close is called.
func Start(ctx context.Context, cfg Config) (*Proxy, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(cfg.XDSAddress,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
			BaseDelay: minBackoff, Multiplier: 1.6, Jitter: 0.2, MaxDelay: maxBackoff,
		}}))
	if err != nil {
		return nil, fmt.Errorf("sidecar: connect to control plane %s: %w", cfg.XDSAddress, err)
	}
	p := &Proxy{
		cfg:          cfg,
		node:         xds.NormalizeNodeID(cfg.NodeID),
		bindIP:       cfg.BindIP,
		drainTimeout: cfg.DrainTimeout,
		bus:          cfg.Bus,
		ready:        make(chan struct{}),
		done:         make(chan struct{}),
		listeners:    make(map[string]*boundListener),
		transports:   make(map[transportKey]*http.Transport),
	}
	if p.bindIP == "" {
		p.bindIP = "127.0.0.1"
	}
	if p.drainTimeout <= 0 {
		p.drainTimeout = defaultDrainTimeout
	}
	p.nodeHeader = []string{p.node}
	p.state.Store(&snapshot{})
	p.pool = newBufferPool()
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      retryTransport{queue: &p.queue},
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       discardLog,
		BufferPool:     p.pool,
	}
	if err := p.startAdmin(); err != nil {
		conn.Close()
		return nil, err
	}
	ctx, p.cancel = context.WithCancel(ctx)
	ads := newADSClient(p, conn)
	go func() {
		defer close(p.done)
		ads.run(ctx)
		p.shutdown()
		conn.Close()
	}()
	return p, nil
}

// Ready is closed once the first complete configuration (listeners, their
// routes, clusters and their endpoints) has been applied.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Close stops the proxy: it closes the ADS stream and drains the
// listeners (HTTP/2 clients get GOAWAY), waiting at most the drain
// timeout for in-flight requests and streams, then closes what is left.
func (p *Proxy) Close() error {
	p.cancel()
	<-p.done
	return nil
}

// EgressAddr returns the address of the outbound listener (the one the
// application sends its requests to), or "" when there is none yet.
func (p *Proxy) EgressAddr() string { return p.addr(true) }

// IngressAddr returns the address of the inbound listener, or "".
func (p *Proxy) IngressAddr() string { return p.addr(false) }

func (p *Proxy) addr(outbound bool) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.listeners {
		if b.spec.outbound == outbound {
			return b.ln.Addr().String()
		}
	}
	return ""
}

func (p *Proxy) emit(typ contract.EventType, detail map[string]string) {
	if p.bus == nil {
		return
	}
	p.bus.Emit(events.Event{Source: contract.SourceSidecar, Type: typ, Resource: p.node, Detail: detail})
}

// transport returns the shared upstream transport for k, so connection
// pools survive configuration changes.
func (p *Proxy) transport(k transportKey) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.transports[k]; ok {
		return t
	}
	d := &net.Dialer{Timeout: k.connectTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	if k.h2 {
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		t.Protocols = &protos
	}
	p.transports[k] = t
	return t
}

// listenerPlan is a listener change prepared by planListeners: sockets
// are bound, nothing serves yet.
type listenerPlan struct {
	next  map[string]*boundListener
	open  []*boundListener
	close []*boundListener
}

// planListeners binds the sockets that specs need and the proxy does not
// have yet. On error it closes what it bound and changes nothing.
func (p *Proxy) planListeners(specs map[string]*listenerSpec) (*listenerPlan, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	plan := &listenerPlan{next: make(map[string]*boundListener)}
	used := make(map[*boundListener]bool)
	byAddr := make(map[string]*boundListener)
	for _, b := range p.listeners {
		byAddr[b.spec.addr] = b
	}
	for name, s := range specs {
		if b, ok := byAddr[s.addr]; ok && !used[b] {
			used[b] = true
			plan.next[name] = b
			continue
		}
		ln, err := net.Listen("tcp", s.addr)
		if err != nil {
			for _, b := range plan.open {
				b.ln.Close()
			}
			return nil, fmt.Errorf("listener %q: %w", name, err)
		}
		b := &boundListener{ln: ln}
		plan.next[name] = b
		plan.open = append(plan.open, b)
	}
	for _, b := range p.listeners {
		if !used[b] {
			plan.close = append(plan.close, b)
		}
	}
	for name, b := range plan.next {
		b.spec = specs[name]
	}
	return plan, nil
}

// commitListeners starts serving the new sockets of plan and drains the
// listeners it drops.
func (p *Proxy) commitListeners(plan *listenerPlan) {
	p.mu.Lock()
	for name, b := range plan.next {
		b.name.Store(&name)
	}
	p.listeners = plan.next
	p.mu.Unlock()
	for _, b := range plan.open {
		h := &listenerHandler{p: p, b: b}
		b.srv = newConnServer(b.ln, newHTTP1Handler(h).serve, h)
		b.srv.serve()
	}
	for _, b := range plan.close {
		p.drain(b)
	}
}

// drain shuts b down gracefully, closing it when the drain timeout ends.
func (p *Proxy) drain(b *boundListener) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), p.drainTimeout)
		defer cancel()
		b.srv.shutdown(ctx)
	}()
}

// shutdown drains every listener and waits for them; it runs after the
// ADS client stopped, so nothing opens new listeners.
func (p *Proxy) shutdown() {
	p.mu.Lock()
	ls := p.listeners
	p.listeners = make(map[string]*boundListener)
	p.mu.Unlock()
	for _, b := range ls {
		p.drain(b)
	}
	p.admin.Close()
	p.wg.Wait()
	p.mu.Lock()
	for _, t := range p.transports {
		t.CloseIdleConnections()
	}
	p.mu.Unlock()
	p.h1clients.closeIdle()
}
