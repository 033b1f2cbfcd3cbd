package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim"
	"github.com/meshsim/meshsim/tui"
)

// Files of a run directory that `meshsim up` uses to be stopped by `meshsim
// down`: the first holds the up process's pid while it runs; `down` creates
// the second to ask it to end.
const (
	upPIDFile  = "meshsim-up.pid"
	upDownFile = "meshsim-down"
)

// upPoll is how often `meshsim up` looks for a down request, and `meshsim
// down` for the end of the up process.
const upPoll = 200 * time.Millisecond

func upCmd() *cobra.Command {
	var (
		out, addr, xdsAddr string
		timeScale          float64
	)
	cmd := &cobra.Command{
		Use:   "up SCENARIO",
		Short: "Stand the world up and measure while you drive the rollout yourself",
		Long: `Stand the scenario's world up (ECS, Cloud Map and App Mesh fakes, its services and
sidecars), start its load and measurements, print the endpoint and environment for
your own deployment tooling (AWS CLI, boto3, a CI job), and wait. The scenario's
rollout is not applied: you update routes and services against the fakes yourself.
Ctrl-C, or "meshsim down" from another shell, ends the rehearsal and writes the run
directory and reports as "meshsim run" does, with one step per route update and
deployment change that App Mesh and ECS reported.`,
		Example: `  meshsim up examples/tinyapp/canary.yaml
  # in another shell:
  export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=meshsim AWS_SECRET_ACCESS_KEY=meshsim
  aws appmesh update-route --mesh-name tinyapp-canary --virtual-router-name web-router --route-name web-route --spec file://route.json
  meshsim down`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeScenario,
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := scenarios.Resolve(args[0])
			if err != nil {
				return &exitError{exitBadInput, err}
			}
			if err := checkOut(out); err != nil {
				return &exitError{exitBadInput, err}
			}
			if cmd.Flags().Changed("time-scale") {
				if timeScale < 1 || timeScale > 100000 {
					return &exitError{exitBadInput, fmt.Errorf("--time-scale must be between 1 and 100000, not %g", timeScale)}
				}
				sc.TimeScale = timeScale
			}
			return up(cmd.Context(), cmd.OutOrStdout(), sc, out, addr, xdsAddr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "run directory (default ./meshsim-runs/<run id>)")
	f.StringVar(&addr, "addr", "127.0.0.1:4566", "address of the AWS endpoint your tools call")
	f.StringVar(&xdsAddr, "xds-addr", "127.0.0.1:0", "address of the xDS (ADS) control plane")
	f.Float64Var(&timeScale, "time-scale", 0, "run AWS-side durations N times faster; overrides the scenario's timeScale")
	completeRunFlags(cmd)
	return cmd
}

// up runs `meshsim up` until interrupted or asked down.
func up(ctx context.Context, stdout io.Writer, sc *scenarios.Scenario, out, addr, xdsAddr string) error {
	runID := time.Now().Format("20060102-150405") + "-" + sc.Name
	if out == "" {
		out = filepath.Join("meshsim-runs", runID)
	}
	until := make(chan struct{})
	world, err := sim.Start(context.WithoutCancel(ctx), sim.Options{Addr: addr, XDSAddr: xdsAddr, TimeScale: sc.TimeScale, TaskLogDir: filepath.Join(out, rundir.TasksDir)})
	if err != nil {
		return &exitError{exitFailed, fmt.Errorf("starting the simulated world: %w", err)}
	}
	defer world.Close()
	fmt.Fprintf(stdout, "meshsim up: standing %s (%s) up; fakes at %s; run directory %s\n", sc.Name, sc.Source, world.Endpoint, out)

	// Ctrl-C and SIGTERM end the rehearsal as `meshsim down` does: the
	// world is measured to the end and the reports written.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	ready := func() {
		if err := os.WriteFile(filepath.Join(out, upPIDFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			fmt.Fprintln(stdout, "meshsim up:", err)
		}
		printEnvironment(stdout, sc, world.Endpoint, out)
		go func() {
			tick := time.NewTicker(upPoll)
			defer tick.Stop()
			for {
				select {
				case <-watchCtx.Done():
					return
				case <-sigs:
				case <-tick.C:
					if _, err := os.Stat(filepath.Join(out, upDownFile)); err != nil {
						continue
					}
				}
				fmt.Fprintln(stdout, "meshsim up: ending the rehearsal")
				close(until)
				return
			}
		}()
	}
	started := time.Now()
	_, runErr := engine.Run(ctx, sc, engine.Options{
		Endpoint: world.Endpoint, XDSAddress: world.XDSAddress, DNSAddress: world.DNSAddress, Dir: out, RunID: runID, Runtime: "inproc",
		Progress: tui.NewPlain(stdout, 5*time.Second), Until: until, Ready: ready,
	})
	stopWatch()
	code, err := writeReports(stdout, out, nil)
	_ = os.Remove(filepath.Join(out, upPIDFile))
	_ = os.Remove(filepath.Join(out, upDownFile))
	if err != nil {
		return &exitError{exitFailed, err}
	}
	fmt.Fprintf(stdout, "\nwall time %s; run directory %s\n", time.Since(started).Round(100*time.Millisecond), out)
	switch {
	case runErr != nil && ctx.Err() != nil:
		return &exitError{exitInterrupted, fmt.Errorf("interrupted; the partial run is in %s", out)}
	case runErr != nil:
		return &exitError{exitFailed, fmt.Errorf("the run did not complete: %w", runErr)}
	case code != exitOK:
		return verdictExit(code)
	}
	return nil
}

// printEnvironment tells the user how to reach the fakes and what the
// world holds.
func printEnvironment(w io.Writer, sc *scenarios.Scenario, endpoint, out string) {
	fmt.Fprintf(w, `
The world is up and measured. Drive your rollout against the fakes, for example:

  export AWS_ENDPOINT_URL=%s
  export AWS_REGION=%[2]s AWS_DEFAULT_REGION=%[2]s AWS_ACCESS_KEY_ID=meshsim AWS_SECRET_ACCESS_KEY=meshsim
  aws ecs list-services --cluster %s
  aws appmesh list-routes --mesh-name %s --virtual-router-name %s-router

ECS cluster %s; App Mesh mesh %s; Cloud Map namespace %s.
End it with Ctrl-C here, or: meshsim down %s
`, endpoint, sc.Region, sc.Cluster, sc.Mesh, sc.Ingress.Service, sc.Cluster, sc.Mesh, sc.Namespace, out)
}

func downCmd() *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "down [RUN_DIR]",
		Short: `End a rehearsal started with "meshsim up"`,
		Long: `Ask the "meshsim up" of RUN_DIR (by default the most recent one under ./meshsim-runs
that is still up) to end: it measures to the end, tears the world down and writes the
run directory and reports. "down" waits until it has.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			} else {
				dirs, _ := filepath.Glob(filepath.Join("meshsim-runs", "*", upPIDFile))
				if len(dirs) == 0 {
					return &exitError{exitBadInput, errors.New("no meshsim up is running under ./meshsim-runs; name its run directory")}
				}
				slices.Sort(dirs) // run ids begin with the time
				dir = filepath.Dir(dirs[len(dirs)-1])
			}
			return down(cmd.Context(), cmd.OutOrStdout(), dir, wait)
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 2*time.Minute, "how long to wait for the rehearsal to end")
	return cmd
}

// down asks the up process of dir to end and waits until it has.
func down(ctx context.Context, stdout io.Writer, dir string, wait time.Duration) error {
	pid := filepath.Join(dir, upPIDFile)
	if _, err := os.Stat(pid); err != nil {
		return &exitError{exitBadInput, fmt.Errorf("%s: no meshsim up is running there (%v)", dir, err)}
	}
	if err := os.WriteFile(filepath.Join(dir, upDownFile), nil, 0o644); err != nil {
		return &exitError{exitFailed, err}
	}
	fmt.Fprintf(stdout, "meshsim down: asked the rehearsal in %s to end\n", dir)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(upPoll)
	defer tick.Stop()
	for {
		if _, err := os.Stat(pid); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stdout, "meshsim down: done; reports in %s\n", dir)
			return nil
		}
		select {
		case <-ctx.Done():
			return &exitError{exitFailed, fmt.Errorf("the rehearsal in %s did not end within %s", dir, wait)}
		case <-tick.C:
		}
	}
}
