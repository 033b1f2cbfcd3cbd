package sidecar_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
	"github.com/meshsim/meshsim/sim/poll/polltest"
	"github.com/meshsim/meshsim/sim/sidecar"
	"github.com/meshsim/meshsim/sim/xds"
)

const (
	mesh     = "bookingapp"
	movieSvc = "movie.bookingapp.local"
	movieURL = "http://movie.bookingapp.local:8080"
)

var homeARN = "arn:aws:appmesh:us-east-1:000000000000:mesh/bookingapp/virtualNode/home"

// controlPlane is a real xds.Server on a loopback port.
type controlPlane struct {
	srv  *xds.Server
	bus  *events.Bus
	addr string
	stop func()
}

func startControlPlane(t testing.TB, addr string) *controlPlane {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	bus := events.NewBus(0)
	cp := &controlPlane{srv: xds.NewServer(xds.Options{Bus: bus}), bus: bus, addr: lis.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := cp.srv.Serve(ctx, lis); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var once sync.Once
	cp.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(cp.stop)
	return cp
}

// update publishes w and waits until the home proxy ACKs the resulting
// version of typ (a resource type URL).
func (cp *controlPlane) update(t testing.TB, w xds.World, typ string) {
	t.Helper()
	version := nodeVersion(t, w, "home", typ)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := cp.bus.Subscribe(ctx, 0)
	if err := cp.srv.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, sub, func(e events.Event) bool {
		return e.Type == contract.EventXDSAck && e.Resource == contract.NodeID(mesh, "home") &&
			e.Detail[contract.DetailTypeURL] == typ && e.Detail[contract.DetailVersion] == version
	})
}

func nodeVersion(t testing.TB, w xds.World, node, typ string) string {
	t.Helper()
	res, err := xds.Build(w)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := res[contract.NodeID(mesh, node)].Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return snap.GetVersion(typ)
}

func waitEvent(t testing.TB, sub <-chan events.Event, ok func(events.Event) bool) events.Event {
	t.Helper()
	deadline := time.After(polltest.Limit)
	for {
		select {
		case e := <-sub:
			if ok(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("expected event did not arrive within %v", polltest.Limit)
			return events.Event{}
		}
	}
}

// backend is a sample service instance that reports who served.
type backend struct {
	*httptest.Server
	version, task string
	hits          atomic.Int64
}

func startBackend(t testing.TB, version, task string, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{version: version, task: task}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.Header().Set("X-Meshsim-Version", version)
		w.Header().Set("X-Meshsim-Task", task)
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, version)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) endpoint() xds.Endpoint {
	u, _ := url.Parse(b.URL)
	port, _ := strconv.Atoi(u.Port())
	return xds.Endpoint{InstanceID: b.task, Address: u.Hostname(), Port: uint32(port)}
}

// movieWorld is home → movie router → movie-v1 / movie-v2.
func movieWorld(v1, v2 []xds.Endpoint, w1, w2 uint32) xds.World {
	return xds.World{Meshes: []xds.Mesh{{
		Name: mesh,
		VirtualNodes: []xds.VirtualNode{
			{Name: "home", Listeners: []xds.Listener{{Port: 8080, Protocol: xds.HTTP}}, Backends: []string{movieSvc}},
			{Name: "movie-v1", Listeners: []xds.Listener{{Port: 8080, Protocol: xds.HTTP}}, Endpoints: v1},
			{Name: "movie-v2", Listeners: []xds.Listener{{Port: 8080, Protocol: xds.HTTP}}, Endpoints: v2},
		},
		VirtualServices: []xds.VirtualService{{Name: movieSvc, ProviderRouter: "movie-router"}},
		VirtualRouters: []xds.VirtualRouter{{
			Name:      "movie-router",
			Listeners: []xds.Listener{{Port: 8080, Protocol: xds.HTTP}},
			Routes: []xds.Route{{
				Name: "movie", Protocol: xds.HTTP, Prefix: "/",
				Targets: []xds.WeightedTarget{{VirtualNode: "movie-v1", Weight: w1}, {VirtualNode: "movie-v2", Weight: w2}},
			}},
		}},
	}}}
}

func movieRoute(w *xds.World) *xds.Route { return &w.Meshes[0].VirtualRouters[0].Routes[0] }

// loopbackIP returns a 127.x.y.z address on which the sidecar's fixed
// listener ports are free, standing in for a task's own IP. Where only
// 127.0.0.1 is configured (macOS), it returns that.
func loopbackIP(t testing.TB) string {
	t.Helper()
	free := func(ip string) (bool, error) {
		for _, port := range []int{contract.IngressPort, contract.EgressPort, contract.AdminPort} {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				return false, err
			}
			ln.Close()
		}
		return true, nil
	}
	for range 50 {
		ip := fmt.Sprintf("127.%d.%d.%d", 10+rand.IntN(240), rand.IntN(256), 1+rand.IntN(254))
		ok, err := free(ip)
		if ok {
			return ip
		}
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			break
		}
	}
	if ok, err := free("127.0.0.1"); !ok {
		t.Fatalf("no loopback address with ports %d, %d and %d free: %v", contract.IngressPort, contract.EgressPort, contract.AdminPort, err)
	}
	return "127.0.0.1"
}

func startSidecar(t testing.TB, cpAddr, nodeID, ip string) *sidecar.Proxy {
	t.Helper()
	p, err := sidecar.Start(context.Background(), sidecar.Config{NodeID: nodeID, XDSAddress: cpAddr, BindIP: ip, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	select {
	case <-p.Ready():
	case <-time.After(polltest.Limit):
		t.Fatalf("sidecar not ready within %v", polltest.Limit)
	}
	return p
}

// proxyClient sends requests through the sidecar's egress listener as an
// HTTP proxy.
func proxyClient(t testing.TB, p *sidecar.Proxy) *http.Client {
	t.Helper()
	proxyURL, err := url.Parse("http://" + p.EgressAddr())
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type result struct {
	status  int
	version string
	task    string
	body    string
	header  http.Header
}

func get(c *http.Client, u string) (result, error) {
	res, err := c.Get(u)
	if err != nil {
		return result{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return result{}, err
	}
	return result{res.StatusCode, res.Header.Get("X-Meshsim-Version"), res.Header.Get("X-Meshsim-Task"), string(b), res.Header}, nil
}

// split sends n requests with 8 workers and counts responses per version.
func split(t *testing.T, c *http.Client, n int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	counts := make(map[string]int)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				r, err := get(c, movieURL+"/movies")
				mu.Lock()
				switch {
				case err != nil:
					counts["error"]++
				case r.status != http.StatusOK:
					counts[strconv.Itoa(r.status)]++
				default:
					counts[r.version]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return counts
}

// within3Sigma checks that got of n follows share p within 3 standard
// deviations of the binomial distribution.
func within3Sigma(t *testing.T, what string, got, n int, p float64) {
	t.Helper()
	sigma := math.Sqrt(float64(n) * p * (1 - p))
	if d := math.Abs(float64(got) - p*float64(n)); d > 3*sigma {
		t.Errorf("%s: %d of %d (%.1f%%), want %.0f%% ± %.0f (3 sigma)", what, got, n, 100*float64(got)/float64(n), 100*p, 3*sigma)
	}
}

func TestWeightedSplit(t *testing.T) {
	v1, v2 := startBackend(t, "v1", "t1", nil), startBackend(t, "v2", "t2", nil)
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), movieWorld([]xds.Endpoint{v1.endpoint()}, []xds.Endpoint{v2.endpoint()}, 75, 25)); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
	c := proxyClient(t, p)

	const n = 2000
	counts := split(t, c, n)
	if counts["v1"]+counts["v2"] != n {
		t.Fatalf("responses = %v, want %d from v1 and v2", counts, n)
	}
	within3Sigma(t, "v1 share", counts["v1"], n, 0.75)

	r, err := get(c, movieURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if r.header.Get("X-Meshsim-Proxy") != contract.NodeID(mesh, "home") {
		t.Errorf("x-meshsim-proxy = %q", r.header.Get("X-Meshsim-Proxy"))
	}
	if _, err := strconv.Atoi(r.header.Get("X-Envoy-Upstream-Service-Time")); err != nil {
		t.Errorf("x-envoy-upstream-service-time = %q", r.header.Get("X-Envoy-Upstream-Service-Time"))
	}
}

// TestWeightChangeUnderLoad is the acceptance test of live reconfiguration:
// a weight change pushed while requests flow fails no request, and the
// requests sent after the proxy ACKed it follow the new weights.
func TestWeightChangeUnderLoad(t *testing.T) {
	v1, v2 := startBackend(t, "v1", "t1", nil), startBackend(t, "v2", "t2", nil)
	eps1, eps2 := []xds.Endpoint{v1.endpoint()}, []xds.Endpoint{v2.endpoint()}
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), movieWorld(eps1, eps2, 90, 10)); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
	c := proxyClient(t, p)

	const after = 2000
	var (
		phase    atomic.Int32 // 0 before the ACK, 1 after
		failures atomic.Int64
		total    atomic.Int64
		mu       sync.Mutex
		counts   = make(map[string]int) // phase-1 responses by version
		n1       int
		firstErr atomic.Value
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ph := phase.Load()
				r, err := get(c, movieURL+"/movies")
				total.Add(1)
				if err != nil || r.status != http.StatusOK {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d err %v body %q", r.status, err, r.body))
					continue
				}
				if ph == 1 {
					mu.Lock()
					if n1 < after {
						counts[r.version]++
						n1++
					}
					mu.Unlock()
				}
			}
		})
	}
	// Let traffic flow on the old weights, then change them.
	polltest.Eventually(t, "300 requests on the old weights", func() bool { return total.Load() >= 300 })
	cp.update(t, movieWorld(eps1, eps2, 20, 80), resource.RouteType)
	phase.Store(1)
	polltest.Eventually(t, "the requests after the change", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return n1 >= after
	})
	close(stop)
	wg.Wait()

	if f := failures.Load(); f > 0 {
		t.Fatalf("%d of %d requests failed during the weight change; first: %v", f, total.Load(), firstErr.Load())
	}
	within3Sigma(t, "v2 share after the change", counts["v2"], after, 0.80)
}

func TestEndpointRemoval(t *testing.T) {
	a, b := startBackend(t, "v1", "task-a", nil), startBackend(t, "v1", "task-b", nil)
	cp := startControlPlane(t, "")
	w := movieWorld([]xds.Endpoint{a.endpoint(), b.endpoint()}, nil, 100, 0)
	if err := cp.srv.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, contract.NodeID(mesh, "home"), loopbackIP(t))
	c := proxyClient(t, p)

	tasks := func(n int) map[string]int {
		t.Helper()
		out := make(map[string]int)
		for range n {
			r, err := get(c, movieURL+"/")
			if err != nil {
				t.Fatal(err)
			}
			if r.status != http.StatusOK {
				out[strconv.Itoa(r.status)+" "+r.body]++
				continue
			}
			out[r.task]++
		}
		return out
	}
	if got := tasks(20); got["task-a"] != 10 || got["task-b"] != 10 {
		t.Fatalf("two endpoints, round robin: %v", got)
	}

	w = movieWorld([]xds.Endpoint{a.endpoint()}, nil, 100, 0)
	cp.update(t, w, resource.EndpointType)
	if got := tasks(20); got["task-a"] != 20 {
		t.Fatalf("after task-b left: %v, want all on task-a", got)
	}

	w = movieWorld(nil, nil, 100, 0)
	cp.update(t, w, resource.EndpointType)
	r, err := get(c, movieURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusServiceUnavailable || r.body != "no healthy upstream" {
		t.Fatalf("no endpoints: %d %q, want 503 no healthy upstream", r.status, r.body)
	}
	if r.header.Get("X-Meshsim-Proxy") != contract.NodeID(mesh, "home") {
		t.Errorf("local reply x-meshsim-proxy = %q", r.header.Get("X-Meshsim-Proxy"))
	}
}

func TestLocalReplies(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	cp := startControlPlane(t, "")
	w := movieWorld([]xds.Endpoint{{InstanceID: "gone", Address: "127.0.0.1", Port: uint32(port)}}, nil, 100, 0)
	w.Meshes[0].VirtualRouters[0].Routes = append(w.Meshes[0].VirtualRouters[0].Routes, xds.Route{
		Name: "drained", Protocol: xds.HTTP, Prefix: "/drained", Priority: new(int),
		Targets: []xds.WeightedTarget{{VirtualNode: "movie-v1", Weight: 0}},
	})
	if err := cp.srv.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
	c := proxyClient(t, p)

	tests := []struct {
		url    string
		status int
		body   string
	}{
		{movieURL + "/", 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure"},
		{movieURL + "/drained", 503, "no healthy upstream"},
		{"http://unknown.bookingapp.local/", 404, "route not found"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			r, err := get(c, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != tt.status || r.body != tt.body {
				t.Errorf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.body)
			}
		})
	}
}

func TestNackKeepsLastGoodConfig(t *testing.T) {
	v1, v2 := startBackend(t, "v1", "t1", nil), startBackend(t, "v2", "t2", nil)
	eps1, eps2 := []xds.Endpoint{v1.endpoint()}, []xds.Endpoint{v2.endpoint()}
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), movieWorld(eps1, eps2, 100, 0)); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
	c := proxyClient(t, p)

	// A route whose header regex Go cannot compile passes Validate() but
	// cannot be applied; had it been applied, traffic would move to v2.
	bad := movieWorld(eps1, eps2, 0, 100)
	movieRoute(&bad).Headers = []xds.HeaderMatch{{Name: "x-user", Invert: true, Regex: "("}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := cp.bus.Subscribe(ctx, 0)
	if err := cp.srv.Update(context.Background(), bad); err != nil {
		t.Fatalf("the control plane rejected the world itself: %v", err)
	}
	nack := waitEvent(t, sub, func(e events.Event) bool { return e.Type == contract.EventXDSNack })
	if nack.Detail[contract.DetailTypeURL] != resource.RouteType || !strings.Contains(nack.Detail[contract.DetailError], "regex") {
		t.Errorf("nack = %+v", nack)
	}
	if counts := split(t, c, 200); counts["v1"] != 200 {
		t.Fatalf("after the NACK: %v, want all 200 on v1 (the last good config)", counts)
	}

	cp.update(t, movieWorld(eps1, eps2, 0, 100), resource.RouteType)
	if counts := split(t, c, 200); counts["v2"] != 200 {
		t.Fatalf("after a good update: %v, want all 200 on v2", counts)
	}
	// The rejected version was not pushed again and again.
	nacks := 0
	all := cp.bus.Subscribe(ctx, 0)
	cp.bus.Emit(events.Event{Type: "test.marker"})
	for e := range all {
		if e.Type == "test.marker" {
			break
		}
		if e.Type == contract.EventXDSNack {
			nacks++
		}
	}
	if nacks != 1 {
		t.Errorf("%d NACKs, want 1", nacks)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		retry    *xds.RetryPolicy
		failWith int // status of every other upstream response; 0: it hangs
		wantOK   bool
	}{
		{"server-error policy replays the body", &xds.RetryPolicy{MaxRetries: 2, HTTPRetryEvents: []string{"server-error"}}, 500, true},
		{"App Mesh default retries 503", nil, 503, true},
		{"App Mesh default does not retry 500", nil, 500, false},
		{"per-retry timeout", &xds.RetryPolicy{MaxRetries: 1, PerRetryTimeoutMillis: 100, HTTPRetryEvents: []string{"gateway-error"}}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			flaky := startBackend(t, "v1", "t1", func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if calls.Add(1)%2 == 1 {
					if tt.failWith == 0 {
						<-r.Context().Done()
						return
					}
					w.WriteHeader(tt.failWith)
					return
				}
				_, _ = w.Write(body)
			})
			cp := startControlPlane(t, "")
			w := movieWorld([]xds.Endpoint{flaky.endpoint()}, nil, 100, 0)
			movieRoute(&w).Retry = tt.retry
			if err := cp.srv.Update(context.Background(), w); err != nil {
				t.Fatal(err)
			}
			p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
			c := proxyClient(t, p)
			failed := 0
			for i := range 10 {
				want := fmt.Sprintf("order %d", i)
				res, err := c.Post(movieURL+"/orders", "text/plain", strings.NewReader(want))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(res.Body)
				res.Body.Close()
				switch {
				case res.StatusCode == tt.failWith:
					failed++
				case res.StatusCode != http.StatusOK || string(got) != want:
					t.Fatalf("request %d: %d %q, want 200 %q", i, res.StatusCode, got, want)
				}
			}
			if tt.wantOK && (failed > 0 || calls.Load() != 20) {
				t.Errorf("%d requests failed, upstream saw %d attempts; want 0 failures and 20 attempts (one retry each)", failed, calls.Load())
			}
			if !tt.wantOK && failed != 5 {
				t.Errorf("%d of 10 requests failed, want every other one (5)", failed)
			}
		})
	}
}

func TestRouteTimeout(t *testing.T) {
	slow := startBackend(t, "v1", "t1", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(polltest.Limit):
		}
	})
	cp := startControlPlane(t, "")
	w := movieWorld([]xds.Endpoint{slow.endpoint()}, nil, 100, 0)
	movieRoute(&w).PerRequestTimeoutMillis = 100
	if err := cp.srv.Update(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
	r, err := get(proxyClient(t, p), movieURL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusGatewayTimeout || r.body != "upstream request timeout" {
		t.Fatalf("got %d %q, want 504 upstream request timeout", r.status, r.body)
	}
}

func TestIngressReachesLocalApp(t *testing.T) {
	ip := loopbackIP(t)
	// The application listens on the task's address, at its listener port.
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "8080"))
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "home app")
	})}
	go app.Serve(ln)
	t.Cleanup(func() { app.Close() })

	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), movieWorld(nil, nil, 100, 0)); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, ip)
	if got, want := p.IngressAddr(), net.JoinHostPort(ip, strconv.Itoa(contract.IngressPort)); got != want {
		t.Fatalf("IngressAddr = %q, want %q", got, want)
	}
	r, err := get(http.DefaultClient, "http://"+p.IngressAddr()+"/")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusOK || r.body != "home app" {
		t.Fatalf("ingress: %d %q", r.status, r.body)
	}
}

func TestReconnectAfterControlPlaneRestart(t *testing.T) {
	v1, v2 := startBackend(t, "v1", "t1", nil), startBackend(t, "v2", "t2", nil)
	eps1, eps2 := []xds.Endpoint{v1.endpoint()}, []xds.Endpoint{v2.endpoint()}
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), movieWorld(eps1, eps2, 100, 0)); err != nil {
		t.Fatal(err)
	}
	p := startSidecar(t, cp.addr, homeARN, loopbackIP(t))
	c := proxyClient(t, p)
	cp.stop()

	// Without a control plane the last config keeps routing.
	if counts := split(t, c, 50); counts["v1"] != 50 {
		t.Fatalf("control plane down: %v, want all on v1", counts)
	}
	cp2 := startControlPlane(t, cp.addr)
	cp2.update(t, movieWorld(eps1, eps2, 0, 100), resource.RouteType)
	if counts := split(t, c, 50); counts["v2"] != 50 {
		t.Fatalf("after reconnect: %v, want all on v2", counts)
	}
}

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		node    string
		wantErr string
	}{
		{"arn", map[string]string{"APPMESH_RESOURCE_ARN": homeARN, "APPMESH_XDS_ENDPOINT": "127.0.0.1:18000"}, homeARN, ""},
		{"virtual node name", map[string]string{"APPMESH_VIRTUAL_NODE_NAME": "mesh/bookingapp/virtualNode/home", "APPMESH_XDS_ENDPOINT": "cp:18000"}, "mesh/bookingapp/virtualNode/home", ""},
		{"no node", map[string]string{"APPMESH_XDS_ENDPOINT": "cp:18000"}, "", "APPMESH_RESOURCE_ARN (or APPMESH_VIRTUAL_NODE_NAME) is not set"},
		{"bad node", map[string]string{"APPMESH_RESOURCE_ARN": "arn:aws:ecs:us-east-1:1:task/x", "APPMESH_XDS_ENDPOINT": "cp:18000"}, "", "APPMESH_RESOURCE_ARN"},
		{"no endpoint", map[string]string{"APPMESH_RESOURCE_ARN": homeARN}, "", "APPMESH_XDS_ENDPOINT is not set"},
		{"bad endpoint", map[string]string{"APPMESH_RESOURCE_ARN": homeARN, "APPMESH_XDS_ENDPOINT": "cp"}, "", "APPMESH_XDS_ENDPOINT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := sidecar.ConfigFromEnv(tt.env, "127.0.0.9")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.NodeID != tt.node || cfg.XDSAddress != tt.env["APPMESH_XDS_ENDPOINT"] || cfg.BindIP != "127.0.0.9" {
				t.Errorf("config = %+v", cfg)
			}
		})
	}
}

func BenchmarkProxy(b *testing.B) {
	v1 := startBackend(b, "v1", "t1", nil)
	cp := startControlPlane(b, "")
	if err := cp.srv.Update(context.Background(), movieWorld([]xds.Endpoint{v1.endpoint()}, nil, 100, 0)); err != nil {
		b.Fatal(err)
	}
	p := startSidecar(b, cp.addr, homeARN, loopbackIP(b))
	c := proxyClient(b, p)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Get(movieURL + "/")
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}
