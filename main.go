// Command meshsim rehearses a microservice rollout on one machine: it stands
// up fakes of ECS, Cloud Map and App Mesh, runs sample services behind
// sidecar proxies fed by an xDS control plane, drives a scripted rollout
// through the AWS APIs while generating load, and reports what users would
// have felt. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"text/tabwriter"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/meshsim/meshsim/loadgen/proxyless"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/sim/docker"
	"github.com/meshsim/meshsim/tui"
)

// Exit codes (README.md, "Exit codes"). A run's code is its verdict's
// (reports.Verdict*), the same in every output.
const (
	exitOK           = 0   // pass: every assertion holds on a complete, conclusive run
	exitFailed       = 1   // fail: an assertion failed
	exitBadInput     = 2   // bad scenario, flag or argument
	exitInconclusive = 3   // inconclusive: the instrument saturated, or the run is partial; retrying may help
	exitErrored      = 4   // error: the run produced no evidence (setup failed, nothing sent), or meshsim failed
	exitInterrupted  = 130 // meshsim run was interrupted (SIGINT, SIGTERM); the partial run is reported
)

// verdictExit is the error of a run or report whose verdict is not PASS:
// the exit code is the verdict's, and the message names it (the summary on
// standard output says why).
func verdictExit(code int) error {
	verdict := map[int]string{exitFailed: "FAIL", exitInconclusive: "INCONCLUSIVE", exitErrored: "ERROR"}[code]
	return &exitError{code, fmt.Errorf("verdict %s (exit %d); the summary says why", verdict, code)}
}

// verdictCode is the exit code of a report's verdict.
func verdictCode(verdict string) int {
	switch verdict {
	case reports.VerdictPass:
		return exitOK
	case reports.VerdictFail:
		return exitFailed
	case reports.VerdictInconclusive:
		return exitInconclusive
	default:
		return exitErrored
	}
}

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	root := rootCmd(os.Stdout, os.Stderr)
	err := root.Execute()
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(os.Stderr, "meshsim:", ee.err)
		}
		os.Exit(ee.code)
	}
	// cobra's own errors: unknown command or flag, wrong arguments.
	fmt.Fprintln(os.Stderr, "meshsim:", err)
	os.Exit(exitBadInput)
}

func rootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "meshsim",
		Short: "Rehearse an ECS / App Mesh / Service Connect rollout on your machine",
		Long: `meshsim stands up fakes of ECS, Cloud Map and App Mesh that real AWS clients talk to,
runs sample services behind sidecar proxies configured over xDS, drives a scripted
canary / blue-green / rolling rollout through the AWS APIs while generating load, and
reports per step which share of requests each version served and what failed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(runCmd(), upCmd(), downCmd(), scenariosCmd(), fakesCmd(), reportCmd(), compareCmd(), versionCmd(), capacityCmd(), benchCmd(), benchBackendCmd(), benchGRPCCmd())
	root.AddCommand(dockerCommands()...)
	return root
}

func runCmd() *cobra.Command {
	var (
		runtimeName, out, endpoint string
		xdsAddr                    string
		rate, timeScale            float64
		bake                       time.Duration
		quiet, plain               bool
		ci                         ciOutputs
	)
	cmd := &cobra.Command{
		Use:   "run SCENARIO",
		Short: "Run a rehearsal: a built-in scenario name or a scenario file",
		Long: `Run a rehearsal. SCENARIO is the name of a built-in scenario (see "meshsim scenarios list")
or the path of a scenario file.

The run directory (observations, world events, report.json, report.md) is written to
--out, by default ./meshsim-runs/<run id>. The exit code is the verdict's: 0 pass
(every assertion holds), 1 fail (an assertion failed), 3 inconclusive (the load
generator could not keep up in a step, or the run is partial), 4 error (the setup
failed or no request was sent); 2 for bad input, 130 when interrupted (the partial
run is still reported).`,
		Example: `  meshsim run bookingapp-canary
  meshsim run bookingapp-canary --bake 2s --rate 300
  meshsim run ./my-scenario.yaml --out /tmp/run1`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeScenario,
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := scenarios.Resolve(args[0])
			if err != nil {
				return &exitError{exitBadInput, err}
			}
			if cmd.Flags().Changed("rate") {
				if rate < 0.1 || rate > 20000 {
					return &exitError{exitBadInput, fmt.Errorf("--rate must be from 0.1 to 20000 requests per second, not %g", rate)}
				}
				sc.Load.Rate = rate
			}
			if cmd.Flags().Changed("bake") {
				if bake <= 0 {
					return &exitError{exitBadInput, fmt.Errorf("--bake must be a positive duration, not %s", bake)}
				}
				if len(sc.Rollout.Deployments) > 0 {
					return &exitError{exitBadInput, fmt.Errorf("--bake sets the bake time of route steps; %s rolls out by ECS deployments, "+
						"whose bake times are ECS's (bakeTimeInMinutes, whole minutes): shorten them with --time-scale (at 60 an ECS minute lasts a second)", sc.Name)}
				}
				for i := range sc.Rollout.Steps {
					sc.Rollout.Steps[i].Bake = bake
				}
			}
			if cmd.Flags().Changed("time-scale") {
				if timeScale < 1 || timeScale > 100000 {
					return &exitError{exitBadInput, fmt.Errorf("--time-scale must be between 1 and 100000, not %g", timeScale)}
				}
				sc.TimeScale = timeScale
			}
			if runtimeName != "inproc" && runtimeName != "docker" && endpoint == "" {
				return &exitError{exitBadInput, fmt.Errorf("--runtime %q: want inproc or docker", runtimeName)}
			}
			if err := checkOut(out); err != nil {
				return &exitError{exitBadInput, err}
			}
			ci.section = sc.Compare
			if _, _, err := ci.check(); err != nil {
				return &exitError{exitBadInput, err}
			}
			return runScenario(cmd, sc, runtimeName, out, endpoint, xdsAddr, quiet, plain, &ci)
		},
	}
	f := cmd.Flags()
	f.StringVar(&runtimeName, "runtime", "inproc", "where tasks run: inproc (everything in this process on loopback) or docker (fakes, tasks and sidecars as containers; see docs/docker.md)")
	dockerRunFlags(cmd)
	f.StringVar(&out, "out", "", "run directory (default ./meshsim-runs/<run id>)")
	f.StringVar(&endpoint, "endpoint", "", "use the fakes already serving at this URL (see \"meshsim fakes\") instead of starting them")
	f.StringVar(&xdsAddr, "xds-addr", "127.0.0.1:18000", "with --endpoint: the control plane's address, for proxyless gRPC clients")
	f.Float64Var(&rate, "rate", 0, "override the scenario's request rate (requests per second)")
	f.DurationVar(&bake, "bake", 0, "override every step's bake time (e.g. 2s for a quick rehearsal)")
	f.Float64Var(&timeScale, "time-scale", 0, "run AWS-side durations (ECS bake times, health checks, stop timeouts) N times faster; overrides the scenario's timeScale")
	f.BoolVar(&quiet, "quiet", false, "print only the final summary")
	f.BoolVar(&plain, "plain", false, "print progress as plain lines even when stdout is a terminal (no live dashboard)")
	ci.register(f)
	completeRunFlags(cmd)
	return cmd
}

func runScenario(cmd *cobra.Command, sc *scenarios.Scenario, runtimeName, out, endpoint, xdsAddr string, quiet, plain bool, ci *ciOutputs) error {
	stdout := cmd.OutOrStdout()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The dashboard's q and ctrl+c (keys, while it holds the terminal) stop
	// the run as an interrupt does.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// A run gets a directory of its own: by default a new one under
	// ./meshsim-runs, created exclusively, so that runs started in the same
	// second never share one.
	runID := rundir.NewID(time.Now(), sc.Name)
	if out == "" {
		id, dir, err := rundir.MakeUnique("meshsim-runs", time.Now(), sc.Name)
		if err != nil {
			return &exitError{exitErrored, err}
		}
		runID, out = id, dir
		defer os.Remove(out) // removes only an empty directory: a run that never started
	}
	var (
		faults  engine.Faults
		dnsAddr string // the name server of meshsim's own world (routing route53)
	)
	if endpoint == "" && runtimeName == "docker" {
		world, err := startDockerWorld(ctx, cmd, sc)
		if err != nil {
			return &exitError{exitErrored, fmt.Errorf("starting the simulated world in Docker: %w", err)}
		}
		defer world.Close()
		endpoint, xdsAddr = world.Endpoint, world.XDSAddress
		faults = docker.TaskFaults{Faults: world.Faults}
	}
	if err := engine.CheckFaults(sc, faults); err != nil {
		return &exitError{exitBadInput, err}
	}
	if endpoint == "" {
		// The world outlives an interrupt: the engine tears it down through
		// the AWS APIs first.
		world, err := sim.Start(context.WithoutCancel(ctx), sim.Options{TimeScale: sc.TimeScale, TaskLogDir: filepath.Join(out, rundir.TasksDir)})
		if err != nil {
			return &exitError{exitErrored, fmt.Errorf("starting the simulated world: %w", err)}
		}
		defer world.Close()
		endpoint, xdsAddr, dnsAddr = world.Endpoint, world.XDSAddress, world.DNSAddress
	}
	opts := engine.Options{
		Endpoint: endpoint, XDSAddress: xdsAddr, DNSAddress: dnsAddr, XDSResolver: proxyless.NewResolver, Faults: faults, Dir: out, RunID: runID, Runtime: runtimeName,
	}
	var dash *tui.Dashboard
	if !quiet {
		fmt.Fprintf(stdout, "meshsim: rehearsing %s (%s) on the %s runtime; fakes at %s; run directory %s\n",
			sc.Name, sc.Source, runtimeName, endpoint, out)
		if !plain && tui.IsTerminal(stdout) {
			// The dashboard's keys steer the run (pause, advance, roll back,
			// abort) and its log shows the run's events.
			opts.Steer = engine.NewSteer()
			dash = tui.StartDashboard(tui.NewModel(sc.Name, cancel).WithControls(opts.Steer).WithRunID(runID), tea.WithOutput(stdout))
			defer dash.Close() // restores the terminal on every return
			opts.Progress, opts.Events = dash, dash
		} else {
			opts.Progress = tui.NewPlain(stdout, 2*time.Second)
		}
	}
	started := time.Now()
	res, runErr := engine.Run(ctx, sc, opts)
	if dash != nil { // give the terminal back before the summary
		if err := dash.Close(); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "meshsim:", err)
		}
	}
	if errors.Is(runErr, rundir.ErrRunExists) {
		// Another run's directory: leave its files alone.
		return &exitError{exitBadInput, fmt.Errorf("--out %s: %w", out, runErr)}
	}
	code, err := writeReports(stdout, res.Dir, ci)
	if err != nil {
		return &exitError{exitErrored, errors.Join(runErr, err)}
	}
	fmt.Fprintf(stdout, "\nwall time %s; run directory %s\n", time.Since(started).Round(100*time.Millisecond), res.Dir)
	switch {
	case runErr != nil && ctx.Err() != nil:
		return &exitError{exitInterrupted, fmt.Errorf("interrupted; the partial run is in %s", res.Dir)}
	case runErr != nil:
		if code == exitOK { // the reports judged what was recorded; the run still failed
			code = exitErrored
		}
		return &exitError{code, fmt.Errorf("the run did not complete: %w", runErr)}
	case code != exitOK:
		return verdictExit(code)
	}
	return nil
}

// writeReports analyses the run directory, compares it with a baseline
// and saves its own when ci asks (ci may be nil), writes the reports into
// it and prints the summary; it returns the exit code of the run's
// verdict, failed by a regression against the baseline.
func writeReports(stdout io.Writer, dir string, ci *ciOutputs) (int, error) {
	run, err := rundir.Read(dir)
	if err != nil {
		return exitErrored, fmt.Errorf("reading the run directory: %w", err)
	}
	rep := reports.Analyze(run)
	_, ciErr := ci.apply(dir, run, rep)
	if err := reports.WriteFiles(dir, rep); err != nil {
		return exitErrored, errors.Join(fmt.Errorf("writing reports: %w", err), ciErr)
	}
	fmt.Fprintln(stdout)
	reports.WriteSummary(stdout, rep)
	code, err := ci.finish(stdout, rep, verdictCode(rep.Verdict))
	return code, errors.Join(ciErr, err)
}

func reportCmd() *cobra.Command {
	var ci ciOutputs
	cmd := &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Analyse a run directory again and rewrite its reports",
		Long: `Analyse a run directory again, for example one cut short or written by an older
meshsim, rewrite its report.json, report.junit.xml, report.md and report.html, and
print the summary. The exit code is the run's verdict, as for "meshsim run": 0 pass,
1 fail, 3 inconclusive (also for a partial run whose assertions hold), 4 error (no
evidence: the setup failed or no request was sent); 2 when DIR is not a readable
run directory. A capacity sweep's directory (meshsim capacity) gets its capacity
report rewritten instead (exit 0).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, _, err := ci.check(); err != nil {
				return &exitError{exitBadInput, err}
			}
			if done, err := rewriteCapacityReport(cmd.OutOrStdout(), args[0]); done || err != nil {
				return err
			}
			code, err := writeReports(cmd.OutOrStdout(), args[0], &ci)
			if err != nil {
				return &exitError{exitBadInput, err}
			}
			if code != exitOK {
				return verdictExit(code)
			}
			return nil
		},
	}
	ci.register(cmd.Flags())
	return cmd
}

func scenariosCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenarios",
		Short: "List, show and validate scenarios",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			infos, err := scenarios.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDESCRIPTION")
			for _, in := range infos {
				fmt.Fprintf(tw, "%s\t%s\n", in.Name, in.Description)
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use:               "show NAME",
		Short:             "Print a built-in scenario's YAML, to copy and adapt",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeBuiltin,
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := scenarios.BuiltinSource(args[0])
			if err != nil {
				return &exitError{exitBadInput, err}
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		},
	}
	validate := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files; errors name file:line:col",
		Long: `Check scenario files without running them. Every problem is printed as
file:line:col: message. The exit code is 0 when all files are valid and 2 otherwise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, path := range args {
				sc, err := scenarios.LoadFile(path)
				if err != nil {
					bad++
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%s: %d services, %d steps, %s of rollout)\n",
					path, sc.Name, len(sc.Services), len(sc.Rollout.Steps), sc.Duration())
			}
			if bad > 0 {
				return &exitError{exitBadInput, fmt.Errorf("%d of %d scenario files are invalid", bad, len(args))}
			}
			return nil
		},
	}
	validate.ValidArgsFunction = completeYAMLFiles
	cmd.AddCommand(list, show, validate, schemaCmd())
	return cmd
}

func fakesCmd() *cobra.Command {
	var (
		addr, xdsAddr, dnsAddr string
		timeScale              float64
	)
	cmd := &cobra.Command{
		Use:   "fakes",
		Short: "Serve the ECS, Cloud Map and App Mesh fakes and the xDS control plane standalone",
		Long: `Serve the AWS fakes on one endpoint, LocalStack-style, until interrupted. Point any
AWS client at it:

  aws --endpoint-url http://127.0.0.1:4566 ecs list-clusters
  aws --endpoint-url http://127.0.0.1:4566 appmesh list-meshes

Any credentials are accepted; the region is taken from the request signature. Tasks
that ECS starts run in this process (inproc runtime); sidecars get their configuration
from the xDS control plane on --xds-addr. World events stream from GET /_meshsim/events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if timeScale < 1 || timeScale > 100000 {
				return &exitError{exitBadInput, fmt.Errorf("--time-scale must be between 1 and 100000, not %g", timeScale)}
			}
			world, err := sim.Start(ctx, sim.Options{Addr: addr, XDSAddr: xdsAddr, DNSAddr: dnsAddr, TimeScale: timeScale})
			if err != nil {
				return &exitError{exitErrored, err}
			}
			defer world.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "meshsim fakes: AWS endpoint %s, xDS %s, Route 53 DNS %s (Ctrl-C to stop)\n", world.Endpoint, world.XDSAddress, world.DNSAddress)
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:4566", "address of the AWS endpoint")
	cmd.Flags().StringVar(&xdsAddr, "xds-addr", "127.0.0.1:18000", "address of the xDS (ADS) control plane")
	cmd.Flags().StringVar(&dnsAddr, "dns-addr", "127.0.0.1:18053", "address (UDP and TCP) of the name server answering the Route 53 fake's hosted zones")
	cmd.Flags().Float64Var(&timeScale, "time-scale", 1, "run ECS time (bake times, health checks, stop timeouts) N times faster")
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print meshsim's version and the versions of its main components",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			w := cmd.OutOrStdout()
			info, ok := debug.ReadBuildInfo()
			if !ok {
				fmt.Fprintln(w, "meshsim (no build information)")
				return
			}
			fmt.Fprintf(w, "meshsim %s (%s), run format v%d\n", info.Main.Version, info.GoVersion, rundir.FormatVersion)
			for _, d := range info.Deps {
				switch d.Path {
				case "github.com/envoyproxy/go-control-plane", "github.com/tsenart/vegeta/v12",
					"google.golang.org/grpc", "github.com/aws/aws-sdk-go-v2":
					fmt.Fprintf(w, "  %s %s\n", d.Path, d.Version)
				}
			}
		},
	}
}
