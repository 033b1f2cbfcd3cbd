package inproc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func TestParseHealthCheck(t *testing.T) {
	tests := []struct {
		name    string
		command []string
		url     string
		fail    bool
		greps   int
		wantErr string
	}{
		{"curl -f shell", []string{"CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"}, "http://127.0.1.7:8080/health", true, 0, ""},
		{"curl exec form", []string{"CMD", "curl", "--fail", "http://127.0.0.1:9000/ready"}, "http://127.0.1.7:9000/ready", true, 0, ""},
		{"curl without -f", []string{"CMD-SHELL", "curl -s http://localhost/"}, "http://127.0.1.7/", false, 0, ""},
		{"curl -sf cluster", []string{"CMD-SHELL", "curl -sfS -o /dev/null http://localhost:8080/"}, "http://127.0.1.7:8080/", true, 0, ""},
		{"wget spider", []string{"CMD-SHELL", "wget -q --spider http://localhost:8080/health"}, "http://127.0.1.7:8080/health", true, 0, ""},
		{"no scheme", []string{"CMD", "curl", "-f", "localhost:8080/health"}, "http://127.0.1.7:8080/health", true, 0, ""},
		{"other host kept", []string{"CMD", "curl", "-f", "http://10.0.0.1:80/x"}, "http://10.0.0.1:80/x", true, 0, ""},
		{"quoted url", []string{"CMD-SHELL", `curl -f 'http://localhost:8080/a b' && echo ok`}, "http://127.0.1.7:8080/a%20b", true, 0, ""},
		{"envoy server_info", []string{"CMD-SHELL", "curl -s http://localhost:9901/server_info | grep state | grep -q LIVE"}, "http://127.0.1.7:9901/server_info", false, 2, ""},
		{"not http", []string{"CMD-SHELL", "pg_isready -U postgres"}, "", false, 0, "curl or wget"},
		{"no url", []string{"CMD", "curl", "-f"}, "", false, 0, "no http:// URL"},
		{"bad prefix", []string{"RUN", "curl", "http://localhost/"}, "", false, 0, "CMD or CMD-SHELL"},
		{"too short", []string{"CMD-SHELL"}, "", false, 0, "curl or wget"},
		{"unterminated quote", []string{"CMD-SHELL", "curl 'http://localhost/"}, "", false, 0, "unterminated quote"},
		{"pipe to other", []string{"CMD-SHELL", "curl http://localhost/ | jq .status"}, "", false, 0, "only grep"},
		{"grep with file", []string{"CMD-SHELL", "curl http://localhost/ | grep ok file.txt"}, "", false, 0, "exactly one pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseHealthCheck(tt.command, "127.0.1.7")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.url != tt.url || p.failOnError != tt.fail || len(p.greps) != tt.greps {
				t.Errorf("probe = {url %q fail %v greps %d}, want {%q %v %d}", p.url, p.failOnError, len(p.greps), tt.url, tt.fail, tt.greps)
			}
		})
	}
}

func TestProbeCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprintln(w, `{"state": "LIVE",`)
			fmt.Fprintln(w, `"version": "1.2"}`)
		case "/draining":
			fmt.Fprintln(w, `{"state": "DRAINING"}`)
		default:
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	base := "http://localhost:" + port
	tests := []struct {
		name   string
		cmd    string
		wantOK bool
	}{
		{"curl -f 200", "curl -f " + base + "/ok", true},
		{"curl -f 500", "curl -f " + base + "/broken || exit 1", false},
		{"curl 500 without -f", "curl -s " + base + "/broken", true},
		{"wget 500", "wget -q -O- " + base + "/broken", false},
		{"grep pipeline matches", "curl -s " + base + "/ok | grep state | grep -q LIVE", true},
		{"grep pipeline misses", "curl -s " + base + "/draining | grep state | grep -q LIVE", false},
		{"grep -v", "curl -s " + base + "/ok | grep -v -q DRAINING", true},
		{"grep -iE", "curl -s " + base + "/ok | grep -qiE 'live|ready'", true},
		{"refused", "curl -f http://127.0.0.1:1/", false},
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseHealthCheck([]string{"CMD-SHELL", tt.cmd}, "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			err = p.check(context.Background(), client)
			if (err == nil) != tt.wantOK {
				t.Errorf("check() = %v, want ok %v", err, tt.wantOK)
			}
		})
	}
}

func TestRunHealthCheck(t *testing.T) {
	healthy := make(chan bool, 1)
	healthy <- true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := <-healthy
		healthy <- ok
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p, err := parseHealthCheck([]string{"CMD", "curl", "-f", srv.URL}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan ecs.HealthStatus, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runHealthCheck(ctx, p, ecs.HealthCheck{Interval: 10 * time.Millisecond, Timeout: time.Second, Retries: 2}, func(h ecs.HealthStatus) { reports <- h })
	}()
	next := func() ecs.HealthStatus {
		select {
		case h := <-reports:
			return h
		case <-time.After(polltest.Limit):
			t.Fatal("no health report")
			return ""
		}
	}
	if h := next(); h != ecs.HealthHealthy {
		t.Fatalf("first report %s, want HEALTHY", h)
	}
	<-healthy
	healthy <- false
	if h := next(); h != ecs.HealthUnhealthy {
		t.Fatalf("after failures %s, want UNHEALTHY", h)
	}
	<-healthy
	healthy <- true
	if h := next(); h != ecs.HealthHealthy {
		t.Fatalf("after recovery %s, want HEALTHY", h)
	}
	cancel()
	<-done
}

func TestRunHealthCheckStartPeriod(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	p, err := parseHealthCheck([]string{"CMD", "curl", "-f", srv.URL}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan ecs.HealthStatus, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	begun := time.Now()
	startPeriod := 200 * time.Millisecond
	go runHealthCheck(ctx, p, ecs.HealthCheck{Interval: 10 * time.Millisecond, Timeout: time.Second, Retries: 1, StartPeriod: startPeriod},
		func(h ecs.HealthStatus) { reports <- h })
	select {
	case h := <-reports:
		if h != ecs.HealthUnhealthy {
			t.Fatalf("report %s, want UNHEALTHY", h)
		}
		if since := time.Since(begun); since < startPeriod {
			t.Errorf("UNHEALTHY after %v, inside the start period of %v", since, startPeriod)
		}
	case <-time.After(polltest.Limit):
		t.Fatal("no health report")
	}
}

// TestRunHealthCheckFastForwarded: before the first regular probe (one
// interval after start) a container is probed every startProbe, so it
// turns HEALTHY as soon as it answers, and the failures before then do
// not count.
func TestRunHealthCheckFastForwarded(t *testing.T) {
	var probes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if probes.Add(1) <= 3 { // still starting
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p, err := parseHealthCheck([]string{"CMD", "curl", "-f", srv.URL}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	reports := make(chan ecs.HealthStatus, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go runHealthCheck(ctx, p, ecs.HealthCheck{Interval: time.Hour, Timeout: time.Second, Retries: 1},
		func(h ecs.HealthStatus) { reports <- h })
	select {
	case h := <-reports:
		if h != ecs.HealthHealthy {
			t.Fatalf("first report %s after %d probes, want HEALTHY (early failures do not count)", h, probes.Load())
		}
	case <-time.After(polltest.Limit):
		t.Fatalf("no health report within %v of an hour's interval: the first probes wait for it", polltest.Limit)
	}
}
