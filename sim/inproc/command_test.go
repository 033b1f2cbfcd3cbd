//go:build unix

package inproc

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshsim/meshsim/examples/tinyapp/tinyapptest"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func readExit(t *testing.T, path string) Exit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var e Exit
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return e
}

// TestCommandTask runs a user's HTTP service as a local process per task:
// bound to the task's own address through HOST and PORT, health-checked,
// stopped with SIGTERM, its output and exit kept per task.
func TestCommandTask(t *testing.T) {
	bin := tinyapptest.Build(t)
	logs := t.TempDir()
	rt := New(Options{})
	defer rt.Close()
	rt.Handle(contract.CommandImage, Commands{LogDir: logs})
	app := func(version string) ecs.ContainerSpec {
		return ecs.ContainerSpec{
			Name: "app", Image: contract.CommandImage, Essential: true,
			Command: []string{bin, "-drain", "0s"},
			Env:     map[string]string{"HOST": "0.0.0.0", "PORT": "8080", "APP_VERSION": version},
			Ports:   []ecs.PortMapping{{ContainerPort: 8080}},
			HealthCheck: &ecs.HealthCheck{
				Command:  []string{"CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"},
				Interval: 20 * time.Millisecond, Timeout: time.Second, Retries: 3,
			},
		}
	}
	repA, repB := newReports(), newReports()
	a, err := rt.Start(context.Background(), spec("aaaa", app("v1")), repA.add)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rt.Start(context.Background(), spec("bbbb", app("v2")), repB.add)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*reports{repA, repB} {
		// Failures during the start period do not count; the process
		// needs a moment to listen.
		for rep := r.next(t); rep.Health != ecs.HealthHealthy; rep = r.next(t) {
			if rep.Exit != nil || rep.Health == ecs.HealthUnhealthy {
				t.Fatalf("report %+v before the task was healthy", rep)
			}
		}
	}
	for _, tc := range []struct{ ip, want string }{{a.IP, "tinyapp v1\n"}, {b.IP, "tinyapp v2\n"}} {
		body, err := get(t, "http://"+tc.ip+":8080/")
		if err != nil || body != tc.want {
			t.Errorf("task at %s answered %q, %v; want %q", tc.ip, body, err, tc.want)
		}
	}
	if err := rt.Stop(context.Background(), "aaaa", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	repA.mu.Lock()
	last := repA.list[len(repA.list)-1]
	repA.mu.Unlock()
	if last.Exit == nil || last.Exit.Code != 0 {
		t.Errorf("last report = %+v, want exit code 0 (the app drains on SIGTERM)", last)
	}
	stderr, err := os.ReadFile(filepath.Join(logs, "aaaa", "app.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listening on " + a.IP + ":8080", "got terminated", "drained"} {
		if !strings.Contains(string(stderr), want) {
			t.Errorf("app.stderr lacks %q:\n%s", want, stderr)
		}
	}
	if e := readExit(t, filepath.Join(logs, "aaaa", "app.exit")); e.Code != 0 || e.Ended.Before(e.Started) {
		t.Errorf("app.exit = %+v, want code 0", e)
	}
}

// TestCommandStop: how a process ends shows in its exit code, as ECS
// reports it: its own code, 143 when SIGTERM ended it, 137 when it was
// killed after the stop timeout; the whole process group is signalled.
func TestCommandStop(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		stop     bool // stop the task, or let the process exit
		wantCode int
		stdout   string
		stderr   string
	}{
		{"exits by itself", `echo out; echo err >&2; exit 3`, false, 3, "out\n", "err\n"},
		{"ended by SIGTERM", `echo $$ >pids; exec sleep 30`, true, 143, "", ""},
		{"ignores SIGTERM", `trap '' TERM; sleep 30 & echo $! >pids; wait; wait`, true, 137, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs, work := t.TempDir(), t.TempDir()
			rt := New(Options{})
			defer rt.Close()
			rt.Handle(contract.CommandImage, Commands{LogDir: logs})
			c := ecs.ContainerSpec{
				Name: "job", Image: contract.CommandImage, Essential: true,
				EntryPoint: []string{"/bin/sh", "-c"}, Command: []string{tt.script},
				WorkingDirectory: work,
			}
			rep := newReports()
			if _, err := rt.Start(context.Background(), spec("cccc", c), rep.add); err != nil {
				t.Fatal(err)
			}
			if tt.stop {
				// The script writes its pid file once it runs.
				waitFile(t, filepath.Join(work, "pids"))
				if err := rt.Stop(context.Background(), "cccc", 300*time.Millisecond); err != nil {
					t.Fatal(err)
				}
			}
			got := rep.next(t)
			if got.Exit == nil || got.Exit.Code != tt.wantCode {
				t.Fatalf("report %+v, want exit code %d", got, tt.wantCode)
			}
			e := readExit(t, filepath.Join(logs, "cccc", "job.exit"))
			if e.Code != tt.wantCode {
				t.Errorf("job.exit = %+v, want code %d", e, tt.wantCode)
			}
			for name, want := range map[string]string{"job.stdout": tt.stdout, "job.stderr": tt.stderr} {
				b, err := os.ReadFile(filepath.Join(logs, "cccc", name))
				if err != nil || string(b) != want {
					t.Errorf("%s = %q, %v; want %q", name, b, err, want)
				}
			}
			if tt.stop {
				b, _ := os.ReadFile(filepath.Join(work, "pids"))
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				waitGone(t, pid)
			}
		})
	}
}

func TestCommandStartErrors(t *testing.T) {
	tests := []struct {
		name string
		c    Container
		want string
	}{
		{"no command", Container{Name: "app"}, "names no entryPoint or command"},
		{"not found", Container{Name: "app", Command: []string{"./no-such-program"}}, "no-such-program"},
		{"not executable", Container{Name: "app", Command: []string{"./go.mod"}, WorkingDirectory: "../.."}, "not an executable file"},
		{"user", Container{Name: "app", Command: []string{"/bin/true"}, User: "nginx"}, `user "nginx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Commands{}.Start(context.Background(), tt.c)
			if err == nil {
				_ = p.Kill()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestTaskLocal(t *testing.T) {
	const ip = "127.0.1.9"
	for in, want := range map[string]string{
		"0.0.0.0":                    ip,
		"localhost":                  ip,
		"127.0.0.1:9000":             ip + ":9000",
		"http://localhost:15001":     "http://" + ip + ":15001",
		"grpc://127.0.0.1/x":         "grpc://" + ip + "/x",
		"8080":                       "8080",
		"db.internal:5432":           "db.internal:5432",
		"http://movie.local:8080/":   "http://movie.local:8080/",
		"postgres://localhost/app?x": "postgres://" + ip + "/app?x",
	} {
		if got := TaskLocal(in, ip); got != want {
			t.Errorf("TaskLocal(%q) = %q, want %q", in, got, want)
		}
	}
}

// waitFile waits until path exists: the process wrote it.
func waitFile(t *testing.T, path string) {
	t.Helper()
	polltest.Eventually(t, path+" to be written", func() bool {
		b, err := os.ReadFile(path)
		return err == nil && len(b) > 0 && b[len(b)-1] == '\n'
	})
}

// waitGone waits until no process pid exists (or only a zombie does).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	polltest.Eventually(t, "process "+strconv.Itoa(pid)+" of the stopped task to end", func() bool {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) || zombie(pid)
	})
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) STATE ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
