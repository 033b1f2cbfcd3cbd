package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
)

// answers records the gates' answers.
type answers struct {
	mu   sync.Mutex
	list []contract.HookAnswer
	at   []time.Time
}

func (a *answers) answer(_ context.Context, id string, ans contract.HookAnswer) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.list = append(a.list, ans)
	a.at = append(a.at, time.Now())
	return nil
}

func (a *answers) get() ([]contract.HookAnswer, []time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]contract.HookAnswer(nil), a.list...), append([]time.Time(nil), a.at...)
}

// events records the engine events the gates emit.
type eventLog struct {
	mu    sync.Mutex
	types []string
}

func (l *eventLog) add(typ contract.EventType, _ string, _ map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.types = append(l.types, string(typ))
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.types...)
}

func invoke(fn, id string) rundir.Event {
	return rundir.Event{Source: "lambda", Type: "hook.invoked", Detail: map[string]string{"function": fn, "stage": "PRODUCTION_TRAFFIC_SHIFT", "invocationId": id}}
}

// feed adds n requests completed evenly over [from, from+span), every
// tenth failed when failing, each taking latency.
func feed(agg *metrics.Run, from time.Time, span time.Duration, n int, failing bool, latency time.Duration) {
	for i := range n {
		done := from.Add(span * time.Duration(i) / time.Duration(n))
		o := rundir.Observation{Kind: rundir.KindHTTP, Scheduled: done.Add(-latency), Sent: done.Add(-latency), Status: 200, Latency: latency, Version: "v2"}
		if failing && i%10 == 0 {
			o.Status, o.Error, o.ErrorKind = 500, "500 Internal Server Error", "http-5xx"
		}
		agg.Add(o)
	}
}

// TestGateDecisions runs one gate per case on a fake clock (synctest): the
// gate waits its window after the invocation, judges the window once it
// holds enough requests, and a window that stays short of them is no
// data, never a failure in disguise: it answers only after the no-data
// wait, with "no data" as the reason.
func TestGateDecisions(t *testing.T) {
	const window = 5 * time.Second
	hook := scenarios.Hook{Window: window, MaxErrorRate: 0.05, MaxP99: 100 * time.Millisecond}
	continueHook := hook
	continueHook.MinRequests, continueHook.NoDataWait, continueHook.OnNoData = 50, 10*time.Second, scenarios.OnNoDataContinue
	for _, tt := range []struct {
		name string
		hook *scenarios.Hook // nil: hook
		// traffic feeds the aggregate; it runs at the invocation, on the
		// bubble's clock.
		traffic    func(agg *metrics.Run, start time.Time)
		status     string
		reason     string // substring
		answeredAt time.Duration
	}{
		{
			name:       "a silent window is no data",
			traffic:    func(*metrics.Run, time.Time) {},
			status:     hookFailed,
			reason:     "no data: 0 requests in the last 5s after waiting 30s for 20 (onNoData: rollback)",
			answeredAt: window + scenarios.DefaultHookNoDataWait,
		},
		{
			name:       "too few requests is no data",
			traffic:    func(agg *metrics.Run, start time.Time) { feed(agg, start, window, 19, false, time.Millisecond) },
			status:     hookFailed,
			reason:     "no data: ",
			answeredAt: window + scenarios.DefaultHookNoDataWait,
		},
		{
			name:       "no data with onNoData continue succeeds, saying so",
			hook:       &continueHook,
			traffic:    func(agg *metrics.Run, start time.Time) { feed(agg, start, window, 49, true, time.Second) },
			status:     hookSucceeded,
			reason:     "in the last 5s after waiting 10s for 50 (onNoData: continue)",
			answeredAt: window + 10*time.Second,
		},
		{
			name:       "a healthy window succeeds at once",
			traffic:    func(agg *metrics.Run, start time.Time) { feed(agg, start, window, 100, false, 10*time.Millisecond) },
			status:     hookSucceeded,
			reason:     "100 requests in 5s: 0 failed, p99 10.007ms",
			answeredAt: window,
		},
		{
			name:       "errors fail the gate",
			traffic:    func(agg *metrics.Run, start time.Time) { feed(agg, start, window, 100, true, 10*time.Millisecond) },
			status:     hookFailed,
			reason:     "error rate 10.00% > 5.00%",
			answeredAt: window,
		},
		{
			name:       "slow requests fail the gate",
			traffic:    func(agg *metrics.Run, start time.Time) { feed(agg, start, window, 100, false, 150*time.Millisecond) },
			status:     hookFailed,
			reason:     "p99 150.015ms ≥ 100ms",
			answeredAt: window,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				agg := metrics.NewRun(time.Minute)
				ans, evs, log := &answers{}, &eventLog{}, &deploymentLog{}
				dep := log.add(rundir.Deployment{Name: "d"})
				g := newGates(agg, ans, log, evs.add)
				g.start(t.Context())
				h := hook
				if tt.hook != nil {
					h = *tt.hook
				}
				g.arm(map[string]scenarios.Hook{"fn": h}, dep)
				start := time.Now()
				g.observe(invoke("fn", "inv-1"))
				g.observe(invoke("someone-else", "inv-2")) // not ours: ignored
				tt.traffic(agg, start)

				time.Sleep(tt.answeredAt - time.Millisecond)
				synctest.Wait()
				if got, _ := ans.get(); len(got) != 0 {
					t.Fatalf("answered %+v before %v", got, tt.answeredAt)
				}
				time.Sleep(time.Millisecond)
				synctest.Wait()
				got, at := ans.get()
				if len(got) != 1 || got[0].HookStatus != tt.status || !strings.Contains(got[0].Reason, tt.reason) {
					t.Fatalf("answers %+v; want one %s with reason %q", got, tt.status, tt.reason)
				}
				if d := at[0].Sub(start); d != tt.answeredAt {
					t.Errorf("answered after %v, want %v", d, tt.answeredAt)
				}
				g.stop()
				gates := log.snapshot()[0].Gates
				if len(gates) != 1 || gates[0].Status != tt.status || gates[0].Reason != got[0].Reason || gates[0].Stage != "PRODUCTION_TRAFFIC_SHIFT" {
					t.Errorf("recorded gates %+v", gates)
				}
				if want := "gate." + strings.ToLower(tt.status); fmt.Sprint(evs.get()) != "["+want+"]" {
					t.Errorf("events %v, want [%s]", evs.get(), want)
				}
			})
		})
	}
}

// TestGateWaitsForData: a window short of requests when the gate first
// looks is judged as soon as enough requests have arrived, within the
// no-data wait.
func TestGateWaitsForData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		agg := metrics.NewRun(time.Minute)
		ans, log := &answers{}, &deploymentLog{}
		g := newGates(agg, ans, log, (&eventLog{}).add)
		g.start(t.Context())
		g.arm(map[string]scenarios.Hook{"fn": {Window: 5 * time.Second, MaxErrorRate: 0.05}}, log.add(rundir.Deployment{}))
		start := time.Now()
		g.observe(invoke("fn", "inv-1"))
		time.Sleep(10 * time.Second) // 5 s past the window: still nothing
		synctest.Wait()
		if got, _ := ans.get(); len(got) != 0 {
			t.Fatalf("answered %+v without data", got)
		}
		feed(agg, time.Now().Add(-time.Second), time.Second, 30, false, time.Millisecond)
		time.Sleep(noDataPoll)
		synctest.Wait()
		got, at := ans.get()
		if len(got) != 1 || got[0].HookStatus != hookSucceeded || at[0].Sub(start) != 10*time.Second+noDataPoll {
			t.Fatalf("answers %+v at %v", got, at)
		}
		g.stop()
	})
}

// TestGateCancelledMidWindow: when the run ends while a gate waits, stop
// returns at once, the gate answers nothing (ECS times the hook out) and
// its goroutine is gone: synctest.Test fails if a goroutine of the bubble
// is left blocked.
func TestGateCancelledMidWindow(t *testing.T) {
	for _, how := range []string{"stop", "context"} {
		t.Run(how, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				ans, evs, log := &answers{}, &eventLog{}, &deploymentLog{}
				g := newGates(metrics.NewRun(time.Minute), ans, log, evs.add)
				g.start(ctx)
				g.arm(map[string]scenarios.Hook{"fn": {Window: time.Hour}}, log.add(rundir.Deployment{}))
				start := time.Now()
				g.observe(invoke("fn", "inv-1"))
				time.Sleep(time.Second)
				if how == "context" {
					cancel()
				}
				g.stop()
				if d := time.Since(start); d != time.Second {
					t.Errorf("stop took %v of fake time", d-time.Second)
				}
				g.observe(invoke("fn", "inv-2")) // after stop: ignored
				synctest.Wait()
				if got, _ := ans.get(); len(got) != 0 {
					t.Errorf("answered %+v after the run ended", got)
				}
				if fmt.Sprint(evs.get()) != "[gate.unanswered]" {
					t.Errorf("events %v", evs.get())
				}
			})
		})
	}
}
