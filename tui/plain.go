// Package tui shows a run while it goes: plain progress lines when stdout is
// not a terminal (CI logs), one line per change of phase or step and at most
// one per interval within a step. It receives the engine's aggregated status
// as values and never reaches into the engine.
package tui

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/scenarios/engine/status"
)

// Plain prints progress as plain lines. It is safe for concurrent use.
type Plain struct {
	mu       sync.Mutex
	w        io.Writer
	interval time.Duration
	now      func() time.Time

	lastPhase, lastMsg string
	lastStep           int
	lastLine           time.Time
}

// NewPlain returns a Plain that writes to w, repeating a step's line at most
// once per interval (2s when interval is 0).
func NewPlain(w io.Writer, interval time.Duration) *Plain {
	if interval <= 0 {
		interval = 2 * time.Second
	}
	return &Plain{w: w, interval: interval, now: time.Now, lastStep: -1}
}

// Update implements engine.Progress.
func (p *Plain) Update(s status.Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if s.Phase != "rollout" {
		if s.Phase == p.lastPhase && s.Message == p.lastMsg {
			return
		}
		p.lastPhase, p.lastMsg = s.Phase, s.Message
		fmt.Fprintf(p.w, "[%s] %s\n", s.Phase, s.Message)
		for _, t := range s.Totals {
			fmt.Fprintln(p.w, "  "+TotalLine(t))
		}
		return
	}
	newStep := s.Step != p.lastStep || p.lastPhase != "rollout"
	final := s.StepBake > 0 && s.StepElapsed >= s.StepBake
	if !newStep && !final && now.Sub(p.lastLine) < p.interval {
		return
	}
	p.lastPhase, p.lastStep, p.lastLine = s.Phase, s.Step, now
	fmt.Fprintln(p.w, StepLine(s))
}

// StepLine renders a rollout status as one line:
//
//	step 2/5 canary-25  weights v1=75 v2=25  3.0s/6s  1503 req  0 failed  observed v1 74.8% v2 25.2%
func StepLine(s status.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-20s", stepLabel(s))
	if len(s.Weights) > 0 {
		b.WriteString(" weights")
	}
	for _, w := range s.Weights {
		fmt.Fprintf(&b, " %s=%d", w.Version, w.Weight)
	}
	if s.StepBake > 0 {
		fmt.Fprintf(&b, "  %5.1fs/%s", s.StepElapsed.Seconds(), s.StepBake)
	} else {
		fmt.Fprintf(&b, "  %5.1fs", s.StepElapsed.Seconds())
	}
	fmt.Fprintf(&b, "  %6d req  %4d failed  observed", s.Requests, s.Failed)
	ok := answered(s)
	versions := sortedVersions(s.Versions)
	if ok == 0 {
		b.WriteString(" -")
	}
	for _, v := range versions {
		if ok > 0 {
			fmt.Fprintf(&b, " %s %.1f%%", displayVersion(v), 100*float64(s.Versions[v])/float64(ok))
		}
	}
	return b.String()
}

// stepLabel names a step: "step 2/5 canary-25"; for an ECS deployment
// phase, the deployment of how many and the lifecycle stage of how many
// ("deployment 1/2 canary · stage 7/8 PRODUCTION_TRAFFIC_SHIFT · step 4");
// "step 1/3 baseline" for the steps around ECS deployments, counting the
// deployments to come.
func stepLabel(s status.Status) string {
	switch {
	case s.Steps > 0:
		return fmt.Sprintf("step %d/%d %s", s.Step+1, s.Steps, s.StepName)
	case s.Deployment > 0 && s.StageIndex > 0:
		return fmt.Sprintf("deployment %d/%d %s · stage %d/%d %s · step %d", s.Deployment, s.Deployments, s.DeploymentName, s.StageIndex, s.Stages, s.Stage, s.Step+1)
	case s.Deployment > 0:
		return fmt.Sprintf("deployment %d/%d · step %d %s", s.Deployment, s.Deployments, s.Step+1, s.StepName)
	case len(s.Plan) > 0:
		return fmt.Sprintf("step %d/%d %s", s.Step+1, len(s.Plan), s.StepName)
	}
	return fmt.Sprintf("step %d %s", s.Step+1, s.StepName)
}

func displayVersion(v string) string {
	if v == "" {
		return "(unknown)"
	}
	return v
}

// answered is how many of the step's requests a version answered: the
// whole the observed shares are of.
func answered(s status.Status) int64 {
	var n int64
	for _, c := range s.Versions {
		n += c
	}
	return n
}

// TotalLine renders a step's final counts as one line:
//
//	step 2 canary-25: 1503 req  0 failed  observed v1 74.8% v2 25.2%
func TotalLine(t status.StepTotal) string {
	var b strings.Builder
	fmt.Fprintf(&b, "step %d %s: %d req  %d failed  observed", t.Step+1, t.Name, t.Requests, t.Failed)
	s := status.Status{Versions: t.Versions}
	ok := answered(s)
	if ok == 0 {
		b.WriteString(" -")
	}
	for _, v := range sortedVersions(t.Versions) {
		if ok > 0 {
			fmt.Fprintf(&b, " %s %.1f%%", displayVersion(v), 100*float64(t.Versions[v])/float64(ok))
		}
	}
	return b.String()
}

func sortedVersions(m map[string]int64) []string {
	versions := make([]string, 0, len(m))
	for v := range m {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	return versions
}
