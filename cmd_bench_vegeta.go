package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/sidecar/sidecarbench"
)

// The targets of issue 12 that the load generator section judges.
const (
	targetLoadRate = "loadgen holds the offered rate (≥ 0.98×), like the vegeta CLI"
	targetLoadCPU  = "loadgen CPU per 10k requests ≤ ~1.1× the vegeta CLI's"
)

// vegetaInstall is how to get the vegeta CLI that meshsim bench compares
// its load generator with (the version whose library loadgen uses).
const vegetaInstall = "go install github.com/tsenart/vegeta/v12@v12.12.0"

// loadTimeout bounds each request of both load generators.
const loadTimeout = 10 * time.Second

// loadResult is what one load generator run measured.
type loadResult struct {
	requests int
	rate     float64 // achieved, requests/s
	p99      time.Duration
	success  float64 // share of requests that succeeded
	cpu      time.Duration
}

// cpuPer10k is the generator's CPU time per 10,000 requests.
func (r loadResult) cpuPer10k() time.Duration {
	if r.requests == 0 {
		return 0
	}
	return r.cpu * 10_000 / time.Duration(r.requests)
}

func (b *benchRun) vegeta(ctx context.Context) error {
	out, f := b.out, b.f
	fmt.Fprintf(out, "## Load generator: meshsim's loadgen vs the vegeta CLI (%d req/s for %s, same backend)\n", f.rate, f.duration)
	bin, err := findVegeta()
	if err != nil {
		fmt.Fprintf(out, "skipped: the vegeta CLI not found (%s)\n\n", vegetaInstall)
		b.skip("the vegeta CLI not found", targetLoadRate, targetLoadCPU)
		return nil
	}
	dir, err := os.MkdirTemp("", "meshsim-bench-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	target := "http://" + b.backends[0] + "/movies"
	gens := []struct {
		name string
		run  func(ctx context.Context, dir string) (loadResult, error)
	}{
		{"vegeta", func(ctx context.Context, dir string) (loadResult, error) { return runVegeta(ctx, bin, dir, target, f) }},
		{"loadgen", func(ctx context.Context, dir string) (loadResult, error) { return runLoadgen(ctx, dir, target, f) }},
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tgenerator\treq/s\tp99\tsuccess\tCPU/10k req\t")
	var rateRatio, p99Ratio, cpuRatio, held, vegetaHeld []float64
	for r := 1; r <= f.rounds; r++ {
		res := map[string]loadResult{}
		for _, g := range gens {
			runDir := filepath.Join(dir, g.name+"-"+strconv.Itoa(r))
			lr, err := g.run(ctx, runDir)
			if err != nil {
				return fmt.Errorf("bench: %s: %w", g.name, err)
			}
			res[g.name] = lr
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%.2f%%\t%s\t\n", r, g.name, lr.rate, lr.p99.Round(10*time.Microsecond),
				100*lr.success, lr.cpuPer10k().Round(time.Millisecond))
		}
		v, l := res["vegeta"], res["loadgen"]
		held, vegetaHeld = append(held, l.rate/float64(f.rate)), append(vegetaHeld, v.rate/float64(f.rate))
		if v.rate > 0 && v.p99 > 0 && v.cpu > 0 {
			rateRatio = append(rateRatio, l.rate/v.rate)
			p99Ratio = append(p99Ratio, float64(l.p99)/float64(v.p99))
			cpuRatio = append(cpuRatio, float64(l.cpuPer10k())/float64(v.cpuPer10k()))
		}
	}
	tw.Flush()
	fmt.Fprintln(out, "(loadgen's latency counts from each request's scheduled time, vegeta's from when it went out)")
	if len(rateRatio) == 0 {
		fmt.Fprintln(out)
		b.skip("the vegeta CLI's runs measured nothing", targetLoadRate, targetLoadCPU)
		return nil
	}
	rate, p99, cpu := median(rateRatio), median(p99Ratio), median(cpuRatio)
	fmt.Fprintf(out, "loadgen/vegeta, medians of %d per-round ratios: achieved rate %.2f×, p99 %.2f×, CPU per 10k requests %.2f× (target ≤ ~1.1)\n\n",
		len(rateRatio), rate, p99, cpu)
	limit := ""
	if median(vegetaHeld) < 0.98 {
		limit = fmt.Sprintf("; the vegeta CLI %.2f× offered: the machine is the limit, try a lower --rate", median(vegetaHeld))
	}
	b.judge(targetLoadRate, median(held) >= 0.98, "%.3f× offered, %.3f× the vegeta CLI's rate%s", median(held), rate, limit)
	b.judge(targetLoadCPU, cpu <= 1.1, "%.3f×", cpu)
	return nil
}

// findVegeta finds the vegeta CLI on $PATH or where go install puts it.
func findVegeta() (string, error) {
	if bin, err := exec.LookPath("vegeta"); err == nil {
		return bin, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return exec.LookPath(filepath.Join(home, "go", "bin", "vegeta"))
}

// runVegeta runs vegeta attack against target at f.rate for f.duration,
// its results written to a file in dir as the CLI does, and reads them
// with vegeta report. The CPU time is the attack's alone.
func runVegeta(ctx context.Context, bin, dir, target string, f benchFlags) (loadResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return loadResult{}, err
	}
	results := filepath.Join(dir, "results.bin")
	attack := exec.CommandContext(ctx, bin, "attack", "-rate", strconv.Itoa(f.rate)+"/1s", "-duration", f.duration.String(),
		"-timeout", loadTimeout.String(), "-output", results)
	attack.Stdin = strings.NewReader("GET " + target + "\n")
	if b, err := attack.CombinedOutput(); err != nil {
		return loadResult{}, fmt.Errorf("attack: %w: %s", err, b)
	}
	cpu := attack.ProcessState.UserTime() + attack.ProcessState.SystemTime()
	b, err := exec.CommandContext(ctx, bin, "report", "-type", "json", results).Output()
	if err != nil {
		return loadResult{}, fmt.Errorf("report: %w", err)
	}
	var rep struct {
		Latencies struct {
			P99 time.Duration `json:"99th"`
		} `json:"latencies"`
		Requests int     `json:"requests"`
		Rate     float64 `json:"rate"`
		Success  float64 `json:"success"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return loadResult{}, fmt.Errorf("report: %w: %s", err, b)
	}
	return loadResult{requests: rep.Requests, rate: rep.Rate, p99: rep.Latencies.P99, success: rep.Success, cpu: cpu}, nil
}

// runLoadgen runs meshsim's load generator against target at f.rate for
// f.duration as a rehearsal's load runs (GET, constant rate), its
// observations written to a run directory in dir and aggregated as the
// engine does. The CPU time is the process's meanwhile.
func runLoadgen(ctx context.Context, dir, target string, f benchFlags) (loadResult, error) {
	cpu0 := sidecarbench.ProcessCPU()
	w, err := rundir.Create(dir, rundir.Meta{RunID: "bench", Scenario: "bench", Started: time.Now()})
	if err != nil {
		return loadResult{}, err
	}
	sink := &tallySink{out: w, tally: metrics.NewTally()}
	sum, err := loadgen.RunHTTP(ctx, loadgen.HTTPConfig{
		Target: target, Method: http.MethodGet, Rate: float64(f.rate), Duration: f.duration, Timeout: loadTimeout,
	}, nil, sink)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	cpu := sidecarbench.ProcessCPU() - cpu0
	if err != nil {
		return loadResult{}, err
	}
	if sum.Requests == 0 {
		return loadResult{}, errors.New("no request sent")
	}
	return loadResult{
		requests: sum.Requests, rate: sum.AchievedRate, p99: sink.tally.Latency.Quantiles().P99,
		success: float64(sum.Successes) / float64(sum.Requests), cpu: cpu,
	}, nil
}

// tallySink records each observation and aggregates it, as a run's
// observer does.
type tallySink struct {
	out   loadgen.Sink
	tally *metrics.Tally
}

// Observe implements loadgen.Sink.
func (s *tallySink) Observe(o rundir.Observation) error {
	s.tally.Add(&o)
	return s.out.Observe(o)
}
