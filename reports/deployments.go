package reports

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

// assertDeploymentsAsExpected is the assertion that every ECS deployment
// ended as the scenario expects.
const assertDeploymentsAsExpected = "deployments-as-expected"

// DeploymentReport is one ECS deployment of the run: what was asked, how ECS
// ran it (lifecycle stages, gates), and whether it ended as expected.
type DeploymentReport struct {
	rundir.Deployment
	// AsExpected is true when Outcome is Expect and, if the scenario
	// expects a reason, the rollback reason contains it.
	AsExpected bool `json:"asExpected"`
	// Duration is how long the deployment took (wall time); AWSDuration is
	// the same span in AWS time (Duration × the run's time scale).
	Duration    time.Duration `json:"durationNs"`
	AWSDuration time.Duration `json:"awsDurationNs"`
}

// Capacity is how many tasks of the rolled-out service were RUNNING during
// a step (from the ECS fake's task state events): the fewest and the most
// at any moment.
type Capacity struct {
	Service string `json:"service"`
	Min     int    `json:"min"`
	Max     int    `json:"max"`
}

func analyzeDeployments(meta rundir.Meta) []DeploymentReport {
	scale := meta.TimeScale
	if scale <= 0 {
		scale = 1
	}
	var out []DeploymentReport
	for _, d := range meta.Deployments {
		dr := DeploymentReport{Deployment: d, AsExpected: d.Outcome != "" && d.Outcome == d.Expect && strings.Contains(d.RollbackReason, d.ExpectReason)}
		if !d.Ended.IsZero() {
			dr.Duration = d.Ended.Sub(d.Started)
			dr.AWSDuration = time.Duration(float64(dr.Duration) * scale)
		}
		out = append(out, dr)
	}
	return out
}

func judgeDeployments(r *Report) verdictBuilder {
	v := verdictBuilder{none: "no ECS deployment was made"}
	for _, d := range r.Deployments {
		v.judged++
		switch {
		case d.Outcome == "":
			v.failures = append(v.failures, fmt.Sprintf("deployment %q (%s → %s) did not end before the run did; expected %s", d.Name, d.From, d.To, d.Expect))
		case d.Outcome == d.Expect && !d.AsExpected:
			v.failures = append(v.failures, fmt.Sprintf("deployment %q (%s → %s) ended %s as expected, but for the reason %q, which does not contain %q", d.Name, d.From, d.To, d.Outcome, d.RollbackReason, d.ExpectReason))
		case !d.AsExpected:
			why := ""
			if d.RollbackReason != "" {
				why = ": " + d.RollbackReason
			}
			v.failures = append(v.failures, fmt.Sprintf("deployment %q (%s → %s) ended %s, expected %s%s", d.Name, d.From, d.To, d.Outcome, d.Expect, why))
		}
	}
	names := make([]string, len(r.Deployments))
	for i, d := range r.Deployments {
		names[i] = fmt.Sprintf("%s %s", d.Name, d.Outcome)
	}
	v.pass = fmt.Sprintf("every deployment ended as expected (%s)", strings.Join(names, ", "))
	return v
}

// taskCapacity replays the ECS task state events of service and returns,
// for each step, the fewest and most tasks RUNNING during it.
func taskCapacity(service string, steps []StepReport, evs []rundir.Event) {
	type change struct {
		at    time.Time
		delta int
	}
	var changes []change
	for _, e := range evs {
		if e.Source != contract.SourceECS || e.Type != contract.EventTaskState || e.Detail[contract.DetailService] != service {
			continue
		}
		switch {
		case e.Detail[contract.DetailTo] == "RUNNING":
			changes = append(changes, change{e.Time, +1})
		case e.Detail[contract.DetailFrom] == "RUNNING":
			changes = append(changes, change{e.Time, -1})
		}
	}
	if len(changes) == 0 {
		return
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].at.Before(changes[j].at) })
	for i := range steps {
		s := &steps[i]
		if !s.Reached {
			continue
		}
		running, k := 0, 0
		for ; k < len(changes) && !changes[k].at.After(s.Start); k++ {
			running += changes[k].delta
		}
		c := Capacity{Service: service, Min: running, Max: running}
		for ; k < len(changes) && (s.End.IsZero() || changes[k].at.Before(s.End)); k++ {
			running += changes[k].delta
			c.Min, c.Max = min(c.Min, running), max(c.Max, running)
		}
		s.Tasks = &c
	}
}

// capacityCell renders a step's capacity: "4" or "2–4".
func capacityCell(s StepReport) string {
	if s.Tasks == nil {
		return "-"
	}
	if s.Tasks.Min == s.Tasks.Max {
		return fmt.Sprint(s.Tasks.Min)
	}
	return fmt.Sprintf("%d–%d", s.Tasks.Min, s.Tasks.Max)
}

// deploymentLines renders the deployments for Markdown (md) or the terminal.
func deploymentLines(r *Report, md bool) []string {
	var lines []string
	scale := r.Run.TimeScale
	for _, d := range r.Deployments {
		mark := "✅"
		if !d.AsExpected {
			mark = "❌"
		}
		outcome := d.Outcome
		if outcome == "" {
			outcome = "not finished"
		}
		head := fmt.Sprintf("%s %s: %s %s → %s, ended %s (expected %s) after %s", mark, d.Name, d.Strategy, d.From, d.To, outcome, d.Expect, d.Duration.Round(10*time.Millisecond))
		if scale > 1 {
			head += fmt.Sprintf(" (%s of AWS time at %g×)", d.AWSDuration.Round(time.Second), scale)
		}
		if md {
			head = "- " + head
		}
		lines = append(lines, head)
		indent := "    "
		if md {
			indent = "  - "
		}
		if d.RollbackReason != "" {
			lines = append(lines, indent+"rollback: "+d.RollbackReason)
		}
		if len(d.Stages) > 0 {
			parts := make([]string, len(d.Stages))
			for i, st := range d.Stages {
				at := st.At.Sub(d.Started)
				parts[i] = fmt.Sprintf("%s +%s", st.Stage, at.Round(10*time.Millisecond))
				if scale > 1 {
					parts[i] += fmt.Sprintf(" (AWS +%s)", time.Duration(float64(at)*scale).Round(time.Second))
				}
			}
			lines = append(lines, indent+"stages: "+strings.Join(parts, " → "))
		}
		for _, g := range d.Gates {
			lines = append(lines, fmt.Sprintf("%sgate at %s: %s (%s)", indent, g.Stage, g.Status, g.Reason))
		}
	}
	var blamed []string
	for _, s := range r.TaskStops {
		if s.Failures > 0 {
			blamed = append(blamed, fmt.Sprintf("task %s (%s) %d", s.Task, orDash(s.IP), s.Failures))
		}
	}
	if len(r.TaskStops) > 0 {
		line := fmt.Sprintf("%d tasks stopped; failed requests while a task was stopping: ", len(r.TaskStops))
		if len(blamed) == 0 {
			line += "none"
		} else {
			line += strings.Join(blamed, ", ")
		}
		if r.UnexplainedFailures > 0 {
			line += fmt.Sprintf("; %d failures while no task was stopping", r.UnexplainedFailures)
		}
		if md {
			line = "- " + line
		}
		lines = append(lines, line)
	}
	return append(lines, alarmLines(r, md)...)
}

// TaskStop is one task of the deployed service that stopped during the run,
// with the failed requests that ended while it was stopping.
type TaskStop struct {
	Task string `json:"task"`
	IP   string `json:"ip,omitempty"`
	// From is when the task left RUNNING; To when it was STOPPED.
	From time.Time `json:"from"`
	To   time.Time `json:"to,omitzero"`
	// Reason is the task's stoppedReason when ECS gave one.
	Reason string `json:"reason,omitempty"`
	// Failures counts the failed requests that ended while the task was
	// stopping (between leaving RUNNING and a second after STOPPED).
	Failures int `json:"failures"`
}

// stopGrace is how long after a task is STOPPED its failures are still
// put down to it: callers learn of a dead connection a moment later.
const stopGrace = time.Second

// taskStops finds the tasks of service that stopped, and puts each failed
// request down to the task that was stopping when it ended (the one that
// began stopping last, if several were). It returns the stops and the
// number of failures no stopping task explains.
// Stops that begin after `end` (the world being torn down) are left out.
func taskStops(service string, end time.Time, obs []rundir.Observation, evs []rundir.Event) ([]TaskStop, int) {
	var stops []TaskStop
	open := map[string]int{} // task → index in stops
	for _, e := range evs {
		if e.Source != contract.SourceECS || e.Type != contract.EventTaskState || e.Detail[contract.DetailService] != service {
			continue
		}
		if e.Detail[contract.DetailFrom] == "RUNNING" && !end.IsZero() && e.Time.After(end) {
			continue
		}
		task := e.Resource[strings.LastIndex(e.Resource, "/")+1:]
		switch {
		case e.Detail[contract.DetailFrom] == "RUNNING":
			open[task] = len(stops)
			stops = append(stops, TaskStop{Task: task, IP: e.Detail[contract.DetailIP], From: e.Time})
		case e.Detail[contract.DetailTo] == "STOPPED":
			if i, ok := open[task]; ok {
				stops[i].To = e.Time
				stops[i].Reason = e.Detail[contract.DetailStoppedReason]
				delete(open, task)
			}
		}
	}
	unexplained := 0
	for _, o := range obs {
		if !o.IsRequest() || o.OK() || o.ErrorKind == canceledKind {
			continue // stream breaks are counted in the stream section
		}
		ended := o.Sent.Add(o.ServiceTime)
		best := -1
		for i, s := range stops {
			if ended.Before(s.From) || (!s.To.IsZero() && ended.After(s.To.Add(stopGrace))) {
				continue
			}
			if best < 0 || s.From.After(stops[best].From) {
				best = i
			}
		}
		if best < 0 {
			unexplained++
			continue
		}
		stops[best].Failures++
	}
	return stops, unexplained
}

// Fault is one fault the scenario injected into a task.
type Fault struct {
	At      time.Time `json:"at"`
	Action  string    `json:"action"`
	Service string    `json:"service"`
	Version string    `json:"version,omitempty"`
	Task    string    `json:"task,omitempty"`
	// Step is the index of the step the fault happened in (-1 outside).
	Step  int    `json:"step"`
	Error string `json:"error,omitempty"`
}

// faults lists the faults the engine injected (its contract.EventFaultInjected and
// contract.EventFaultError events), with the step each happened in.
func faults(steps []StepReport, evs []rundir.Event) []Fault {
	var out []Fault
	for _, e := range evs {
		if e.Source != contract.SourceEngine || (e.Type != contract.EventFaultInjected && e.Type != contract.EventFaultError) {
			continue
		}
		f := Fault{At: e.Time, Action: e.Detail[contract.DetailAction], Service: e.Detail[contract.DetailService], Version: e.Detail[contract.DetailVersion],
			Task: e.Detail[contract.DetailTask], Error: e.Detail[contract.DetailError], Step: -1}
		for _, s := range steps {
			if s.Reached && !e.Time.Before(s.Start) && (s.End.IsZero() || e.Time.Before(s.End)) {
				f.Step = s.Index
			}
		}
		out = append(out, f)
	}
	return out
}

func faultLines(r *Report, md bool) []string {
	var lines []string
	for _, f := range r.Faults {
		line := fmt.Sprintf("fault %s %s", f.Action, f.Service)
		if f.Version != "" {
			line += " " + f.Version
		}
		if f.Task != "" {
			line += " task " + f.Task
		}
		if f.Step >= 0 {
			line += fmt.Sprintf(" in step %d", f.Step)
		}
		if f.Error != "" {
			line += ": failed: " + f.Error
		}
		if md {
			line = "- " + line
		}
		lines = append(lines, line)
	}
	return lines
}
