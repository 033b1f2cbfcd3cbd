package sampleapp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func TestKnobsFromEnv(t *testing.T) {
	base := map[string]string{contract.EnvService: "movie", contract.EnvVersion: "v2"}
	with := func(k, v string) map[string]string {
		env := map[string]string{k: v}
		for bk, bv := range base {
			env[bk] = bv
		}
		return env
	}
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{"abrupt", with(contract.EnvShutdown, "abrupt"), func(c Config) bool { return c.Abrupt }, ""},
		{"graceful", with(contract.EnvShutdown, "graceful"), func(c Config) bool { return !c.Abrupt }, ""},
		{"bad shutdown", with(contract.EnvShutdown, "sometimes"), nil, `MESHSIM_SHUTDOWN="sometimes": must be graceful or abrupt`},
		{"crash", with(contract.EnvCrashAfter, "3s"), func(c Config) bool { return c.CrashAfter == 3*time.Second }, ""},
		{"health fail", with(contract.EnvHealth, "fail"), func(c Config) bool { return c.FailHealth }, ""},
		{"bad health", with(contract.EnvHealth, "meh"), nil, `MESHSIM_HEALTH="meh"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ConfigFromEnv(tc.env, "t1", "127.0.0.1")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(cfg) {
				t.Fatalf("cfg %+v, err %v", cfg, err)
			}
		})
	}
}

func TestFailHealth(t *testing.T) {
	s := startKnob(t, Config{FailHealth: true})
	resp, err := http.Get("http://" + s.Addr() + HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/health = %d, want 503", resp.StatusCode)
	}
}

func TestCrashAfter(t *testing.T) {
	s := startKnob(t, Config{CrashAfter: 50 * time.Millisecond})
	polltest.Eventually(t, "the task to crash", func() bool {
		select {
		case <-s.Done():
			return true
		default:
			return false
		}
	})
	if !errors.Is(s.Err(), ErrCrashed) {
		t.Errorf("Err() = %v, want ErrCrashed", s.Err())
	}
	if _, err := http.Get("http://" + s.Addr() + "/"); err == nil {
		t.Error("a crashed task still answers")
	}
}

// TestAbruptShutdownCutsInFlight: with Abrupt, Shutdown cuts a request in
// flight instead of letting it finish. The request is known to be in
// flight because it waits on a backend the test holds.
func TestAbruptShutdownCutsInFlight(t *testing.T) {
	for _, abrupt := range []bool{false, true} {
		entered, release := make(chan struct{}, 1), make(chan struct{})
		backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		s := startKnob(t, Config{Abrupt: abrupt, Backends: []string{backend.URL}})
		errc := make(chan error, 1)
		go func() {
			resp, err := http.Get("http://" + s.Addr() + "/")
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		<-entered
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(context.Background()) }()
		if !abrupt {
			// Shutdown is under way (the listener is closed) while the
			// request waits on the backend; then the backend answers.
			polltest.Eventually(t, "the listener to close", func() bool {
				c, err := net.Dial("tcp", s.Addr())
				if err == nil {
					c.Close()
				}
				return err != nil
			})
			close(release)
		}
		err := <-errc
		if abrupt {
			close(release)
		}
		if abrupt && err == nil {
			t.Error("abrupt: the in-flight request completed")
		}
		if !abrupt && err != nil {
			t.Errorf("graceful: the in-flight request failed: %v", err)
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-s.Done()
		if s.Err() != nil {
			t.Errorf("Err() after Shutdown = %v", s.Err())
		}
		backend.Close()
	}
}

func startKnob(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Service, cfg.Version, cfg.TaskID, cfg.Addr = "movie", "v1", "t1", "127.0.0.1:0"
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
