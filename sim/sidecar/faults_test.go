package sidecar_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/poll/polltest"
	"github.com/meshsim/meshsim/sim/sidecar"
	"github.com/meshsim/meshsim/sim/sidecar/admin"
)

// startIngressSidecar runs the home sidecar on a task address whose
// application (at port 8080) answers "home app"; requests to its ingress
// listener reach that application.
func startIngressSidecar(t *testing.T) *sidecar.Proxy {
	t.Helper()
	return startIngressSidecarWith(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "home app")
	}))
}

// startIngressSidecarWith is startIngressSidecar with app as the
// application.
func startIngressSidecarWith(t *testing.T, h http.Handler) *sidecar.Proxy {
	t.Helper()
	ip := loopbackIP(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "8080"))
	if err != nil {
		t.Fatal(err)
	}
	app := &http.Server{Handler: h}
	go app.Serve(ln)
	t.Cleanup(func() { app.Close() })
	cp := startControlPlane(t, "")
	if err := cp.srv.Update(context.Background(), movieWorld(nil, nil, 100, 0)); err != nil {
		t.Fatal(err)
	}
	return startSidecar(t, cp.addr, homeARN, ip)
}

func adminCall(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

func TestFaultsAdminAPI(t *testing.T) {
	p := startIngressSidecar(t)
	if want := ":9901"; !strings.HasSuffix(p.AdminAddr(), want) {
		t.Fatalf("AdminAddr = %s, want port 9901", p.AdminAddr())
	}
	url := "http://" + p.AdminAddr() + admin.FaultsPath
	steps := []struct {
		method, body string
		status       int
		want         admin.Faults // after the call
		errWant      string
	}{
		{"GET", "", 200, admin.Faults{}, ""},
		{"POST", `{"delay":"200ms"}`, 200, admin.Faults{Delay: 200 * time.Millisecond}, ""},
		{"POST", `{"dropPercent":20}`, 200, admin.Faults{Delay: 200 * time.Millisecond, DropPercent: 20}, ""},
		{"POST", `{"delay":"-1s"}`, 400, admin.Faults{Delay: 200 * time.Millisecond, DropPercent: 20}, "delay"},
		{"POST", `{"dropPercent":101}`, 400, admin.Faults{Delay: 200 * time.Millisecond, DropPercent: 20}, "dropPercent"},
		{"POST", `{"latency":"1s"}`, 400, admin.Faults{Delay: 200 * time.Millisecond, DropPercent: 20}, "unknown field"},
		{"POST", `{}`, 400, admin.Faults{Delay: 200 * time.Millisecond, DropPercent: 20}, "give"},
		{"POST", `{"delay":"0s"}`, 200, admin.Faults{DropPercent: 20}, ""},
		{"DELETE", "", 200, admin.Faults{}, ""},
	}
	for i, s := range steps {
		status, body := adminCall(t, s.method, url, s.body)
		if status != s.status || !strings.Contains(body, s.errWant) {
			t.Fatalf("step %d: %s %s: %d %q, want %d containing %q", i, s.method, s.body, status, body, s.status, s.errWant)
		}
		if got := p.Faults(); got != s.want {
			t.Fatalf("step %d: %s %s: faults %+v, want %+v", i, s.method, s.body, got, s.want)
		}
		if status == 200 {
			var got admin.Faults
			if err := json.Unmarshal([]byte(body), &got); err != nil || got != s.want {
				t.Fatalf("step %d: answer %q (%v), want %+v", i, body, err, s.want)
			}
		}
	}

	// The client functions the engine uses.
	ctx := context.Background()
	if err := admin.SetDelay(ctx, http.DefaultClient, p.AdminAddr(), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := admin.SetDropPercent(ctx, http.DefaultClient, p.AdminAddr(), 5); err != nil {
		t.Fatal(err)
	}
	if got, want := p.Faults(), (admin.Faults{Delay: 50 * time.Millisecond, DropPercent: 5}); got != want {
		t.Errorf("after SetDelay, SetDropPercent: %+v, want %+v", got, want)
	}
	if err := admin.SetDropPercent(ctx, http.DefaultClient, p.AdminAddr(), 150); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("SetDropPercent(150) = %v, want a 400", err)
	}
	if err := admin.ClearFaults(ctx, http.DefaultClient, p.AdminAddr()); err != nil {
		t.Fatal(err)
	}
	if got := p.Faults(); got != (admin.Faults{}) {
		t.Errorf("after ClearFaults: %+v", got)
	}
	// A server without the API (Envoy's admin) is named in the error.
	if err := admin.ClearFaults(ctx, http.DefaultClient, strings.TrimPrefix(startBackend(t, "v1", "t", http.NotFound).URL, "http://")); err == nil || !strings.Contains(err.Error(), "no meshsim fault API") {
		t.Errorf("ClearFaults on a server without the API: %v", err)
	}
}

// timedGet returns how long a GET of u took, failing the test on an
// error or an unexpected answer.
func timedGet(t *testing.T, c *http.Client, u string) time.Duration {
	t.Helper()
	start := time.Now()
	r, err := get(c, u)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusOK || r.body != "home app" {
		t.Fatalf("GET %s: %d %q", u, r.status, r.body)
	}
	return time.Since(start)
}

func TestFaultDelay(t *testing.T) {
	p := startIngressSidecar(t)
	u := "http://" + p.IngressAddr() + "/"
	const delay = 150 * time.Millisecond
	if err := admin.SetDelay(context.Background(), http.DefaultClient, p.AdminAddr(), delay); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if d := timedGet(t, http.DefaultClient, u); d < delay {
			t.Errorf("request with a %s delay took %s", delay, d)
		}
	}
	// A client that leaves during the delay is not forwarded.
	ctx, cancel := context.WithTimeout(context.Background(), delay/3)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Errorf("request with a %s deadline answered %s through a %s delay", delay/3, res.Status, delay)
	}
}

// countDrops sends n GETs to u with 8 workers and counts the failures,
// checking each with isDrop.
func countDrops(t *testing.T, c *http.Client, u string, n int, isDrop func(error) bool) int {
	t.Helper()
	var next, drops atomic.Int64
	var mu sync.Mutex
	var other []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				r, err := get(c, u)
				switch {
				case err != nil && isDrop(err):
					drops.Add(1)
				case err != nil || r.status != http.StatusOK:
					mu.Lock()
					other = append(other, r.body)
					if err != nil {
						other[len(other)-1] = err.Error()
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d failures other than drops, first: %s", len(other), other[0])
	}
	return int(drops.Load())
}

// within reports whether k successes of n are within 5 standard
// deviations of the binomial mean for probability p.
func within(k, n int, p float64) bool {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(k)-mean) <= 5*sd
}

func TestFaultDrop(t *testing.T) {
	p := startIngressSidecar(t)
	u := "http://" + p.IngressAddr() + "/"
	const percent, n = 20, 1000
	if err := admin.SetDropPercent(context.Background(), http.DefaultClient, p.AdminAddr(), percent); err != nil {
		t.Fatal(err)
	}

	t.Run("HTTP/1.1 connection reset", func(t *testing.T) {
		// No keep-alive: Go's transport silently retries an idempotent
		// request whose reused connection fails, which would hide drops.
		tr := &http.Transport{DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		drops := countDrops(t, c, u, n, func(err error) bool { return errors.Is(err, syscall.ECONNRESET) })
		t.Logf("%d of %d requests dropped at %d%%", drops, n, percent)
		if !within(drops, n, percent/100.0) {
			t.Errorf("%d of %d requests dropped, want about %d%%", drops, n, percent)
		}
	})

	t.Run("HTTP/2 stream reset", func(t *testing.T) {
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		tr := &http.Transport{Protocols: &protos}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		drops := countDrops(t, c, u, n, func(err error) bool { return strings.Contains(err.Error(), "INTERNAL_ERROR") })
		t.Logf("%d of %d requests dropped at %d%%", drops, n, percent)
		if !within(drops, n, percent/100.0) {
			t.Errorf("%d of %d requests dropped, want about %d%%", drops, n, percent)
		}
	})

	if err := admin.ClearFaults(context.Background(), http.DefaultClient, p.AdminAddr()); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	if drops := countDrops(t, c, u, 200, func(error) bool { return true }); drops != 0 {
		t.Errorf("after ClearFaults, %d of 200 requests dropped", drops)
	}
}

// TestAdminReadiness checks Envoy's readiness endpoints that App Mesh's
// Envoy health check reads: INITIALIZING (503 on /ready) until the first
// complete configuration, LIVE after it; the health check command meshsim
// gives the sidecar container matches only LIVE.
func TestAdminReadiness(t *testing.T) {
	cp := startControlPlane(t, "")
	ip := loopbackIP(t)
	p, err := sidecar.Start(context.Background(), sidecar.Config{NodeID: homeARN, XDSAddress: cp.addr, BindIP: ip, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	base := "http://" + p.AdminAddr()
	// The control plane has no world yet: the proxy waits for its first
	// configuration.
	if code, body := adminCall(t, http.MethodGet, base+admin.ReadyPath, ""); code != http.StatusServiceUnavailable || body != admin.StateInitializing+"\n" {
		t.Errorf("/ready before configuration: %d %q, want 503 %s", code, body, admin.StateInitializing)
	}
	if err := cp.srv.Update(context.Background(), movieWorld(nil, nil, 100, 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Ready():
	case <-time.After(polltest.Limit):
		t.Fatalf("sidecar not ready within %v", polltest.Limit)
	}
	if code, body := adminCall(t, http.MethodGet, base+admin.ReadyPath, ""); code != http.StatusOK || body != admin.StateLive+"\n" {
		t.Errorf("/ready once configured: %d %q, want 200 %s", code, body, admin.StateLive)
	}
	code, body := adminCall(t, http.MethodGet, base+admin.ServerInfoPath, "")
	var info struct {
		State string `json:"state"`
		Node  struct {
			ID string `json:"id"`
		} `json:"node"`
	}
	if err := json.Unmarshal([]byte(body), &info); code != http.StatusOK || err != nil || info.State != admin.StateLive || info.Node.ID == "" {
		t.Errorf("/server_info: %d %q (%v), want state LIVE and the node", code, body, err)
	}
	// The health check's pipeline, as the runtimes run it: curl, grep state, grep -q LIVE.
	cmd := strings.Join(admin.SidecarHealthCheck[1:], " ")
	if !strings.Contains(cmd, admin.ServerInfoPath) || !strings.Contains(body, `"state":"`+admin.StateLive+`"`) {
		t.Errorf("the health check %q does not match the server_info %q", cmd, body)
	}
}
