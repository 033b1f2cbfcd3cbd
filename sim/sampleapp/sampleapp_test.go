package sampleapp

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{contract.EnvService: "movie", contract.EnvVersion: "v2"}
	with := func(k, v string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		env[k] = v
		return env
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // must name the variable (and value)
	}{
		{
			name: "defaults",
			env:  base,
			want: Config{Service: "movie", Version: "v2", TaskID: "t1", Addr: "127.0.0.7:8080"},
		},
		{
			name: "everything",
			env: map[string]string{
				contract.EnvService: "home", contract.EnvVersion: "v1", contract.EnvPort: "9000",
				contract.EnvBackends: "http://movie.local:8080/, http://ratings.local:8080/x",
				contract.EnvProxy:    "http://127.0.0.7:15001", contract.EnvLatency: "25ms", contract.EnvErrorRate: "0.05",
				contract.EnvStartDelay: "2s", contract.EnvDrain: "500ms",
			},
			want: Config{
				Service: "home", Version: "v1", TaskID: "t1", Addr: "127.0.0.7:9000",
				Backends: []string{"http://movie.local:8080/", "http://ratings.local:8080/x"},
				Proxy:    "http://127.0.0.7:15001", Latency: 25 * time.Millisecond, ErrorRate: 0.05,
				StartDelay: 2 * time.Second, Drain: 500 * time.Millisecond,
			},
		},
		{name: "no service", env: map[string]string{contract.EnvVersion: "v1"}, wantErr: contract.EnvService},
		{name: "no version", env: map[string]string{contract.EnvService: "home"}, wantErr: contract.EnvVersion},
		{name: "version with slash", env: with(contract.EnvVersion, "v/2"), wantErr: `MESHSIM_VERSION="v/2"`},
		{name: "bad port", env: with(contract.EnvPort, "http"), wantErr: `MESHSIM_PORT="http"`},
		{name: "port out of range", env: with(contract.EnvPort, "70000"), wantErr: `MESHSIM_PORT="70000"`},
		{name: "bad backend", env: with(contract.EnvBackends, "http://ok/,movie:8080"), wantErr: `MESHSIM_BACKENDS="http://ok/,movie:8080"`},
		{name: "bad proxy", env: with(contract.EnvProxy, "::"), wantErr: `MESHSIM_PROXY="::"`},
		{name: "bad latency", env: with(contract.EnvLatency, "25"), wantErr: `MESHSIM_LATENCY="25"`},
		{name: "negative drain", env: with(contract.EnvDrain, "-1s"), wantErr: `MESHSIM_DRAIN="-1s"`},
		{name: "bad start delay", env: with(contract.EnvStartDelay, "soon"), wantErr: `MESHSIM_START_DELAY="soon"`},
		{name: "error rate above 1", env: with(contract.EnvErrorRate, "1.5"), wantErr: `MESHSIM_ERROR_RATE="1.5"`},
		{name: "error rate NaN", env: with(contract.EnvErrorRate, "NaN"), wantErr: `MESHSIM_ERROR_RATE="NaN"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromEnv(tt.env, "t1", "127.0.0.7")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ConfigFromEnv: %v, want an error containing %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type answer struct {
	status  int
	header  http.Header
	body    Response
	rawBody string
}

func get(t *testing.T, c *http.Client, url string) answer {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, rawBody: string(raw)}
	json.Unmarshal(raw, &a.body)
	return a
}

func TestChain(t *testing.T) {
	movie := start(t, Config{Service: "movie", Version: "v2", TaskID: "m1"})
	home := start(t, Config{Service: "home", Version: "v1", TaskID: "h1", Backends: []string{"http://" + movie.Addr() + "/movies"}})

	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, "http://"+home.Addr()+"/any/path", nil)
		resp, err := newClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body Response
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d, body %+v", method, resp.StatusCode, body)
		}
		for h, want := range map[string]string{
			contract.HeaderVersion: "v1", contract.HeaderTask: "h1", contract.HeaderChain: "home/v1/h1,movie/v2/m1",
		} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", method, h, got, want)
			}
		}
		want := Response{Service: "home", Version: "v1", Task: "h1", Backends: []BackendResult{{
			URL: "http://" + movie.Addr() + "/movies", Status: 200, Version: "v2", Task: "m1", Chain: "movie/v2/m1",
		}}}
		if !reflect.DeepEqual(body, want) {
			t.Errorf("%s: body\n got %+v\nwant %+v", method, body, want)
		}
	}
}

// TestProxy checks that backends are called through the proxy in absolute
// form, with Host naming the virtual service.
func TestProxy(t *testing.T) {
	movie := start(t, Config{Service: "movie", Version: "v2", TaskID: "m1"})
	var gotURI, gotHost, gotID atomic.Value
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		gotURI.Store(r.In.RequestURI)
		gotHost.Store(r.In.Host)
		gotID.Store(r.In.Header.Get("X-Request-Id"))
		r.SetURL(&url.URL{Scheme: "http", Host: movie.Addr()})
	}})
	defer proxy.Close()
	home := start(t, Config{Service: "home", Version: "v1", TaskID: "h1", Proxy: proxy.URL, Backends: []string{"http://movie.local:8080/m"}})

	req, _ := http.NewRequest(http.MethodPost, "http://"+home.Addr()+"/", nil)
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get(contract.HeaderChain) != "home/v1/h1,movie/v2/m1" {
		t.Fatalf("status %d chain %q", resp.StatusCode, resp.Header.Get(contract.HeaderChain))
	}
	if gotURI.Load() != "http://movie.local:8080/m" || gotHost.Load() != "movie.local:8080" {
		t.Errorf("proxy saw RequestURI %q Host %q, want absolute form for movie.local:8080", gotURI.Load(), gotHost.Load())
	}
	if gotID.Load() != "req-42" {
		t.Errorf("X-Request-Id at the proxy = %q, want req-42", gotID.Load())
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestBackendFailurePropagates(t *testing.T) {
	failing := start(t, Config{Service: "movie", Version: "v2", TaskID: "m1", ErrorRate: 1})
	noUpstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no healthy upstream", http.StatusServiceUnavailable)
	}))
	defer noUpstream.Close()
	var laterCalls atomic.Int64
	later := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { laterCalls.Add(1) }))
	defer later.Close()

	tests := []struct {
		name      string
		backend   string
		wantChain string
		wantError []string
	}{
		{"backend 500", "http://" + failing.Addr() + "/", "home/v1/h1,movie/v2/m1", []string{"500 Internal Server Error", "injected error"}},
		{"backend refused", "http://" + closedPort(t) + "/", "home/v1/h1", []string{"connection refused"}},
		{"proxy 503", noUpstream.URL, "home/v1/h1", []string{"503 Service Unavailable", "no healthy upstream"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := start(t, Config{Service: "home", Version: "v1", TaskID: "h1", Backends: []string{tt.backend, later.URL}})
			a := get(t, newClient(t), "http://"+home.Addr()+"/")
			if a.status != http.StatusBadGateway {
				t.Fatalf("status %d, want 502; body %s", a.status, a.rawBody)
			}
			if got := a.header.Get(contract.HeaderChain); got != tt.wantChain {
				t.Errorf("chain %q, want %q", got, tt.wantChain)
			}
			if a.header.Get(contract.HeaderVersion) != "v1" {
				t.Errorf("a 502 must still say who answered; version header %q", a.header.Get(contract.HeaderVersion))
			}
			for _, w := range append(tt.wantError, tt.backend) {
				if !strings.Contains(a.body.Error, w) {
					t.Errorf("error %q does not contain %q", a.body.Error, w)
				}
			}
			if len(a.body.Backends) != 1 || a.body.Backends[0].Error == "" {
				t.Errorf("backends %+v: want only the failed backend, with its error", a.body.Backends)
			}
		})
	}
	if n := laterCalls.Load(); n != 0 {
		t.Errorf("the backend after a failed one was called %d times, want 0", n)
	}
}

func TestErrorRate(t *testing.T) {
	c := newClient(t)
	for _, tt := range []struct {
		rate float64
		want int
	}{{0, 200}, {1, 500}} {
		s := start(t, Config{Service: "movie", Version: "v3", TaskID: "m9", ErrorRate: tt.rate})
		for i := 0; i < 20; i++ {
			a := get(t, c, "http://"+s.Addr()+"/")
			if a.status != tt.want || a.header.Get(contract.HeaderVersion) != "v3" || a.header.Get(contract.HeaderTask) != "m9" {
				t.Fatalf("error rate %v: status %d version %q task %q, want %d v3 m9", tt.rate, a.status, a.header.Get(contract.HeaderVersion), a.header.Get(contract.HeaderTask), tt.want)
			}
		}
	}
}

func TestHealthStartDelay(t *testing.T) {
	s := start(t, Config{Service: "movie", Version: "v1", TaskID: "m1", StartDelay: 300 * time.Millisecond})
	c := newClient(t)
	if a := get(t, c, "http://"+s.Addr()+HealthPath); a.status != 503 || !strings.Contains(a.rawBody, "starting") {
		t.Fatalf("health before the start delay: %d %s, want 503 starting", a.status, a.rawBody)
	}
	if a := get(t, c, "http://"+s.Addr()+"/"); a.status != 503 || a.header.Get(contract.HeaderVersion) != "v1" {
		t.Fatalf("request before the start delay: %d, version %q; want 503 from v1", a.status, a.header.Get(contract.HeaderVersion))
	}
	polltest.Eventually(t, "health to pass", func() bool { return get(t, c, "http://"+s.Addr()+HealthPath).status == 200 })
	if a := get(t, c, "http://"+s.Addr()+"/"); a.status != 200 {
		t.Fatalf("request after the start delay: %d", a.status)
	}
}

func refuses(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return true
	}
	conn.Close()
	return false
}

// blockingBackend answers only when released, and says when a request has
// arrived, so a test can hold a request in flight.
func blockingBackend(t *testing.T) (url string, arrived <-chan struct{}, release func()) {
	arr := make(chan struct{}, 1)
	rel := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arr <- struct{}{}
		select {
		case <-rel:
		case <-r.Context().Done():
		}
	}))
	var once atomic.Bool
	release = func() {
		if once.CompareAndSwap(false, true) {
			close(rel)
		}
	}
	t.Cleanup(func() { release(); srv.Close() })
	return srv.URL, arr, release
}

type result struct {
	status int
	err    error
}

func inFlight(c *http.Client, url string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := c.Post(url, "", nil)
		if err != nil {
			ch <- result{err: err}
			return
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- result{status: resp.StatusCode, err: err}
	}()
	return ch
}

func TestShutdownGracefulFinishesInFlight(t *testing.T) {
	backend, arrived, release := blockingBackend(t)
	s := start(t, Config{Service: "home", Version: "v1", TaskID: "h1", Backends: []string{backend}})
	res := inFlight(newClient(t), "http://"+s.Addr()+"/")
	<-arrived

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	polltest.Eventually(t, "the listener to close", func() bool { return refuses(s.Addr()) })
	release()
	if r := <-res; r.err != nil || r.status != 200 {
		t.Errorf("in-flight request during a graceful shutdown: status %d, err %v; want 200", r.status, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestShutdownTimesOut(t *testing.T) {
	backend, arrived, _ := blockingBackend(t)
	s := start(t, Config{Service: "home", Version: "v1", TaskID: "h1", Backends: []string{backend}})
	res := inFlight(newClient(t), "http://"+s.Addr()+"/")
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown with a request stuck in flight returned nil, want the context's error")
	}
	// What a runtime does next, like SIGKILL after the stop timeout.
	s.Close()
	if r := <-res; r.err == nil {
		t.Errorf("request cut by Close got status %d, want a transport error", r.status)
	}
}

func TestCloseIsAbrupt(t *testing.T) {
	backend, arrived, _ := blockingBackend(t)
	s := start(t, Config{Service: "home", Version: "v1", TaskID: "h1", Backends: []string{backend}})
	res := inFlight(newClient(t), "http://"+s.Addr()+"/")
	<-arrived
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := <-res; r.err == nil {
		t.Errorf("in-flight request during Close: status %d, want a transport error", r.status)
	}
	if !refuses(s.Addr()) {
		t.Error("closed server still accepts connections")
	}
}

func TestDrainKeepsServing(t *testing.T) {
	s := start(t, Config{Service: "home", Version: "v1", TaskID: "h1", Drain: time.Second})
	c := newClient(t)
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	polltest.Eventually(t, "health to fail", func() bool { return get(t, c, "http://"+s.Addr()+HealthPath).status == 503 })
	if a := get(t, c, "http://"+s.Addr()+"/"); a.status != 200 {
		t.Errorf("request while draining: status %d, want 200", a.status)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !refuses(s.Addr()) {
		t.Error("server still accepts connections after Shutdown")
	}
}

func TestContextEndCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, Config{Service: "home", Version: "v1", TaskID: "h1", Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if refuses(s.Addr()) {
		t.Fatal("server does not accept connections")
	}
	cancel()
	polltest.Eventually(t, "the server to close", func() bool { return refuses(s.Addr()) })
}

func TestStartRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Version: "v1", Addr: "127.0.0.1:0"},
		{Service: "a", Version: "v1", Addr: "127.0.0.1:0", ErrorRate: 2},
		{Service: "a", Version: "v1", Addr: "127.0.0.1:0", Backends: []string{"movie"}},
		{Service: "a", Version: "v1", Addr: "not an address"},
	} {
		if s, err := Start(context.Background(), cfg); err == nil {
			s.Close()
			t.Errorf("Start(%+v) succeeded, want an error", cfg)
		}
	}
}
