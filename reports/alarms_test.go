package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

func TestAnalyzeAlarms(t *testing.T) {
	start := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	ev := func(at time.Duration, name, from, to, points string) rundir.Event {
		return rundir.Event{Time: start.Add(at), Source: contract.SourceCloudWatch, Type: contract.EventAlarmState, Resource: name,
			Detail: map[string]string{contract.DetailFrom: from, contract.DetailTo: to, contract.DetailReason: "r " + to, contract.DetailDatapoints: points}}
	}
	evs := []rundir.Event{
		ev(time.Second, "api-5xx", "INSUFFICIENT_DATA", "OK", ""),
		{Time: start.Add(2 * time.Second), Source: contract.SourceECS, Type: contract.EventTaskState},
		ev(3*time.Second, "api-5xx", "OK", "ALARM", start.Add(2*time.Second).Format(time.RFC3339Nano)+"=7,garbage,"+start.Add(2500*time.Millisecond).Format(time.RFC3339Nano)+"=9.5"),
		ev(4*time.Second, "api-p99", "INSUFFICIENT_DATA", "OK", ""),
	}
	got := analyzeAlarms(evs)
	if len(got) != 2 || got[0].Name != "api-5xx" || got[1].Name != "api-p99" {
		t.Fatalf("alarms = %+v, want api-5xx then api-p99", got)
	}
	tr := got[0].Transitions
	if len(tr) != 2 || tr[1].To != "ALARM" || len(tr[1].Breaching) != 2 || tr[1].Breaching[1].Value != 9.5 || !tr[1].Breaching[0].Period.Equal(start.Add(2*time.Second)) {
		t.Fatalf("api-5xx transitions = %+v", tr)
	}
	r := &Report{Run: RunInfo{Started: start}, Alarms: got}
	lines := strings.Join(alarmLines(r, true), "\n")
	for _, want := range []string{"- alarm api-5xx: INSUFFICIENT_DATA → OK → ALARM", "  - +3s OK → ALARM: r ALARM — breaching: 7 at +2s, 9.5 at +2.5s"} {
		if !strings.Contains(lines, want) {
			t.Errorf("alarm lines lack %q:\n%s", want, lines)
		}
	}
}
