package reports

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

// AlarmReport is one CloudWatch alarm's state over the run: every change
// of state, with the datapoints that breached its threshold.
type AlarmReport struct {
	Name        string            `json:"name"`
	Transitions []AlarmTransition `json:"transitions"`
}

// AlarmTransition is an alarm's change of state.
type AlarmTransition struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	// Breaching are the datapoints of the evaluation that breached the
	// threshold (period start and value).
	Breaching []AlarmDatapoint `json:"breaching,omitempty"`
}

// AlarmDatapoint is one period's value of an alarm's metric.
type AlarmDatapoint struct {
	Period time.Time `json:"period"`
	Value  float64   `json:"value"`
}

// analyzeAlarms collects the alarms' changes of state from the world's
// events, in order.
func analyzeAlarms(evs []rundir.Event) []AlarmReport {
	var out []AlarmReport
	index := map[string]int{}
	for _, e := range evs {
		if e.Source != contract.SourceCloudWatch || e.Type != contract.EventAlarmState {
			continue
		}
		i, ok := index[e.Resource]
		if !ok {
			i = len(out)
			index[e.Resource] = i
			out = append(out, AlarmReport{Name: e.Resource})
		}
		out[i].Transitions = append(out[i].Transitions, AlarmTransition{
			At: e.Time, From: e.Detail[contract.DetailFrom], To: e.Detail[contract.DetailTo],
			Reason: e.Detail[contract.DetailReason], Breaching: parseDatapoints(e.Detail[contract.DetailDatapoints]),
		})
	}
	return out
}

// parseDatapoints reads "TIME=VALUE,…" (contract.DetailDatapoints);
// entries it cannot read are left out.
func parseDatapoints(s string) []AlarmDatapoint {
	var out []AlarmDatapoint
	for _, part := range strings.Split(s, ",") {
		t, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		at, err1 := time.Parse(time.RFC3339Nano, t)
		val, err2 := strconv.ParseFloat(v, 64)
		if err1 == nil && err2 == nil {
			out = append(out, AlarmDatapoint{Period: at, Value: val})
		}
	}
	return out
}

// alarmLines words the alarms' timelines, relative to the run's start, for
// the Deployments section of every rendering.
func alarmLines(r *Report, md bool) []string {
	var lines []string
	indent := "    "
	head := ""
	if md {
		indent, head = "  - ", "- "
	}
	for _, a := range r.Alarms {
		lines = append(lines, fmt.Sprintf("%salarm %s: %s", head, a.Name, alarmPath(a)))
		for _, t := range a.Transitions {
			line := fmt.Sprintf("%s+%s %s → %s: %s", indent, t.At.Sub(r.Run.Started).Round(10*time.Millisecond), t.From, t.To, t.Reason)
			if len(t.Breaching) > 0 {
				parts := make([]string, len(t.Breaching))
				for i, d := range t.Breaching {
					parts[i] = fmt.Sprintf("%s at +%s", strconv.FormatFloat(d.Value, 'f', -1, 64), d.Period.Sub(r.Run.Started).Round(10*time.Millisecond))
				}
				line += " — breaching: " + strings.Join(parts, ", ")
			}
			lines = append(lines, line)
		}
	}
	return lines
}

// alarmPath is an alarm's states in order: "INSUFFICIENT_DATA → OK → ALARM".
func alarmPath(a AlarmReport) string {
	if len(a.Transitions) == 0 {
		return ""
	}
	states := []string{a.Transitions[0].From}
	for _, t := range a.Transitions {
		states = append(states, t.To)
	}
	return strings.Join(states, " → ")
}
