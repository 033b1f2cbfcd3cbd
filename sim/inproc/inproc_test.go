package inproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

func TestAddrPool(t *testing.T) {
	p := addrPool{first: 127<<24 | 0<<16 | 1<<8 | 253, used: map[uint32]bool{}}
	take := func() string {
		t.Helper()
		a, err := p.take(nil)
		if err != nil {
			t.Fatal(err)
		}
		return a.String()
	}
	for _, want := range []string{"127.0.1.253", "127.0.1.254", "127.0.2.1"} {
		if got := take(); got != want {
			t.Fatalf("take() = %s, want %s", got, want)
		}
	}
	p.release(netip.MustParseAddr("127.0.1.254"))
	if got := take(); got != "127.0.1.254" {
		t.Errorf("take() after release = %s, want the freed 127.0.1.254", got)
	}
	if got := take(); got != "127.0.2.2" {
		t.Errorf("take() = %s, want 127.0.2.2", got)
	}

	full := addrPool{first: lastTaskAddr, used: map[uint32]bool{}}
	if _, err := full.take(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := full.take(nil); err == nil {
		t.Error("take() from an exhausted pool succeeded")
	}

	def := addrPool{first: firstTaskAddr, used: map[uint32]bool{}}
	if a, err := def.take(nil); err != nil || a.String() != "127.0.1.1" {
		t.Errorf("first task address = %s, %v; want 127.0.1.1", a, err)
	}

	// An address whose port another process holds is passed over.
	ln, err := net.Listen("tcp", "127.0.3.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := uint32(ln.Addr().(*net.TCPAddr).Port)
	busy := addrPool{first: 127<<24 | 0<<16 | 3<<8 | 3, used: map[uint32]bool{}}
	if a, err := busy.take([]uint32{port}); err != nil || a.String() != "127.0.3.4" {
		t.Errorf("take() with 127.0.3.3:%d busy = %s, %v; want 127.0.3.4", port, a, err)
	}
}

func TestImageMatch(t *testing.T) {
	tests := []struct {
		pattern, image string
		want           bool
	}{
		{"meshsim/sample-http", "meshsim/sample-http:v2", true},
		{"meshsim/sample-http", "meshsim/sample-http@sha256:abcd", true},
		{"meshsim/sample-http", "docker.io/meshsim/sample-http", true},
		{"meshsim/sample-http", "meshsim/sample-grpc", false},
		{"nginx", "docker.io/library/nginx:1.27", true},
		{"*envoy*", "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29.6.0-prod", true},
		{"*envoy*", "envoyproxy/envoy:v1.31", true},
		{"*envoy*", "meshsim/sidecar", false},
		{"localhost:5000/app", "localhost:5000/app:v1", true},
		{"a*b", "ab", true},
		{"ab*b", "ab", false},
	}
	for _, tt := range tests {
		if got := match(repository(tt.pattern), repository(tt.image)); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.image, got, tt.want)
		}
	}
}

// httpStarter starts a real HTTP server on the task IP and the container's
// first port; it answers with the task id and image, and /health with the
// status in health (200 unless set).
type httpStarter struct {
	mu     sync.Mutex
	health int
}

func (s *httpStarter) Start(ctx context.Context, c Container) (Process, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(c.TaskIP, strconv.Itoa(int(c.Ports[0]))))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		code := s.health
		s.mu.Unlock()
		if code == 0 {
			code = http.StatusOK
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s", c.TaskID, c.Image, c.Env["GREETING"])
	})
	return HTTPServer(ln, &http.Server{Handler: mux}), nil
}

// stubborn is a process that ignores SIGTERM.
type stubborn struct {
	once sync.Once
	done chan struct{}
}

func (p *stubborn) Stop(ctx context.Context) error { return nil }
func (p *stubborn) Kill() error {
	p.once.Do(func() { close(p.done) })
	return nil
}
func (p *stubborn) Done() <-chan struct{} { return p.done }
func (p *stubborn) Err() error            { return nil }

// crashing is a process that exits with an error when told to.
type crashing struct {
	stubborn
}

func (p *crashing) Err() error { return errors.New("segmentation fault") }

type reports struct {
	mu   sync.Mutex
	list []ecs.TaskReport
	ch   chan ecs.TaskReport
}

func newReports() *reports { return &reports{ch: make(chan ecs.TaskReport, 100)} }

func (r *reports) add(rep ecs.TaskReport) {
	r.mu.Lock()
	r.list = append(r.list, rep)
	r.mu.Unlock()
	r.ch <- rep
}

func (r *reports) next(t *testing.T) ecs.TaskReport {
	t.Helper()
	select {
	case rep := <-r.ch:
		return rep
	case <-time.After(polltest.Limit):
		t.Fatal("no report from the runtime")
		return ecs.TaskReport{}
	}
}

func spec(id string, containers ...ecs.ContainerSpec) ecs.TaskSpec {
	return ecs.TaskSpec{TaskID: id, TaskARN: "arn:aws:ecs:us-east-1:000000000000:task/c/" + id, Cluster: "c", Containers: containers}
}

func get(t *testing.T, url string) (string, error) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestRuntimeStartStop(t *testing.T) {
	rt := New(Options{})
	defer rt.Close()
	rt.Handle("meshsim/sample-http", &httpStarter{})
	app := ecs.ContainerSpec{
		Name: "app", Image: "meshsim/sample-http:v1", Essential: true,
		Env:   map[string]string{"GREETING": "hello"},
		Ports: []ecs.PortMapping{{ContainerPort: 8080}},
		HealthCheck: &ecs.HealthCheck{
			Command:  []string{"CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"},
			Interval: 10 * time.Millisecond, Timeout: time.Second, Retries: 2,
		},
	}
	repA, repB := newReports(), newReports()
	a, err := rt.Start(context.Background(), spec("aaaa", app), repA.add)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rt.Start(context.Background(), spec("bbbb", app), repB.add)
	if err != nil {
		t.Fatal(err)
	}
	if a.IP == b.IP || !strings.HasPrefix(a.IP, "127.") || !strings.HasPrefix(b.IP, "127.") {
		t.Fatalf("task IPs %s and %s: want two distinct loopback addresses", a.IP, b.IP)
	}
	for _, tc := range []struct {
		ip, id string
	}{{a.IP, "aaaa"}, {b.IP, "bbbb"}} {
		body, err := get(t, "http://"+tc.ip+":8080/")
		if err != nil {
			t.Fatal(err)
		}
		if want := tc.id + " meshsim/sample-http:v1 hello"; body != want {
			t.Errorf("task on %s answered %q, want %q", tc.ip, body, want)
		}
	}
	if rep := repA.next(t); rep.Container != "app" || rep.Health != ecs.HealthHealthy {
		t.Errorf("first report %+v, want app HEALTHY", rep)
	}

	if err := rt.Stop(context.Background(), "aaaa", time.Second); err != nil {
		t.Fatal(err)
	}
	repA.mu.Lock()
	last := repA.list[len(repA.list)-1]
	repA.mu.Unlock()
	if last.Exit == nil || last.Exit.Code != 0 {
		t.Errorf("last report before Stop returned = %+v, want a clean exit", last)
	}
	if _, err := get(t, "http://"+a.IP+":8080/"); err == nil {
		t.Error("stopped task still answers")
	}
	if err := rt.Stop(context.Background(), "aaaa", time.Second); err == nil {
		t.Error("stopping a stopped task succeeded")
	}
	rt.mu.Lock()
	inUse := len(rt.addrs.used)
	rt.mu.Unlock()
	if inUse != 1 {
		t.Errorf("%d addresses in use after stopping one of two tasks, want 1", inUse)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, "http://"+b.IP+":8080/"); err == nil {
		t.Error("task still answers after Close")
	}
	if _, err := rt.Start(context.Background(), spec("dddd", app), nil); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestRuntimeStartErrors(t *testing.T) {
	rt := New(Options{})
	defer rt.Close()
	rt.Handle("meshsim/sample-http", &httpStarter{})
	rt.Handle("*envoy*", StarterFunc(func(ctx context.Context, c Container) (Process, error) {
		return nil, errors.New("envoy config missing")
	}))
	tests := []struct {
		name       string
		containers []ecs.ContainerSpec
		want       string
	}{
		{"unknown image", []ecs.ContainerSpec{{Name: "db", Image: "postgres:16"}},
			"CannotPullContainerError: meshsim inproc runtime has no image postgres:16; known images: meshsim/sample-http, *envoy*"},
		{"starter fails", []ecs.ContainerSpec{
			{Name: "app", Image: "meshsim/sample-http", Ports: []ecs.PortMapping{{ContainerPort: 8080}}},
			{Name: "envoy", Image: "envoyproxy/envoy:v1.31"},
		}, "CannotStartContainerError: container envoy (image envoyproxy/envoy:v1.31): envoy config missing"},
		{"unsupported health check", []ecs.ContainerSpec{{Name: "app", Image: "meshsim/sample-http", Ports: []ecs.PortMapping{{ContainerPort: 8080}},
			HealthCheck: &ecs.HealthCheck{Command: []string{"CMD-SHELL", "pg_isready"}}}}, "CannotStartContainerError: container app: health check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rt.Start(context.Background(), spec("t-"+strings.ReplaceAll(tt.name, " ", "-"), tt.containers...), nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
		})
	}
	// The addresses of the failed starts were freed, and the app container
	// the second case started is gone.
	rt.mu.Lock()
	used := len(rt.addrs.used)
	rt.mu.Unlock()
	if used != 0 {
		t.Errorf("%d addresses in use after failed starts, want 0", used)
	}
	if _, err := rt.Start(context.Background(), spec("ok", ecs.ContainerSpec{Name: "app", Image: "meshsim/sample-http", Ports: []ecs.PortMapping{{ContainerPort: 8080}}}), nil); err != nil {
		t.Fatal(err)
	}
}

func TestRuntimeKillAfterGrace(t *testing.T) {
	rt := New(Options{})
	defer rt.Close()
	procs := make(chan *crashing, 1)
	rt.Handle("stubborn", StarterFunc(func(ctx context.Context, c Container) (Process, error) {
		p := &crashing{stubborn: stubborn{done: make(chan struct{})}}
		procs <- p
		return &p.stubborn, nil
	}))
	rep := newReports()
	if _, err := rt.Start(context.Background(), spec("s1", ecs.ContainerSpec{Name: "app", Image: "stubborn"}), rep.add); err != nil {
		t.Fatal(err)
	}
	<-procs
	if err := rt.Stop(context.Background(), "s1", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if r := rep.next(t); r.Exit == nil || r.Exit.Code != 137 {
		t.Errorf("report %+v, want exit code 137 (killed)", r)
	}
}

func TestRuntimeReportsExit(t *testing.T) {
	rt := New(Options{})
	defer rt.Close()
	procs := make(chan *crashing, 1)
	rt.Handle("crashy", StarterFunc(func(ctx context.Context, c Container) (Process, error) {
		p := &crashing{stubborn: stubborn{done: make(chan struct{})}}
		procs <- p
		return p, nil
	}))
	rep := newReports()
	if _, err := rt.Start(context.Background(), spec("c1", ecs.ContainerSpec{Name: "app", Image: "crashy:latest"}), rep.add); err != nil {
		t.Fatal(err)
	}
	p := <-procs
	_ = p.Kill() // the process dies on its own
	r := rep.next(t)
	if r.Container != "app" || r.Exit == nil || r.Exit.Code != 1 || r.Exit.Reason != "segmentation fault" {
		t.Errorf("report %+v, want app exited with code 1: segmentation fault", r)
	}
	if err := rt.Stop(context.Background(), "c1", time.Second); err != nil {
		t.Fatal(err)
	}
}
