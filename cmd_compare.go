package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports"
	"github.com/meshsim/meshsim/scenarios"
)

// compareFlags are the thresholds of a comparison, as flags; a flag given
// overrides the scenario's compare section, which overrides the defaults.
type compareFlags struct {
	alpha, level, errorRatePP, weightErrorPP, latencyTolerance, tailFactor, deploymentTolerance float64
	minLatencyShift, minPropagationShift, minDeploymentDelta                                    time.Duration
	gate                                                                                        []string
}

func (c *compareFlags) register(f *pflag.FlagSet) {
	d := reports.DefaultCompareOptions()
	f.Float64Var(&c.alpha, "alpha", d.Alpha, "significance level of each one-sided test (NEW worse than BASE)")
	f.Float64Var(&c.level, "level", d.Level, "confidence level of the intervals shown")
	f.Float64Var(&c.errorRatePP, "error-rate-pp", 100*d.ErrorRateDelta, "smallest error-rate increase that counts, in percentage points")
	f.Float64Var(&c.weightErrorPP, "weight-error-pp", d.WeightErrorPP, "smallest growth of a step's weight error that counts, in percentage points")
	f.Float64Var(&c.latencyTolerance, "latency-tolerance", d.LatencyTolerance, "smallest latency shift that counts, as a fraction of BASE's median")
	f.DurationVar(&c.minLatencyShift, "min-latency-shift", d.MinLatencyShift, "smallest latency shift that counts, absolute")
	f.Float64Var(&c.tailFactor, "tail-factor", d.TailFactor, "the share of NEW's requests slower than BASE's p99 that counts, as a multiple of BASE's share")
	f.DurationVar(&c.minPropagationShift, "min-propagation-shift", d.MinPropagationShift, "smallest xDS propagation or stream reconnect shift that counts")
	f.Float64Var(&c.deploymentTolerance, "deployment-tolerance", d.DeploymentTolerance, "a deployment regresses when it took this fraction longer ...")
	f.DurationVar(&c.minDeploymentDelta, "min-deployment-delta", d.MinDeploymentDelta, "... and this much longer")
	f.StringSliceVar(&c.gate, "gate", d.Gate, "metric families that decide the verdict: "+strings.Join(reports.Families, ", "))
}

// options merges the defaults, the scenario's compare section (sc may be
// nil) and the flags given.
func (c *compareFlags) options(f *pflag.FlagSet, sc *scenarios.Compare) (reports.CompareOptions, error) {
	o := reports.DefaultCompareOptions()
	if sc != nil {
		setIf(&o.Alpha, sc.Alpha, sc.Alpha >= 0)
		setIf(&o.ErrorRateDelta, sc.ErrorRatePP/100, sc.ErrorRatePP >= 0)
		setIf(&o.WeightErrorPP, sc.WeightErrorPP, sc.WeightErrorPP >= 0)
		setIf(&o.LatencyTolerance, sc.LatencyTolerance, sc.LatencyTolerance >= 0)
		setIf(&o.MinLatencyShift, sc.MinLatencyShift, sc.MinLatencyShift >= 0)
		setIf(&o.Gate, sc.Gate, len(sc.Gate) > 0)
	}
	changed := f.Changed
	setIf(&o.Alpha, c.alpha, changed("alpha"))
	setIf(&o.Level, c.level, changed("level"))
	setIf(&o.ErrorRateDelta, c.errorRatePP/100, changed("error-rate-pp"))
	setIf(&o.WeightErrorPP, c.weightErrorPP, changed("weight-error-pp"))
	setIf(&o.LatencyTolerance, c.latencyTolerance, changed("latency-tolerance"))
	setIf(&o.MinLatencyShift, c.minLatencyShift, changed("min-latency-shift"))
	setIf(&o.TailFactor, c.tailFactor, changed("tail-factor"))
	setIf(&o.MinPropagationShift, c.minPropagationShift, changed("min-propagation-shift"))
	setIf(&o.DeploymentTolerance, c.deploymentTolerance, changed("deployment-tolerance"))
	setIf(&o.MinDeploymentDelta, c.minDeploymentDelta, changed("min-deployment-delta"))
	setIf(&o.Gate, c.gate, changed("gate"))
	if err := o.Validate(); err != nil {
		return o, fmt.Errorf("compare options: %w", err)
	}
	return o, nil
}

func setIf[T any](dst *T, v T, ok bool) {
	if ok {
		*dst = v
	}
}

// compareCode is the exit code of a comparison: 0 no regression, 1 a
// regression, 3 inconclusive (either run was).
func compareCode(c *reports.Comparison) int {
	switch c.Verdict {
	case reports.CompareRegression:
		return exitFailed
	case reports.CompareInconclusive:
		return exitInconclusive
	}
	return exitOK
}

// appendSummary appends the Markdown step summary to path (CI step
// summaries are appended to: $GITHUB_STEP_SUMMARY collects every step's).
func appendSummary(path string, r *reports.Report, c *reports.Comparison) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("--summary: %w", err)
	}
	werr := reports.WriteStepSummary(f, r, c)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("--summary %s: %w", path, werr)
	}
	return nil
}

func compareCmd() *cobra.Command {
	var (
		flags           compareFlags
		summary, js, sc string
	)
	cmd := &cobra.Command{
		Use:   "compare BASE NEW",
		Short: "Compare a run with a baseline, metric by metric, with statistical tests",
		Long: `Compare NEW with BASE metric by metric and say whether NEW is worse beyond noise.
BASE and NEW are run directories or baseline files ("meshsim run --save-baseline").

Each metric names its test, its one-sided p-value (NEW worse) and the interval of the
change: failed requests and error rate per error kind and per step (Fisher's exact
test or the two-proportion z test), each step's weight error (two-proportion test of
the shares), latency per version, stream reconnect time and xDS propagation time
(Mann–Whitney U with the Hodges–Lehmann interval of the shift), stream breaks
(Poisson rate ratio), lost stream messages (proportions), and deployment durations and
outcomes (thresholds: one measurement each). A metric regresses when its test is
significant at --alpha AND the change exceeds its threshold.

Thresholds and the gating families come from --scenario's compare section, then the
flags. Exit code: 0 no regression, 1 regression, 2 bad input, 3 inconclusive (either
run was inconclusive or partial, so a difference may be the machine's).`,
		Example: `  meshsim compare baseline.json meshsim-runs/2026-12-03T07-00-00-bookingapp-canary
  meshsim compare runA runB --gate errors,latency --summary "$GITHUB_STEP_SUMMARY"`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var section *scenarios.Compare
			if sc != "" {
				s, err := scenarios.Resolve(sc)
				if err != nil {
					return &exitError{exitBadInput, err}
				}
				section = s.Compare
			}
			opts, err := flags.options(cmd.Flags(), section)
			if err != nil {
				return &exitError{exitBadInput, err}
			}
			base, err := reports.LoadBaseline(args[0])
			if err != nil {
				return &exitError{exitBadInput, fmt.Errorf("BASE: %w", err)}
			}
			nw, err := reports.LoadBaseline(args[1])
			if err != nil {
				return &exitError{exitBadInput, fmt.Errorf("NEW: %w", err)}
			}
			c := reports.Compare(base, nw, args[0], args[1], opts)
			reports.WriteComparison(cmd.OutOrStdout(), c)
			if err := writeCompareOutputs(c, summary, js); err != nil {
				return &exitError{exitErrored, err}
			}
			if code := compareCode(c); code != exitOK {
				return &exitError{code, fmt.Errorf("%s (exit %d)", c.Verdict, code)}
			}
			return nil
		},
	}
	flags.register(cmd.Flags())
	cmd.Flags().StringVar(&summary, "summary", "", "append a Markdown summary (for $GITHUB_STEP_SUMMARY or a GitLab job report) to this file")
	cmd.Flags().StringVar(&js, "json", "", "write the comparison as JSON to this file")
	cmd.Flags().StringVar(&sc, "scenario", "", "take thresholds and gating families from this scenario's compare section (file or built-in name)")
	return cmd
}

func writeCompareOutputs(c *reports.Comparison, summary, js string) error {
	if summary != "" {
		if err := appendSummary(summary, nil, c); err != nil {
			return err
		}
	}
	if js != "" {
		data, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(js, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}

// ciOutputs are the run and report commands' CI options: a baseline to
// compare with, a baseline to save, a Markdown summary to append to.
type ciOutputs struct {
	baseline, saveBaseline, summary string
	flags                           compareFlags
	fs                              *pflag.FlagSet
	section                         *scenarios.Compare
}

func (ci *ciOutputs) register(f *pflag.FlagSet) {
	ci.fs = f
	f.StringVar(&ci.baseline, "baseline", "", "compare the run with this baseline file or run directory (see \"meshsim compare\"); a regression fails the run")
	f.StringVar(&ci.saveBaseline, "save-baseline", "", "write the run's baseline (a small versioned JSON file to commit) to this file")
	f.StringVar(&ci.summary, "summary", "", "append a Markdown summary (verdict, steps, canary analysis, comparison) to this file, e.g. $GITHUB_STEP_SUMMARY")
	ci.flags.register(f)
}

// check reads the baseline before the run, so that a bad one is bad input
// and not a wasted rehearsal.
func (ci *ciOutputs) check() (*reports.Baseline, reports.CompareOptions, error) {
	opts, err := ci.flags.options(ci.fs, ci.section)
	if err != nil || ci.baseline == "" {
		return nil, opts, err
	}
	base, err := reports.LoadBaseline(ci.baseline)
	if err != nil {
		return nil, opts, fmt.Errorf("--baseline: %w", err)
	}
	return base, opts, nil
}

// apply compares the analysed run with the baseline (setting
// rep.Comparison), saves its baseline, and returns the comparison (nil
// without a baseline).
func (ci *ciOutputs) apply(dir string, run *rundir.Run, rep *reports.Report) (*reports.Comparison, error) {
	if ci == nil {
		return nil, nil
	}
	base, opts, err := ci.check()
	if err != nil {
		return nil, err
	}
	var errs []error
	own := reports.NewBaseline(run, rep)
	if base != nil {
		rep.Comparison = reports.Compare(base, own, ci.baseline, dir, opts)
	}
	if ci.saveBaseline != "" {
		if err := reports.WriteBaseline(ci.saveBaseline, own); err != nil {
			errs = append(errs, fmt.Errorf("--save-baseline: %w", err))
		}
	}
	return rep.Comparison, errors.Join(errs...)
}

// finish prints the comparison, appends the summary, and folds the
// comparison's verdict into the exit code of a run that passed: a
// regression fails it (1), an inconclusive comparison makes it 3.
func (ci *ciOutputs) finish(w io.Writer, rep *reports.Report, code int) (int, error) {
	if ci == nil {
		return code, nil
	}
	if c := rep.Comparison; c != nil {
		fmt.Fprintln(w)
		reports.WriteComparison(w, c)
		if code == exitOK {
			code = compareCode(c)
		}
	}
	if ci.summary != "" {
		if err := appendSummary(ci.summary, rep, rep.Comparison); err != nil {
			return code, err
		}
	}
	return code, nil
}
