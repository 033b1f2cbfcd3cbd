package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/sidecar/sidecarbench"
	"github.com/meshsim/meshsim/sim/xds"
)

// benchSections are meshsim bench's sections, in the order they run.
var benchSections = []string{"http", "vegeta", "grpc", "propagation"}

// benchFlags configure meshsim bench.
type benchFlags struct {
	duration    time.Duration
	rounds      int
	connections int
	rate        int
	streams     int
	sidecars    int
	changes     int
	only        []string
}

// benchCmd measures meshsim's own cost beside the anchors found on the
// machine. Absolute figures on a shared machine are noise; what it reports
// are ratios of runs made in the same moment (meshsim and its anchor
// interleaved, round by round) and CPU time per request.
func benchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure meshsim's sidecar, load generator and gRPC path against haproxy, wrk and the vegeta CLI, printing ratios",
		Long: `bench runs meshsim's instrument benchmarks side by side with the anchors
present on the machine, prints ratios, and ends with a table of the
targets met:

  http         wrk -t2 -c<connections> against the embedded sidecar and haproxy,
               both splitting 50/50 between the same two backends (a child
               process), interleaved round by round: requests/s, p99, and the
               proxy's CPU per request (meshsim's own CPU time; haproxy's from
               /proc); medians of the per-round ratios
  vegeta       meshsim's load generator (in process, recording every
               observation as a run does) and the vegeta CLI (a child process
               writing its results to a file) at the same constant <rate>
               against the same backend, interleaved round by round: achieved
               rate, p99, success ratio, CPU time per 10k requests
  grpc         <streams> bidi streams of the sample gRPC service held open
               through a sidecar, through haproxy (HTTP/2 on both sides, the
               anchor) and directly, each in a child process of its own
               (memory is the process's): time to open them, the sidecar's
               memory per held stream (live heap and stacks after a GC, the
               sidecar run's minus the direct run's), goroutines per stream
  propagation  a route change pushed to <sidecars> sidecars: time from the
               control plane's update to the last sidecar's ACK (p50, p99) and
               the CPU time per change

Anchors that are missing (wrk, haproxy, vegeta) are skipped with a note.
The same figures are Go benchmarks in ./sim/sidecar (HTTPProxy,
GRPCStreams, Propagation).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.rounds < 1 || f.connections < 1 || f.rate < 1 || f.streams < 1 || f.sidecars < 1 || f.changes < 1 || f.duration <= 0 {
				return &exitError{exitBadInput, errors.New("--rounds, --connections, --rate, --streams, --sidecars, --changes and --duration must be positive")}
			}
			for _, s := range f.only {
				if !slices.Contains(benchSections, s) {
					return &exitError{exitBadInput, fmt.Errorf("--only %q: the sections are %s", s, strings.Join(benchSections, ", "))}
				}
			}
			return runBench(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 5*time.Second, "length of each wrk and load generator run")
	fl.IntVar(&f.rounds, "rounds", 3, "interleaved rounds of meshsim and its anchor")
	fl.IntVar(&f.connections, "connections", 50, "wrk's connections")
	fl.IntVar(&f.rate, "rate", 5000, "requests/s both load generators offer")
	fl.IntVar(&f.streams, "streams", 10_000, "gRPC streams held open")
	fl.IntVar(&f.sidecars, "sidecars", 100, "sidecars a route change propagates to")
	fl.IntVar(&f.changes, "changes", 100, "route changes measured")
	fl.StringSliceVar(&f.only, "only", benchSections, "sections to run: "+strings.Join(benchSections, ", "))
	return cmd
}

// benchBackendCmd is the backends of meshsim bench's HTTP runs, in their
// own process so that the proxies' CPU time is told apart: one HTTP
// server per address, answering with its version.
func benchBackendCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "bench-backend ADDR...",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, addrs []string) error {
			errc := make(chan error, len(addrs))
			for i, addr := range addrs {
				version := "v" + strconv.Itoa(i+1)
				body := []byte("hello from " + version + "\n")
				srv := &http.Server{Addr: addr, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.Header().Set(contract.HeaderVersion, version)
					_, _ = w.Write(body)
				})}
				go func() { errc <- srv.ListenAndServe() }()
			}
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
				return nil
			}
		},
	}
}

// benchRun is one meshsim bench: where it prints, its flags, the backends
// its HTTP sections share, and the targets its sections judged.
type benchRun struct {
	out      io.Writer
	f        benchFlags
	backends []string
	targets  []benchTarget
}

// benchTarget is one target of issue 12 and how the run fared.
type benchTarget struct {
	name     string
	measured string // what was measured, or why it was not
	met      bool
	skipped  bool
}

func (b *benchRun) judge(name string, met bool, format string, args ...any) {
	b.targets = append(b.targets, benchTarget{name: name, met: met, measured: fmt.Sprintf(format, args...)})
}

func (b *benchRun) skip(reason string, names ...string) {
	for _, n := range names {
		b.targets = append(b.targets, benchTarget{name: n, skipped: true, measured: reason})
	}
}

func runBench(ctx context.Context, out io.Writer, f benchFlags) error {
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = ", load average " + strings.Join(strings.Fields(string(b))[:3], " ")
	}
	fmt.Fprintf(out, "meshsim bench — %s, %d CPUs%s; ratios are of runs made in the same moment\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), load)
	b := &benchRun{out: out, f: f}
	if slices.Contains(f.only, "http") || slices.Contains(f.only, "vegeta") {
		addrs, err := freeAddrs(2)
		if err != nil {
			return err
		}
		stop, err := startBenchBackends(ctx, addrs)
		if err != nil {
			return err
		}
		defer stop()
		b.backends = addrs
	}
	sections := map[string]func(context.Context) error{
		"http": b.http, "vegeta": b.vegeta, "grpc": b.grpc, "propagation": b.propagation,
	}
	for _, s := range benchSections {
		if !slices.Contains(f.only, s) {
			continue
		}
		if err := sections[s](ctx); err != nil {
			return err
		}
	}
	b.summary()
	return nil
}

// summary prints every target the run judged, met (✓) or not (✗), or
// skipped (–) with the reason.
func (b *benchRun) summary() {
	fmt.Fprintln(b.out, "## Targets (issue 12)")
	tw := tabwriter.NewWriter(b.out, 0, 0, 2, ' ', 0)
	for _, t := range b.targets {
		mark := "✗"
		switch {
		case t.skipped:
			mark = "–"
		case t.met:
			mark = "✓"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, t.name, t.measured)
	}
	tw.Flush()
}

// wrkResult is what one wrk run measured, with the proxy's CPU time.
type wrkResult struct {
	requests int
	rps      float64
	p99      time.Duration
	cpu      time.Duration
}

func (r wrkResult) cpuPerRequest() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.requests)
}

// The targets of issue 12 that the HTTP and propagation sections judge.
const (
	targetHTTPRate  = "HTTP req/s ≥ 0.8× haproxy's"
	targetHTTPP99   = "HTTP p99 ≤ 1.5× haproxy's"
	targetHTTPCPU   = "HTTP proxy CPU/request ≤ 1.5× haproxy's"
	targetPropagate = "propagation p99 ≤ 50 ms at 100 sidecars"
)

func (b *benchRun) http(ctx context.Context) error {
	out, f := b.out, b.f
	fmt.Fprintln(out, "## HTTP/1.1 proxy: embedded sidecar vs haproxy (50/50 weights, same backends)")
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		fmt.Fprintln(out, "skipped: wrk not found (apt-get install wrk)")
		fmt.Fprintln(out)
		b.skip("wrk not found", targetHTTPRate, targetHTTPP99, targetHTTPCPU)
		return nil
	}
	addr, err := freeAddrs(1)
	if err != nil {
		return err
	}
	v1, v2 := endpointOf(b.backends[0], "t1"), endpointOf(b.backends[1], "t2")
	w, err := sidecarbench.Start(ctx, 1, v1, v2, 50, 50)
	if err != nil {
		return fmt.Errorf("bench: sidecar: %w", err)
	}
	defer w.Close()
	type proxy struct {
		name string
		addr string
		cpu  func() time.Duration
	}
	proxies := []proxy{}
	hp, stopHAProxy, err := startHAProxy(ctx, addr[0], b.backends, false)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		fmt.Fprintln(out, "note: haproxy not found (apt-get install haproxy): the sidecar alone, no ratios")
		b.skip("haproxy not found", targetHTTPRate, targetHTTPP99, targetHTTPCPU)
	case err != nil:
		return err
	default:
		defer stopHAProxy()
		proxies = append(proxies, proxy{"haproxy", addr[0], func() time.Duration { return procCPU(hp) }})
	}
	proxies = append(proxies, proxy{"sidecar", w.Sidecars[0].EgressAddr(), sidecarbench.ProcessCPU})
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tproxy\treq/s\tp99\tCPU/req\t")
	var rpsRatio, p99Ratio, cpuRatio []float64
	for r := 1; r <= f.rounds; r++ {
		res := map[string]wrkResult{}
		for _, p := range proxies {
			c0 := p.cpu()
			wr, err := runWrk(ctx, wrk, p.addr, f)
			if err != nil {
				return fmt.Errorf("bench: wrk against %s: %w", p.name, err)
			}
			wr.cpu = p.cpu() - c0
			res[p.name] = wr
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t\n", r, p.name, wr.rps, wr.p99.Round(10*time.Microsecond), wr.cpuPerRequest().Round(100*time.Nanosecond))
		}
		if h, ok := res["haproxy"]; ok && h.rps > 0 && h.p99 > 0 && h.cpuPerRequest() > 0 {
			s := res["sidecar"]
			rpsRatio = append(rpsRatio, s.rps/h.rps)
			p99Ratio = append(p99Ratio, float64(s.p99)/float64(h.p99))
			cpuRatio = append(cpuRatio, float64(s.cpuPerRequest())/float64(h.cpuPerRequest()))
		}
	}
	tw.Flush()
	switch {
	case len(rpsRatio) > 0:
		rps, p99, cpu := median(rpsRatio), median(p99Ratio), median(cpuRatio)
		fmt.Fprintf(out, "sidecar/haproxy, medians of %d per-round ratios: req/s %.2f× (target ≥ 0.8), p99 %.2f× (≤ 1.5), CPU/req %.2f× (≤ 1.5)\n",
			len(rpsRatio), rps, p99, cpu)
		b.judge(targetHTTPRate, rps >= 0.8, "%.3f×", rps)
		b.judge(targetHTTPP99, p99 <= 1.5, "%.3f×", p99)
		b.judge(targetHTTPCPU, cpu <= 1.5, "%.3f×", cpu)
	case len(proxies) > 1:
		b.skip("haproxy's CPU time unreadable (no /proc)", targetHTTPRate, targetHTTPP99, targetHTTPCPU)
	}
	fmt.Fprintln(out)
	return nil
}

func (b *benchRun) propagation(ctx context.Context) error {
	out, f := b.out, b.f
	fmt.Fprintf(out, "## Propagation: route change → last ACK at %d sidecars\n", f.sidecars)
	ep := xds.Endpoint{InstanceID: "t1", Address: "127.0.0.1", Port: 1}
	w, err := sidecarbench.Start(ctx, f.sidecars, ep, ep, 50, 50)
	if err != nil {
		fmt.Fprintf(out, "skipped: %v\n\n", err)
		b.skip(err.Error(), targetPropagate)
		return nil
	}
	defer w.Close()
	var took []time.Duration
	var cpu time.Duration
	for i := range f.changes {
		c, err := w.ChangeRoute(ctx, uint32(10+i%80), uint32(90-i%80))
		if err != nil {
			return fmt.Errorf("bench: propagation: %w", err)
		}
		took = append(took, c.Took)
		cpu += c.CPU
	}
	p99 := sidecarbench.Quantile(took, 0.99)
	fmt.Fprintf(out, "%d changes: p50 %s, p99 %s (target ≤ 50ms), max %s; CPU per change %s (control plane and sidecars)\n\n",
		f.changes, sidecarbench.Quantile(took, 0.5).Round(10*time.Microsecond), p99.Round(10*time.Microsecond),
		sidecarbench.Quantile(took, 1).Round(10*time.Microsecond), (cpu / time.Duration(f.changes)).Round(10*time.Microsecond))
	b.judge(targetPropagate, p99 <= 50*time.Millisecond, "%s%s", p99.Round(100*time.Microsecond), atScale(f.sidecars, 100, "sidecars"))
	return nil
}

// atScale notes a figure measured at n rather than at the target's
// scale.
func atScale(n, target int, what string) string {
	if n == target {
		return ""
	}
	return fmt.Sprintf(" (at %d %s; the target is at %d)", n, what, target)
}

// runWrk runs wrk against addr and parses its report.
func runWrk(ctx context.Context, wrk, addr string, f benchFlags) (wrkResult, error) {
	secs := max(1, int(f.duration.Round(time.Second)/time.Second))
	args := []string{"-t2", "-c" + strconv.Itoa(f.connections), "-d" + strconv.Itoa(secs) + "s", "--latency",
		"-H", "Host: " + sidecarbench.Host, "http://" + addr + "/movies"}
	b, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("%w: %s", err, b)
	}
	return parseWrk(string(b))
}

// parseWrk reads the request count, requests/s and p99 of wrk --latency's
// report; a run with errors or non-2xx answers is an error.
func parseWrk(s string) (wrkResult, error) {
	var r wrkResult
	for line := range strings.Lines(s) {
		fs := strings.Fields(line)
		switch {
		case len(fs) >= 3 && fs[1] == "requests" && fs[2] == "in":
			r.requests, _ = strconv.Atoi(fs[0])
		case len(fs) == 2 && fs[0] == "Requests/sec:":
			r.rps, _ = strconv.ParseFloat(fs[1], 64)
		case len(fs) == 2 && fs[0] == "99%":
			d, err := time.ParseDuration(strings.Replace(fs[1], "us", "µs", 1))
			if err != nil {
				return r, fmt.Errorf("wrk p99 %q: %w", fs[1], err)
			}
			r.p99 = d
		case strings.Contains(line, "Non-2xx") || strings.Contains(line, "Socket errors"):
			return r, fmt.Errorf("wrk: %s", strings.TrimSpace(line))
		}
	}
	if r.requests == 0 || r.rps == 0 || r.p99 == 0 {
		return r, fmt.Errorf("wrk report not understood:\n%s", s)
	}
	return r, nil
}

// startBenchBackends runs meshsim bench-backend on addrs and waits until
// they answer.
func startBenchBackends(ctx context.Context, addrs []string) (stop func(), err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"bench-backend"}, addrs...)...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: backends: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for _, a := range addrs {
		if err := waitListening(ctx, a); err != nil {
			stop()
			return nil, fmt.Errorf("bench: backends: %w", err)
		}
	}
	return stop, nil
}

// startHAProxy runs haproxy on addr splitting evenly between backends, as
// the sidecar does (random choice by weight, connections reused). With h2
// it speaks HTTP/2 over cleartext on both sides, as a gRPC proxy, and
// lets a connection hold as many streams as the sidecar does.
func startHAProxy(ctx context.Context, addr string, backends []string, h2 bool) (pid int, stop func(), err error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return 0, nil, err
	}
	dir, err := os.MkdirTemp("", "meshsim-bench-")
	if err != nil {
		return 0, nil, err
	}
	global, timeout, proto := "", "30s", ""
	if h2 {
		global, timeout, proto = "\n    tune.h2.max-concurrent-streams 100000", "5m", " proto h2"
	}
	var servers strings.Builder
	for i, be := range backends {
		fmt.Fprintf(&servers, "    server v%d %s weight 50%s\n", i+1, be, proto)
	}
	cfg := fmt.Sprintf(`global
    nbthread 2
    maxconn 4000%s
defaults
    mode http
    timeout connect 5s
    timeout client %s
    timeout server %s
    http-reuse always
frontend fe
    bind %s%s
    default_backend be
backend be
    balance random
%s`, global, timeout, timeout, addr, proto, servers.String())
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return 0, nil, err
	}
	cmd := exec.Command(bin, "-f", path, "-db")
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return 0, nil, fmt.Errorf("bench: haproxy: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); os.RemoveAll(dir) }
	if err := waitListening(ctx, addr); err != nil {
		stop()
		return 0, nil, fmt.Errorf("bench: haproxy: %w", err)
	}
	return cmd.Process.Pid, stop, nil
}

// procCPU returns the CPU time (user and system) of process pid from
// /proc, or 0.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 14th and 15th fields, in clock ticks (USER_HZ, 100).
	s := string(b)
	fs := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fs) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fs[11], 10, 64)
	st, _ := strconv.ParseInt(fs[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not listening: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddrs returns n loopback addresses with free ports.
func freeAddrs(n int) ([]string, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

func endpointOf(addr, task string) xds.Endpoint {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return xds.Endpoint{InstanceID: task, Address: host, Port: uint32(p)}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
