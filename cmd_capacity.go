package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshsim/meshsim/loadgen/rundir"
	capreport "github.com/meshsim/meshsim/reports/capacity"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/capacity"
	"github.com/meshsim/meshsim/sim"
)

// capacityFlags are meshsim capacity's flags.
type capacityFlags struct {
	service, version, slo, errorBudget string
	targetRate, startRate, maxRate     float64
	step, maxDuration                  time.Duration
	maxTasks                           int
	runtimeName, out                   string
	quiet                              bool
}

func capacityCmd() *cobra.Command {
	var f capacityFlags
	cmd := &cobra.Command{
		Use:   "capacity SCENARIO",
		Short: "Size a service: sweep request rates against 1, 2, 4… tasks and write a capacity report",
		Long: `Size a service of a scenario (a built-in name or a scenario file): stand its world up,
scale the service to 1, 2, 4… tasks through ECS UpdateService, and at each task count offer
stepped constant request rates (an open model) through the ingress sidecar until the latency
objective or the error budget breaks or throughput stops following the load. Points where
meshsim itself fell behind (its load generator's lag, its CPU wait) are marked and left out
of the fits. The sweep ends by itself (--max-tasks, --max-duration, when more tasks stop
adding throughput, or when meshsim saturates).

The capacity report — capacity.html (charts of the points and fitted curves), capacity.md
and capacity.json — gives the knee per task count, Universal Scalability Law fits against
concurrency and task count, an M/M/c (Erlang C) estimate, and the tasks needed for
--target-rate: steady, during a rolling deployment at the service's minimumHealthyPercent
and maximumPercent, and N+1 / N+2, each with its range. It is written into the run directory
(--out, by default ./meshsim-runs/<id>) beside capacity-sweep.json, the raw points.

Flags override the scenario's capacity section. Exit codes: 0 when the sweep completed,
4 when it measured nothing or failed, 2 for bad input, 130 when interrupted (the partial
sweep is still reported).`,
		Example: `  meshsim capacity capacity-movie
  meshsim capacity bookingapp-canary --service movie --slo p99=200ms --error-budget 0.1% --target-rate 2000
  meshsim capacity ./my-scenario.yaml --service api --max-tasks 4 --step 5s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := scenarios.Resolve(args[0])
			if err != nil {
				return &exitError{exitBadInput, err}
			}
			opts, err := capacityOptions(cmd, sc, f)
			if err != nil {
				return &exitError{exitBadInput, err}
			}
			return runCapacity(cmd, sc, opts, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.service, "service", "", "the service to size (default: the scenario's capacity.service, else load.measure)")
	fl.StringVar(&f.version, "version", "", "the version of the service to size (default: its first)")
	fl.StringVar(&f.slo, "slo", "", "latency objective at a quantile, e.g. p99=200ms (default p99=200ms)")
	fl.StringVar(&f.errorBudget, "error-budget", "", "share of requests that may fail, e.g. 0.1% (default 0.1%)")
	fl.Float64Var(&f.targetRate, "target-rate", 0, "request rate to size for, per second (no recommendation without one)")
	fl.DurationVar(&f.step, "step", 0, "how long each rate is offered (default 3s)")
	fl.Float64Var(&f.startRate, "start-rate", 0, "first rate offered to one task, per second (default 20)")
	fl.Float64Var(&f.maxRate, "max-rate", capacity.DefaultMaxRate, "highest rate offered, per second")
	fl.IntVar(&f.maxTasks, "max-tasks", 0, "most tasks swept (1, 2, 4, … up to this; default 8)")
	fl.DurationVar(&f.maxDuration, "max-duration", capacity.DefaultMaxDuration, "the sweep's wall time limit (setup and teardown aside)")
	fl.StringVar(&f.runtimeName, "runtime", "inproc", "where tasks run: inproc or docker (see docs/docker.md)")
	fl.StringVar(&f.out, "out", "", "run directory (default ./meshsim-runs/<id>)")
	fl.BoolVar(&f.quiet, "quiet", false, "print only the summary")
	dockerRunFlags(cmd)
	return cmd
}

// capacityOptions merges the flags over the scenario's capacity section.
func capacityOptions(cmd *cobra.Command, sc *scenarios.Scenario, f capacityFlags) (capacity.Options, error) {
	c := sc.Capacity
	o := capacity.Options{
		Service: firstOf(f.service, c.Service, sc.Load.Measure), Version: firstOf(f.version, c.Version),
		TargetRate: c.TargetRate, StepDuration: c.Step, StartRate: c.StartRate, MaxTasks: c.MaxTasks,
		MaxRate: f.maxRate, MaxDuration: f.maxDuration, Runtime: f.runtimeName,
	}
	if f.runtimeName != "inproc" && f.runtimeName != "docker" {
		return o, fmt.Errorf("--runtime %q: want inproc or docker", f.runtimeName)
	}
	o.Objective.Quantile, o.Objective.Latency = 0.99, 200*time.Millisecond
	if slo := firstOf(f.slo, c.SLO); slo != "" {
		q, l, err := scenarios.ParseSLO(slo)
		if err != nil {
			return o, fmt.Errorf("--slo %w", err)
		}
		o.Objective.Quantile, o.Objective.Latency = q, l
	}
	o.Objective.ErrorBudget = 0.001
	if c.ErrorBudget >= 0 {
		o.Objective.ErrorBudget = c.ErrorBudget
	}
	if f.errorBudget != "" {
		b, err := scenarios.ParseErrorBudget(f.errorBudget)
		if err != nil {
			return o, fmt.Errorf("--error-budget %w", err)
		}
		o.Objective.ErrorBudget = b
	}
	set := cmd.Flags().Changed
	if set("target-rate") {
		if !(f.targetRate > 0 && f.targetRate <= 1e6) {
			return o, fmt.Errorf("--target-rate must be between 0 and 1e6 requests per second, not %g", f.targetRate)
		}
		o.TargetRate = f.targetRate
	}
	if set("step") {
		if f.step < 500*time.Millisecond || f.step > 10*time.Minute {
			return o, fmt.Errorf("--step must be between 500ms and 10m, not %s", f.step)
		}
		o.StepDuration = f.step
	}
	if set("start-rate") {
		if !(f.startRate >= 0.1 && f.startRate <= 20000) {
			return o, fmt.Errorf("--start-rate must be between 0.1 and 20000 requests per second, not %g", f.startRate)
		}
		o.StartRate = f.startRate
	}
	if set("max-tasks") {
		if f.maxTasks < 1 || f.maxTasks > 64 {
			return o, fmt.Errorf("--max-tasks must be between 1 and 64, not %d", f.maxTasks)
		}
		o.MaxTasks = f.maxTasks
	}
	if !(f.maxRate >= 1 && f.maxRate <= 1e6) {
		return o, fmt.Errorf("--max-rate must be between 1 and 1e6 requests per second, not %g", f.maxRate)
	}
	if f.maxDuration < 10*time.Second {
		return o, fmt.Errorf("--max-duration must be at least 10s, not %s", f.maxDuration)
	}
	if o.Service == "" {
		return o, errors.New("--service is required: the scenario names no capacity.service or load.measure")
	}
	if _, _, err := capacity.Prepare(sc, o.Service, o.Version); err != nil {
		return o, err
	}
	return o, nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// runCapacity runs the sweep in a world of its own and writes the report.
func runCapacity(cmd *cobra.Command, sc *scenarios.Scenario, opts capacity.Options, f capacityFlags) error {
	stdout := cmd.OutOrStdout()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := f.out
	if out == "" {
		_, dir, err := rundir.MakeUnique("meshsim-runs", time.Now(), sc.Name+"-capacity")
		if err != nil {
			return &exitError{exitErrored, err}
		}
		out = dir
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		return &exitError{exitBadInput, fmt.Errorf("--out: %w", err)}
	}
	opts.Dir = out
	started := time.Now()
	if !f.quiet {
		opts.Progress = func(line string) {
			fmt.Fprintf(stdout, "[%6.1fs] %s\n", time.Since(started).Seconds(), line)
		}
		fmt.Fprintf(stdout, "meshsim: sizing %s of %s (%s) on the %s runtime; run directory %s\n", opts.Service, sc.Name, sc.Source, opts.Runtime, out)
	}
	endpoint := ""
	if opts.Runtime == "docker" {
		world, err := startDockerWorld(ctx, cmd, sc)
		if err != nil {
			return &exitError{exitErrored, fmt.Errorf("starting the simulated world in Docker: %w", err)}
		}
		defer world.Close()
		endpoint = world.Endpoint
	} else {
		world, err := sim.Start(context.WithoutCancel(ctx), sim.Options{TimeScale: sc.TimeScale, TaskLogDir: filepath.Join(out, rundir.TasksDir)})
		if err != nil {
			return &exitError{exitErrored, fmt.Errorf("starting the simulated world: %w", err)}
		}
		defer world.Close()
		endpoint = world.Endpoint
	}
	opts.Endpoint = endpoint
	rec, runErr := capacity.Run(ctx, sc, opts)
	if rec == nil || len(rec.Points) == 0 {
		if runErr == nil {
			runErr = errors.New("no point was measured")
		}
		return &exitError{exitErrored, fmt.Errorf("the sweep measured nothing: %w", runErr)}
	}
	r := capreport.Analyze(*rec)
	if err := capreport.WriteFiles(out, r); err != nil {
		return &exitError{exitErrored, errors.Join(runErr, err)}
	}
	fmt.Fprintln(stdout)
	capreport.WriteSummary(stdout, r)
	fmt.Fprintf(stdout, "\nwall time %s; capacity report %s\n", time.Since(started).Round(100*time.Millisecond), filepath.Join(out, capreport.HTMLFile))
	switch {
	case runErr != nil && ctx.Err() != nil:
		return &exitError{exitInterrupted, fmt.Errorf("interrupted; the partial sweep is reported in %s", out)}
	case runErr != nil:
		return &exitError{exitErrored, fmt.Errorf("the sweep did not complete: %w", runErr)}
	}
	return nil
}

// rewriteCapacityReport analyses a capacity sweep's directory (one with
// capacity-sweep.json) again and rewrites its capacity report; done is
// false for any other directory.
func rewriteCapacityReport(stdout io.Writer, dir string) (done bool, err error) {
	if _, err := os.Stat(filepath.Join(dir, capreport.SweepFile)); err != nil {
		return false, nil
	}
	rec, err := capacity.ReadSweep(dir)
	if err != nil {
		return true, &exitError{exitBadInput, err}
	}
	r := capreport.Analyze(*rec)
	if err := capreport.WriteFiles(dir, r); err != nil {
		return true, &exitError{exitErrored, err}
	}
	capreport.WriteSummary(stdout, r)
	fmt.Fprintf(stdout, "\ncapacity report %s\n", filepath.Join(dir, capreport.HTMLFile))
	return true, nil
}
