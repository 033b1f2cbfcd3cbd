package loadgen

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll/polltest"
	"github.com/meshsim/meshsim/sim/sampleapp"
)

// memSink keeps observations in memory; after, if set, is called after each
// one with the number observed so far.
type memSink struct {
	mu    sync.Mutex
	obs   []rundir.Observation
	after func(n int) error
}

func (s *memSink) Observe(o rundir.Observation) error {
	s.mu.Lock()
	s.obs = append(s.obs, o)
	n := len(s.obs)
	s.mu.Unlock()
	if s.after != nil {
		return s.after(n)
	}
	return nil
}

func (s *memSink) sorted() []rundir.Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	obs := append([]rundir.Observation(nil), s.obs...)
	sort.Slice(obs, func(i, j int) bool { return obs[i].Seq < obs[j].Seq })
	return obs
}

func startApp(t *testing.T, cfg sampleapp.Config) *sampleapp.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := sampleapp.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// run calls RunHTTP and fails the test if it does not return within a
// generous bound (a hang guard, not a performance assertion).
func run(t *testing.T, ctx context.Context, cfg HTTPConfig, step func() int, sink Sink) (Summary, error) {
	t.Helper()
	type out struct {
		sum Summary
		err error
	}
	done := make(chan out, 1)
	go func() {
		sum, err := RunHTTP(ctx, cfg, step, sink)
		done <- out{sum, err}
	}()
	select {
	case o := <-done:
		return o.sum, o.err
	case <-time.After(polltest.Limit):
		t.Fatal("RunHTTP did not return")
		return Summary{}, nil
	}
}

// checkComplete checks that every request was observed exactly once: the
// summary counts what the sink got, and sequence numbers run 1..n.
func checkComplete(t *testing.T, sum Summary, obs []rundir.Observation) {
	t.Helper()
	if sum.Requests != len(obs) {
		t.Errorf("Summary.Requests = %d, sink got %d observations", sum.Requests, len(obs))
	}
	for i, o := range obs {
		if o.Seq != uint64(i+1) {
			t.Fatalf("observation %d has Seq %d: sequence numbers must run 1..n without gaps or repeats", i, o.Seq)
		}
		if o.Kind != "http" {
			t.Errorf("Seq %d: Kind %q, want http", o.Seq, o.Kind)
		}
		if o.Sent.Before(o.Scheduled) {
			t.Errorf("Seq %d: sent %v before it was scheduled", o.Seq, o.Scheduled.Sub(o.Sent))
		}
		if o.Latency < o.ServiceTime {
			t.Errorf("Seq %d: latency %v below service time %v", o.Seq, o.Latency, o.ServiceTime)
		}
	}
	var failed int
	for _, n := range sum.Errors {
		failed += n
	}
	if sum.Successes+failed != sum.Requests {
		t.Errorf("successes %d + failures %d != requests %d", sum.Successes, failed, sum.Requests)
	}
}

func TestRunHTTPThroughChain(t *testing.T) {
	movie := startApp(t, sampleapp.Config{Service: "movie", Version: "v2", TaskID: "m1"})
	home := startApp(t, sampleapp.Config{Service: "home", Version: "v1", TaskID: "h1", Backends: []string{"http://" + movie.Addr() + "/"}})

	// The step advances every 100 scheduled requests: step() is called
	// once per request, when it is scheduled.
	var calls atomic.Int64
	step := func() int { return int(calls.Add(1)-1) / 100 }
	sink := &memSink{}
	sum, err := run(t, context.Background(), HTTPConfig{
		Target: "http://" + home.Addr() + "/", Rate: 200, Duration: time.Second, MeasuredService: "movie",
	}, step, sink)
	if err != nil {
		t.Fatal(err)
	}
	obs := sink.sorted()
	checkComplete(t, sum, obs)
	if len(obs) < 150 {
		t.Fatalf("only %d requests in 1 s at 200/s", len(obs))
	}
	if sum.Successes != len(obs) || len(sum.Errors) != 0 {
		t.Errorf("summary %+v: want every request to succeed", sum)
	}
	if sum.AchievedRate < 100 || sum.AchievedRate > 300 {
		t.Errorf("achieved rate %.1f/s for an offered 200/s", sum.AchievedRate)
	}
	for _, o := range obs {
		if o.Status != 200 || o.Error != "" || o.ErrorKind != "" {
			t.Fatalf("Seq %d failed: %+v", o.Seq, o)
		}
		if o.Version != "v2" || o.Task != "m1" || o.Chain != "home/v1/h1,movie/v2/m1" {
			t.Fatalf("Seq %d: version %q task %q chain %q; want the measured service movie v2 m1", o.Seq, o.Version, o.Task, o.Chain)
		}
		// Requests are numbered in the order workers pick them up, which
		// may swap neighbours; allow that at the step boundary.
		switch want := int(o.Seq-1) / 100; {
		case int(o.Seq-1)%100 < 5 || int(o.Seq-1)%100 > 94:
			if o.Step != want && o.Step != want-1 && o.Step != want+1 {
				t.Errorf("Seq %d: step %d, want about %d", o.Seq, o.Step, want)
			}
		case o.Step != want:
			t.Errorf("Seq %d: step %d, want %d", o.Seq, o.Step, want)
		}
	}
	if first, last := obs[0].Scheduled, obs[len(obs)-1].Scheduled; last.Sub(first) < 700*time.Millisecond {
		t.Errorf("schedule spans %v for a 1 s run", last.Sub(first))
	}
}

func TestRunHTTPMeasuredService(t *testing.T) {
	movie := startApp(t, sampleapp.Config{Service: "movie", Version: "v2", TaskID: "m1"})
	home := startApp(t, sampleapp.Config{Service: "home", Version: "v1", TaskID: "h1", Backends: []string{"http://" + movie.Addr() + "/"}})
	tests := []struct {
		measured, version, task string
	}{
		{"", "v1", "h1"},
		{"home", "v1", "h1"},
		{"movie", "v2", "m1"},
		{"ratings", "", ""},
	}
	for _, tt := range tests {
		sink := &memSink{}
		if _, err := run(t, context.Background(), HTTPConfig{
			Target: "http://" + home.Addr() + "/", Method: "GET", Rate: 100, Duration: 100 * time.Millisecond, MeasuredService: tt.measured,
		}, nil, sink); err != nil {
			t.Fatal(err)
		}
		obs := sink.sorted()
		if len(obs) == 0 {
			t.Fatalf("measured %q: no observations", tt.measured)
		}
		for _, o := range obs {
			if o.Version != tt.version || o.Task != tt.task || o.Step != 0 {
				t.Errorf("measured %q: version %q task %q step %d, want %q %q 0", tt.measured, o.Version, o.Task, o.Step, tt.version, tt.task)
			}
		}
	}
}

// TestRunHTTPServerKilled kills the target mid-run: the requests that then
// fail must be observed and classified as dropped connections.
func TestRunHTTPServerKilled(t *testing.T) {
	app := startApp(t, sampleapp.Config{Service: "home", Version: "v1", TaskID: "h1", Latency: 20 * time.Millisecond})
	sink := &memSink{}
	sink.after = func(n int) error {
		if n == 60 {
			app.Close()
		}
		return nil
	}
	sum, err := run(t, context.Background(), HTTPConfig{
		Target: "http://" + app.Addr() + "/", Rate: 200, Duration: time.Second,
	}, nil, sink)
	if err != nil {
		t.Fatal(err)
	}
	obs := sink.sorted()
	checkComplete(t, sum, obs)
	if sum.Successes < 60 {
		t.Errorf("%d successes, want at least the 60 before the kill", sum.Successes)
	}
	if sum.Errors["refused"] == 0 {
		t.Errorf("errors %v: want connections refused after the kill", sum.Errors)
	}
	t.Logf("summary after the kill: %+v", sum)
	for _, o := range obs {
		if o.OK() {
			continue
		}
		switch o.ErrorKind {
		case "refused", "reset", "eof":
		default:
			t.Errorf("Seq %d: kind %q for error %q, want refused, reset or eof", o.Seq, o.ErrorKind, o.Error)
		}
		if o.Status != 0 || o.Error == "" || strings.Contains(o.Error, app.Addr()+"/\"") {
			t.Errorf("Seq %d: status %d error %q", o.Seq, o.Status, o.Error)
		}
	}
}

// closingServer answers the first request on each connection and closes the
// connection on reading the second, as a task dying under load does. It
// counts the requests it read.
func closingServer(t *testing.T) (url string, received *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	received = &atomic.Int64{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				br := bufio.NewReader(conn)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					received.Add(1)
					if i == 1 {
						return
					}
					resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
					if req.Method != http.MethodHead {
						resp += "ok"
					}
					io.WriteString(conn, resp)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/", received
}

// TestRunHTTPNoSilentRetries checks that net/http does not resend a request
// that died with its connection: the server must see exactly the observed
// requests, and the drops must be observed.
func TestRunHTTPNoSilentRetries(t *testing.T) {
	for _, method := range []string{"GET", "POST", "HEAD", "OPTIONS", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			url, received := closingServer(t)
			sink := &memSink{}
			sum, err := run(t, context.Background(), HTTPConfig{
				Target: url, Method: method, Rate: 50, Duration: 400 * time.Millisecond,
			}, nil, sink)
			if err != nil {
				t.Fatal(err)
			}
			obs := sink.sorted()
			checkComplete(t, sum, obs)
			if got := received.Load(); got != int64(len(obs)) {
				t.Errorf("server read %d requests, generator observed %d: requests were resent", got, len(obs))
			}
			if sum.Errors["eof"] == 0 {
				t.Errorf("errors %v: want the closed connections observed as eof", sum.Errors)
			}
		})
	}
}

func TestRunHTTPCancelFlushes(t *testing.T) {
	app := startApp(t, sampleapp.Config{Service: "home", Version: "v1", TaskID: "h1"})
	dir := t.TempDir()
	w, err := rundir.Create(dir, rundir.Meta{RunID: "cancel"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &memSink{after: func(n int) error {
		if n == 30 {
			cancel()
		}
		return nil
	}}
	sum, err := run(t, ctx, HTTPConfig{Target: "http://" + app.Addr() + "/", Rate: 200}, nil, sinkFunc(func(o rundir.Observation) error {
		if err := w.Observe(o); err != nil {
			return err
		}
		return sink.Observe(o)
	}))
	if err != nil {
		t.Fatalf("RunHTTP after cancel: %v, want nil", err)
	}
	if sum.Requests < 30 || sum.Requests > 100 {
		t.Errorf("%d requests; the run should stop soon after the 30th", sum.Requests)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := rundir.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Observations) != sum.Requests || sum.Successes != sum.Requests {
		t.Errorf("run directory holds %d observations, summary %+v: every request must be recorded", len(r.Observations), sum)
	}
}

type sinkFunc func(rundir.Observation) error

func (f sinkFunc) Observe(o rundir.Observation) error { return f(o) }

func stuckServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRunHTTPCancelAbandonsStuckRequests(t *testing.T) {
	url := stuckServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &memSink{}
	time.AfterFunc(200*time.Millisecond, cancel)
	sum, err := run(t, ctx, HTTPConfig{Target: url, Rate: 50, Timeout: time.Minute}, nil, sink)
	if err != nil {
		t.Fatal(err)
	}
	obs := sink.sorted()
	checkComplete(t, sum, obs)
	if len(obs) == 0 || sum.Errors["canceled"] != len(obs) {
		t.Errorf("summary %+v: want every stuck request observed as canceled", sum)
	}
}

// At a low rate the next request may be minutes away; a cancelled run
// still ends at once instead of waiting for it.
func TestRunHTTPCancelBeforeNextRequest(t *testing.T) {
	app := startApp(t, sampleapp.Config{Service: "home", Version: "v1", TaskID: "h1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &memSink{}
	time.AfterFunc(50*time.Millisecond, cancel)
	// One request every 1000 s: the first is due long after run's bound.
	sum, err := run(t, ctx, HTTPConfig{Target: "http://" + app.Addr() + "/", Rate: 0.001}, nil, sink)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != 0 {
		t.Errorf("%d requests sent, want none before the first is due", sum.Requests)
	}
}

func TestRunHTTPTimeout(t *testing.T) {
	sink := &memSink{}
	sum, err := run(t, context.Background(), HTTPConfig{Target: stuckServer(t), Rate: 20, Duration: 300 * time.Millisecond, Timeout: 100 * time.Millisecond}, nil, sink)
	if err != nil {
		t.Fatal(err)
	}
	obs := sink.sorted()
	checkComplete(t, sum, obs)
	if len(obs) == 0 || sum.Errors["timeout"] != len(obs) {
		t.Errorf("summary %+v: want every request to time out", sum)
	}
	for _, o := range obs {
		if o.ServiceTime < 100*time.Millisecond {
			t.Errorf("Seq %d timed out after %v, before the 100ms timeout", o.Seq, o.ServiceTime)
		}
	}
}

func TestRunHTTPResponseKinds(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantKind  string
		wantError string
	}{
		{"sidecar no healthy upstream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(contract.HeaderProxy, "sidecar-1")
			http.Error(w, "no healthy upstream", 503)
		}, "no-healthy-upstream", "503 Service Unavailable: no healthy upstream"},
		{"envoy no healthy upstream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Server", "envoy")
			http.Error(w, "no healthy upstream", 503)
		}, "no-healthy-upstream", "no healthy upstream"},
		{"sidecar 504", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(contract.HeaderProxy, "sidecar-1")
			http.Error(w, "upstream request timeout", 504)
		}, "proxy-5xx", "504 Gateway Timeout: upstream request timeout"},
		{"app 502 with a JSON error", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set(contract.HeaderProxy, "sidecar-1") // forwarded by the sidecar
			w.Header().Set(contract.HeaderVersion, "v1")
			w.WriteHeader(502)
			io.WriteString(w, `{"service":"home","version":"v1","task":"h1","error":"backend http://movie/: connection refused","backends":[]}`)
		}, "app-5xx", "502 Bad Gateway: backend http://movie/: connection refused"},
		{"unknown 500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, "other", "500 Internal Server Error"},
		{"404", http.NotFound, "4xx", "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			sink := &memSink{}
			sum, err := run(t, context.Background(), HTTPConfig{Target: srv.URL + "/x", Rate: 50, Duration: 100 * time.Millisecond}, nil, sink)
			if err != nil {
				t.Fatal(err)
			}
			obs := sink.sorted()
			checkComplete(t, sum, obs)
			if len(obs) == 0 {
				t.Fatal("no observations")
			}
			for _, o := range obs {
				if o.OK() || o.ErrorKind != tt.wantKind || !strings.Contains(o.Error, tt.wantError) {
					t.Fatalf("Seq %d: status %d kind %q error %q; want kind %q error containing %q", o.Seq, o.Status, o.ErrorKind, o.Error, tt.wantKind, tt.wantError)
				}
			}
		})
	}
}

// TestRunHTTPRequests checks what goes on the wire: the method, the Host
// header and a unique X-Request-Id per request.
func TestRunHTTPRequests(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]int{}
	var methods, hosts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		ids[r.Header.Get("X-Request-Id")]++
		if r.ContentLength != 0 || len(r.TransferEncoding) != 0 {
			t.Errorf("%s request with a body: Content-Length %d, Transfer-Encoding %v", r.Method, r.ContentLength, r.TransferEncoding)
		}
		methods = append(methods, r.Method)
		hosts = append(hosts, r.Host)
	}))
	defer srv.Close()
	for _, tt := range []struct{ method, host, wantMethod, wantHost string }{
		{"", "", "POST", strings.TrimPrefix(srv.URL, "http://")},
		{"get", "home.local:8080", "GET", "home.local:8080"},
	} {
		mu.Lock()
		ids, methods, hosts = map[string]int{}, nil, nil
		mu.Unlock()
		sink := &memSink{}
		sum, err := run(t, context.Background(), HTTPConfig{Target: srv.URL, Method: tt.method, Host: tt.host, Rate: 100, Duration: 200 * time.Millisecond}, nil, sink)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if len(methods) != sum.Requests || sum.Successes != sum.Requests {
			t.Errorf("server saw %d requests, summary %+v", len(methods), sum)
		}
		for i := range methods {
			if methods[i] != tt.wantMethod || hosts[i] != tt.wantHost {
				t.Fatalf("request %d: %s Host %s, want %s Host %s", i, methods[i], hosts[i], tt.wantMethod, tt.wantHost)
			}
		}
		for id, n := range ids {
			if id == "" || n != 1 {
				t.Errorf("X-Request-Id %q seen %d times, want unique ids", id, n)
			}
		}
		mu.Unlock()
	}
}

func TestRunHTTPSinkErrorStops(t *testing.T) {
	app := startApp(t, sampleapp.Config{Service: "home", Version: "v1", TaskID: "h1"})
	errFull := errors.New("disk full")
	sink := &memSink{after: func(n int) error {
		if n >= 5 {
			return errFull
		}
		return nil
	}}
	// No duration: only the sink error can end this run.
	_, err := run(t, context.Background(), HTTPConfig{Target: "http://" + app.Addr() + "/", Rate: 100}, nil, sink)
	if !errors.Is(err, errFull) {
		t.Fatalf("RunHTTP: %v, want the sink's error", err)
	}
}

func TestRunHTTPInvalidConfig(t *testing.T) {
	tests := []struct {
		cfg  HTTPConfig
		want string
	}{
		{HTTPConfig{Target: "127.0.0.1:8080", Rate: 10}, "target"},
		{HTTPConfig{Target: "ftp://x/", Rate: 10}, "target"},
		{HTTPConfig{Target: "http://x/", Rate: 0}, "rate"},
		{HTTPConfig{Target: "http://x/", Rate: -5}, "rate"},
		{HTTPConfig{Target: "http://x/", Rate: 1e-12}, "rate"},
		{HTTPConfig{Target: "http://x/", Rate: math.NaN()}, "rate"},
		{HTTPConfig{Target: "http://x/", Rate: math.Inf(1)}, "rate"},
		{HTTPConfig{Target: "http://x/", Rate: 10, Timeout: -1}, "timeout"},
		{HTTPConfig{Target: "http://x/", Rate: 10, Duration: -1}, "duration"},
		{HTTPConfig{Target: "http://x/", Rate: 10, Method: "CONNECT"}, "method"},
	}
	for _, tt := range tests {
		if _, err := RunHTTP(context.Background(), tt.cfg, nil, &memSink{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("RunHTTP(%+v): %v, want an error about %s", tt.cfg, err, tt.want)
		}
	}
	if _, err := RunHTTP(context.Background(), HTTPConfig{Target: "http://x/", Rate: 1}, nil, nil); err == nil || !strings.Contains(err.Error(), "sink") {
		t.Errorf("RunHTTP with a nil sink: %v, want an error about the sink", err)
	}
}

func TestNormalizeWorkers(t *testing.T) {
	tests := []struct {
		rate    float64
		timeout time.Duration
		set     uint64
		want    uint64
	}{
		{rate: 200, timeout: 10 * time.Second, want: 2000},
		{rate: 1, timeout: time.Second, want: minWorkers},
		{rate: 50000, timeout: 30 * time.Second, want: maxDefaultWorkers},
		{rate: 200, timeout: time.Second, set: 7, want: 7},
	}
	for _, tt := range tests {
		cfg, err := HTTPConfig{Target: "http://x/", Rate: tt.rate, Timeout: tt.timeout, MaxWorkers: tt.set}.normalize()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MaxWorkers != tt.want {
			t.Errorf("rate %v timeout %v set %d: MaxWorkers %d, want %d", tt.rate, tt.timeout, tt.set, cfg.MaxWorkers, tt.want)
		}
	}
}

func TestClassify(t *testing.T) {
	proxy := http.Header{contract.HeaderProxy: {"sidecar"}}
	app := http.Header{contract.HeaderVersion: {"v1"}, contract.HeaderProxy: {"sidecar"}}
	tests := []struct {
		status  int
		err     string
		header  http.Header
		body    string
		aborted bool
		want    string
	}{
		{0, `Post "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`, nil, "", false, "refused"},
		{0, `Post "http://h/": dial tcp 10.0.0.1:80: connectex: No connection could be made because the target machine actively refused it.`, nil, "", false, "refused"},
		{0, `Post "http://h/": read tcp 127.0.0.1:5->127.0.0.1:6: read: connection reset by peer`, nil, "", false, "reset"},
		{0, `Post "http://h/": write tcp 127.0.0.1:5->127.0.0.1:6: write: broken pipe`, nil, "", false, "reset"},
		{0, `Post "http://h/": EOF`, nil, "", false, "eof"},
		{0, `unexpected EOF`, nil, "", false, "eof"},
		{0, `Get "http://h/": http: server closed idle connection`, nil, "", false, "eof"},
		{0, `Post "http://h/": context deadline exceeded`, nil, "", false, "timeout"},
		{0, `Post "http://h/": dial tcp 10.0.0.1:80: i/o timeout`, nil, "", false, "timeout"},
		{0, `Post "http://h/": context canceled`, nil, "", true, "canceled"},
		{0, `Post "http://h/": context canceled`, nil, "", false, "other"},
		{0, `Post "http://h/": tls: handshake failure`, nil, "", false, "other"},
		{503, "503 Service Unavailable", proxy, "no healthy upstream\n", false, "no-healthy-upstream"},
		{503, "503 Service Unavailable", proxy, "upstream connect error", false, "proxy-5xx"},
		{503, "503 Service Unavailable", http.Header{"Server": {"envoy"}}, "upstream connect error", false, "proxy-5xx"},
		{502, "502 Bad Gateway", app, `{"error":"backend"}`, false, "app-5xx"},
		{500, "500 Internal Server Error", nil, "", false, "other"},
		// A user's application names no version; the proxy passed its
		// answer on (upstream service time), not made it.
		{500, "500 Internal Server Error", http.Header{contract.HeaderProxy: {"mesh/m/virtualNode/gw"}, contract.HeaderUpstreamServiceTime: {"3"}}, "oops", false, "app-5xx"},
		{429, "429 Too Many Requests", proxy, "", false, "4xx"},
		{101, "101 Switching Protocols", nil, "", false, "other"},
	}
	for _, tt := range tests {
		if got := classify(tt.status, tt.err, tt.header, []byte(tt.body), tt.aborted); got != tt.want {
			t.Errorf("classify(%d, %q, %v, %q, aborted=%v) = %q, want %q", tt.status, tt.err, tt.header, tt.body, tt.aborted, got, tt.want)
		}
	}
}

func TestServedBy(t *testing.T) {
	h := http.Header{contract.HeaderVersion: {"v1"}, contract.HeaderTask: {"h1"}}
	chain := "home/v1/h1,movie/v2/arn:aws:ecs:us-east-1:000000000000:task/c/m1,ratings/v3/r1"
	tests := []struct {
		chain, measured, version, task string
	}{
		{chain, "", "v1", "h1"},
		{chain, "home", "v1", "h1"},
		{chain, "movie", "v2", "arn:aws:ecs:us-east-1:000000000000:task/c/m1"},
		{chain, "ratings", "v3", "r1"},
		{chain, "reviews", "", ""},
		{"", "movie", "v1", "h1"},
	}
	for _, tt := range tests {
		v, task := servedBy(h, tt.chain, tt.measured)
		if v != tt.version || task != tt.task {
			t.Errorf("servedBy(%q, %q) = %q, %q; want %q, %q", tt.chain, tt.measured, v, task, tt.version, tt.task)
		}
	}
}
