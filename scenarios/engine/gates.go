package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/reports/canary"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll"
)

// The gate's answers to a lifecycle hook.
const (
	hookSucceeded = "SUCCEEDED"
	hookFailed    = "FAILED"
)

// noDataPoll is how often a gate short of requests looks at its window
// again.
const noDataPoll = 250 * time.Millisecond

// windows gives the gates the live aggregate of the requests sent in a
// window.
type windows interface {
	Window(from, to time.Time) metrics.Window
}

// answerer answers a lifecycle hook invocation.
type answerer interface {
	answer(ctx context.Context, invocationID string, a contract.HookAnswer) error
}

// gates answers the lifecycle hook invocations of the deployment in
// progress: a gate holds when, over its window, the error rate and p99
// latency stay within its limits. A window with fewer requests than the
// gate's minimum is no data, never a failure: the gate waits for data up
// to its limit, then answers as its onNoData policy says, with the reason.
//
// Each invocation is judged on a goroutine of its own, started with the
// gates' context; stop cancels that context and waits for every one.
type gates struct {
	agg    windows
	answer answerer
	log    *deploymentLog
	event  func(typ contract.EventType, resource string, detail map[string]string)

	mu         sync.Mutex
	hooks      map[string]scenarios.Hook // the armed gates, by function ARN
	deployment int                       // index in log of the deployment they guard
	ctx        context.Context           // nil before start
	cancel     context.CancelFunc
	stopped    bool
	wg         sync.WaitGroup
}

func newGates(agg windows, a answerer, log *deploymentLog, event func(contract.EventType, string, map[string]string)) *gates {
	return &gates{agg: agg, answer: a, log: log, event: event, deployment: -1}
}

// start lets the gates judge invocations until ctx ends or stop is called.
func (g *gates) start(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ctx == nil && !g.stopped {
		g.ctx, g.cancel = context.WithCancel(ctx)
	}
}

// stop cancels the gates still judging, without answering them (ECS times
// their hooks out), and waits until every gate goroutine has returned.
func (g *gates) stop() {
	g.mu.Lock()
	g.stopped = true
	cancel := g.cancel
	g.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	g.wg.Wait()
}

// arm sets the gates of the deployment in progress (log index deployment);
// nil disarms them.
func (g *gates) arm(hooks map[string]scenarios.Hook, deployment int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hooks, g.deployment = hooks, deployment
}

// invocation is one lifecycle hook invocation to judge.
type invocation struct {
	function, stage, id string
	hook                scenarios.Hook
	deployment          int
}

// observe starts judging e if it invokes one of the armed gates.
func (g *gates) observe(e rundir.Event) {
	if e.Source != contract.SourceLambda || e.Type != contract.EventHookInvoked {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.hooks[e.Detail[contract.DetailFunction]]
	if !ok || g.ctx == nil || g.stopped {
		return // not one of ours, or too late: ECS fails it when it times out
	}
	inv := invocation{function: e.Detail[contract.DetailFunction], stage: e.Detail[contract.DetailStage], id: e.Detail[contract.DetailInvocationID], hook: h, deployment: g.deployment}
	ctx := g.ctx
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.judge(ctx, inv)
	}()
}

// judge decides an invocation, records the decision and answers it.
func (g *gates) judge(ctx context.Context, inv invocation) {
	var from, to string
	if inv.deployment >= 0 {
		dep := g.log.get(inv.deployment)
		from, to = dep.From, dep.To
	}
	d, err := g.decide(ctx, inv.hook, from, to)
	if err != nil {
		g.event(contract.EventGateUnanswered, inv.function, map[string]string{contract.DetailStage: inv.stage, contract.DetailReason: "the run ended before the gate decided: " + err.Error()})
		return
	}
	d.Stage = inv.stage
	if inv.deployment >= 0 {
		g.log.update(inv.deployment, func(dep *rundir.Deployment) { dep.Gates = append(dep.Gates, d) })
	}
	g.event(gateEvent(d.Status), inv.function, map[string]string{contract.DetailStage: d.Stage, contract.DetailReason: d.Reason})
	if err := g.answer.answer(ctx, inv.id, contract.HookAnswer{HookStatus: d.Status, Reason: d.Reason}); err != nil {
		g.event(contract.EventGateError, inv.function, map[string]string{contract.DetailError: err.Error()})
	}
}

// decide waits for the hook's window to pass since the invocation, so the
// gate sees traffic under the stage it guards, then judges the last window
// once it holds enough requests; without them by the no-data limit it
// applies the hook's no-data policy. It returns ctx's error if ctx ends
// first.
func (g *gates) decide(ctx context.Context, h scenarios.Hook, from, to string) (rundir.Gate, error) {
	wait := time.NewTimer(h.Window)
	defer wait.Stop()
	select {
	case <-ctx.Done():
		return rundir.Gate{}, ctx.Err()
	case <-wait.C:
	}
	minRequests, noDataWait, _ := noDataPolicy(h)
	giveUp := time.Now().Add(noDataWait)
	var d rundir.Gate
	err := poll.Until(ctx, noDataPoll, func(context.Context) (bool, error) {
		now := time.Now()
		w := g.agg.Window(now.Add(-h.Window), now)
		switch {
		case w.Requests >= minRequests:
			d = judgeWindow(h, w)
			if h.Analysis != nil {
				d = g.analyse(h, w, d, from, to)
			}
		case !now.Before(giveUp):
			d = noData(h, w, noDataWait)
		default:
			return false, nil
		}
		d.At = now
		return true, nil
	})
	return d, err
}

// analysisConfig is the canary analysis configuration of hook h.
func analysisConfig(h scenarios.Hook) canary.Config {
	a := h.Analysis
	cfg := canary.Config{Pass: a.Pass, Marginal: a.Marginal, ConfLevel: a.ConfLevel, Interval: a.Interval,
		Threshold: a.Threshold, FailureLimit: a.FailureLimit, MaxErrorRate: h.MaxErrorRate, MaxP99: h.MaxP99}
	if cfg.MaxErrorRate < 0 { // no limit in the hook: Flagger's default
		cfg.MaxErrorRate = 0
	}
	if cfg.MinRequests = h.MinRequests; cfg.MinRequests <= 0 {
		cfg.MinRequests = 0
	}
	return cfg
}

// analyse adds the canary analysis of version to against version from, in
// window w, to the decision d of the hook's other criteria: the gate fails
// unless the analysis passes. Flagger's and Argo's verdicts on the same
// window's intervals are named in the reason.
func (g *gates) analyse(h scenarios.Hook, w metrics.Window, d rundir.Gate, from, to string) rundir.Gate {
	cfg := analysisConfig(h)
	if b := w.Versions[from]; b == nil || b.Requests < max(cfg.MinRequests, 1) {
		// The baseline no longer takes traffic (the shift to 100%): there
		// is no concurrent baseline to judge the canary against.
		n := 0
		if b != nil {
			n = b.Requests
		}
		d.Reason += fmt.Sprintf("; canary analysis skipped: %s served %d requests in the window, no concurrent baseline", from, n)
		return d
	}
	res := canary.Analyze(from, w.Versions[from], to, w.Versions[to], cfg)
	var intervals []*metrics.Tally
	for _, iv := range canary.Intervals(w.From, w.To, cfg) {
		intervals = append(intervals, g.agg.Window(iv[0], iv[1]).Versions[to])
	}
	canary.JudgeOthers(&res, intervals, cfg)
	var classes []string
	for _, m := range res.Metrics {
		c := m.Name + " " + m.Classification
		if m.Classification == canary.High {
			c += " (" + m.Effect + ")"
		}
		classes = append(classes, c)
	}
	text := fmt.Sprintf("canary analysis %s vs %s: %s, score %.0f (pass %.0f, marginal %.0f): %s; Flagger would %s, Argo Rollouts %s",
		to, from, res.Verdict, res.Score, res.Pass, res.Marginal, strings.Join(classes, ", "), res.Flagger.Verdict, res.Argo.Phase)
	if res.Verdict != canary.VerdictPass {
		if d.Status == hookFailed {
			d.Reason += "; " + text
		} else {
			d.Status, d.Reason = hookFailed, text
		}
		return d
	}
	if d.Status == hookSucceeded {
		d.Reason += "; " + text
	}
	return d
}

// gateEvent is the event type of a gate's decision.
func gateEvent(status string) contract.EventType {
	if status == hookSucceeded {
		return contract.EventGateSucceeded
	}
	return contract.EventGateFailed
}

// noDataPolicy returns the hook's no-data settings, defaults filled in
// for a hook the scenario parser did not fill.
func noDataPolicy(h scenarios.Hook) (minRequests int, wait time.Duration, onNoData scenarios.OnNoData) {
	minRequests, wait, onNoData = h.MinRequests, h.NoDataWait, h.OnNoData
	if minRequests <= 0 {
		minRequests = scenarios.DefaultHookMinRequests
	}
	if wait <= 0 {
		wait = scenarios.DefaultHookNoDataWait
	}
	if onNoData == "" {
		onNoData = scenarios.OnNoDataRollback
	}
	return minRequests, wait, onNoData
}

// judgeWindow decides on a window with enough requests: SUCCEEDED unless
// its error rate or p99 is over the hook's limits.
func judgeWindow(h scenarios.Hook, w metrics.Window) rundir.Gate {
	q := w.Latency.Quantiles()
	d := gateRecord(w, q.P99)
	var why []string
	rate := float64(w.Failed) / float64(w.Requests)
	if h.MaxErrorRate >= 0 && rate > h.MaxErrorRate {
		why = append(why, fmt.Sprintf("error rate %.2f%% > %.2f%%", 100*rate, 100*h.MaxErrorRate))
	}
	if h.MaxP99 > 0 && q.P99 >= h.MaxP99 {
		why = append(why, fmt.Sprintf("p99 %s ≥ %s", q.P99.Round(time.Microsecond), h.MaxP99))
	}
	if len(why) > 0 {
		d.Status, d.Reason = hookFailed, strings.Join(why, "; ")
		return d
	}
	d.Status = hookSucceeded
	d.Reason = fmt.Sprintf("%d requests in %s: %d failed, p99 %s", w.Requests, h.Window, w.Failed, q.P99.Round(time.Microsecond))
	return d
}

// noData decides on a window that never held enough requests, by the
// hook's policy; the reason says so.
func noData(h scenarios.Hook, w metrics.Window, waited time.Duration) rundir.Gate {
	minRequests, _, policy := noDataPolicy(h)
	d := gateRecord(w, w.Latency.Quantiles().P99)
	reason := fmt.Sprintf("no data: %d requests in the last %s after waiting %s for %d", w.Requests, h.Window, waited, minRequests)
	if policy == scenarios.OnNoDataContinue {
		d.Status, d.Reason = hookSucceeded, reason+" (onNoData: continue)"
	} else {
		d.Status, d.Reason = hookFailed, reason+" (onNoData: rollback)"
	}
	return d
}

func gateRecord(w metrics.Window, p99 time.Duration) rundir.Gate {
	return rundir.Gate{Requests: w.Requests, Failed: w.Failed, P99: p99, From: w.From, To: w.To, Through: w.Through}
}

// longestGateSpan is the longest window a gate of sc looks back over.
func longestGateSpan(sc *scenarios.Scenario) time.Duration {
	var span time.Duration
	for _, d := range sc.Rollout.Deployments {
		for _, h := range d.Hooks {
			span = max(span, h.Window)
		}
	}
	return span
}

// httpAnswerer posts answers to the Lambda fake's answer endpoint.
type httpAnswerer struct{ endpoint string }

func (a httpAnswerer) answer(ctx context.Context, id string, ans contract.HookAnswer) error {
	body, err := json.Marshal(ans)
	if err != nil {
		return err
	}
	url := strings.TrimRight(a.endpoint, "/") + contract.HookPathPrefix + id
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("answering hook invocation %s: %w", id, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("answering hook invocation %s: %s", id, resp.Status)
	}
	return nil
}
