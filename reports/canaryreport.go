package reports

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports/canary"
)

// baselineVersion is the version canaries are judged against: the version
// a deployment started from, or else the one with the largest weight in
// the first step (the stable version before the rollout).
func baselineVersion(meta rundir.Meta, steps []rundir.Step) string {
	if len(meta.Deployments) > 0 && meta.Deployments[0].From != "" {
		return meta.Deployments[0].From
	}
	var best string
	if len(steps) > 0 {
		for _, v := range sortedKeys(steps[0].Weights) {
			if best == "" || steps[0].Weights[v] > steps[0].Weights[best] {
				best = v
			}
		}
	}
	return best
}

// analyzeCanaries judges, in every step where the baseline version and
// another version both had weight, each such canary against the baseline
// as measured in the same step (Kayenta-style), and adds what Flagger and
// Argo Rollouts would have concluded from the canary's requests in
// one-second intervals.
func analyzeCanaries(r *Report, meta rundir.Meta, steps []rundir.Step, byStep [][]*rundir.Observation) {
	base := baselineVersion(meta, steps)
	if base == "" {
		return
	}
	for i := range r.Steps {
		sr := &r.Steps[i]
		w := steps[i].Weights
		if !sr.Reached || w[base] <= 0 {
			continue
		}
		var canaries []string
		for _, v := range sortedKeys(w) {
			if v != base && w[v] > 0 {
				canaries = append(canaries, v)
			}
		}
		if len(canaries) == 0 {
			continue
		}
		agg := metrics.NewStep()
		for _, o := range byStep[i] {
			agg.Add(o)
		}
		cfg := canary.Config{}
		intervals := canary.Intervals(sr.Start, sr.End, cfg)
		perInterval := make([]*metrics.Step, len(intervals))
		for k := range perInterval {
			perInterval[k] = metrics.NewStep()
		}
		for _, o := range byStep[i] {
			done := metrics.Completed(o)
			k := sort.Search(len(intervals), func(k int) bool { return done.Before(intervals[k][1]) })
			if k < len(intervals) && !done.Before(intervals[k][0]) {
				perInterval[k].Add(o)
			}
		}
		for _, c := range canaries {
			res := canary.Analyze(base, agg.Versions[base], c, agg.Versions[c], cfg)
			cs := make([]*metrics.Tally, len(perInterval))
			for k, s := range perInterval {
				cs[k] = s.Versions[c]
			}
			canary.JudgeOthers(&res, cs, cfg)
			sr.Canary = append(sr.Canary, res)
		}
	}
}

// canaryLines are the canary analyses, one block per step and canary.
func canaryLines(r *Report) [][]string {
	var rows [][]string
	for _, s := range r.Steps {
		for _, c := range s.Canary {
			var metrics []string
			for _, m := range c.Metrics {
				text := fmt.Sprintf("%s %s", m.Name, m.Classification)
				if m.Test != "" && m.Classification != canary.NoData {
					text += fmt.Sprintf(" (%s %s; %s)", m.Test, pValueText(m.P), m.Effect)
				}
				metrics = append(metrics, text)
			}
			flagger, argo := "-", "-"
			if c.Flagger != nil {
				flagger = fmt.Sprintf("%s (%d of %d checks failed, threshold %d)", c.Flagger.Verdict, c.Flagger.FailedChecks, c.Flagger.Intervals, c.Flagger.Threshold)
			}
			if c.Argo != nil {
				argo = fmt.Sprintf("%s (%d failed, %d inconclusive of %d; failureLimit %d)", c.Argo.Phase, c.Argo.Failed, c.Argo.Inconclusive, c.Argo.Measurements, c.Argo.FailureLimit)
			}
			rows = append(rows, []string{
				fmt.Sprintf("%d %s", s.Index, s.Name), c.Canary + " vs " + c.Baseline,
				fmt.Sprintf("%s, score %.0f (pass %.0f, marginal %.0f)", c.Verdict, c.Score, c.Pass, c.Marginal),
				strings.Join(metrics, "; "), flagger, argo,
			})
		}
	}
	return rows
}

var canaryColumns = []string{"Step", "Canary", "Kayenta-style verdict", "Metrics", "Flagger would", "Argo Rollouts would"}

// writeCanaryMarkdown is the canary analysis section of report.md and the
// CI summary; nothing when no step ran a canary beside its baseline.
func writeCanaryMarkdown(b *bytes.Buffer, r *Report, heading string) {
	rows := canaryLines(r)
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s Canary analysis (canary vs baseline, same step)\n\n", heading)
	mdRow(b, canaryColumns)
	mdRow(b, []string{"---", "---", "---", "---", "---", "---"})
	for _, row := range rows {
		mdRow(b, row)
	}
}
