package capacity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	capreport "github.com/meshsim/meshsim/reports/capacity"
	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/scenarios/engine"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/poll"
)

// Options configure a sweep. Zero values take the defaults named.
type Options struct {
	// Endpoint is the fakes' endpoint; Runtime the runtime running the
	// tasks ("inproc" or "docker").
	Endpoint, Runtime string
	// Dir is the run directory (created by the caller): the sweep writes
	// capacity-sweep.json there after every point.
	Dir string
	// Service and Version are what is sized (Version "" for the first).
	Service, Version string
	// Objective is the latency objective and error budget (default p99
	// 200ms, 0.1%); TargetRate the rate to size for (0: none).
	Objective  capreport.Objective
	TargetRate float64
	// StepDuration is how long each rate is offered (default 3s; the first
	// fifth, at most a second, is warm-up).
	StepDuration time.Duration
	// StartRate is the first rate offered to one task (default 20 req/s).
	StartRate float64
	// MaxTasks bounds the task counts (default 8); MaxRate the rate
	// offered (default 20000 req/s); MaxDuration the whole sweep's wall
	// time, setup and teardown aside (default 10m).
	MaxTasks    int
	MaxRate     float64
	MaxDuration time.Duration
	// Limits are the instrument's (default as a rehearsal's: 500ms lag,
	// 90% of the offered rate sent, 100ms CPU wait; the lag and the wait
	// at most a quarter of the latency objective).
	Limits capreport.Limits
	// Progress, when set, receives one line per event of the sweep.
	Progress func(string)
	// SetupTimeout bounds standing the world up (default 90s).
	SetupTimeout time.Duration
}

// Defaults of Options.
const (
	DefaultStepDuration = 3 * time.Second
	DefaultStartRate    = 20
	DefaultMaxTasks     = 8
	DefaultMaxRate      = 20000
	DefaultMaxDuration  = 10 * time.Minute
)

// The ramp's shape.
const (
	// growth is the factor between two rates of a ramp until one breaks.
	growth = 1.5
	// resolution is how close the last good and the first broken rate
	// must be (relative) before a ramp stops refining.
	resolution = 0.1
	// maxPointsPerCount bounds one task count's ramp.
	maxPointsPerCount = 16
	// scaleTimeout bounds scaling to a task count and the data plane
	// reaching every task.
	scaleTimeout = 90 * time.Second
	// saturatedRetries is how many times a point where meshsim saturated
	// is measured again, after saturatedPause, before the sweep stops.
	saturatedRetries = 2
	saturatedPause   = 2 * time.Second
	// minGain is how much more capacity a doubled task count must bring
	// for the sweep to go on.
	minGain = 1.1
)

func (o *Options) defaults(sc *scenarios.Scenario) {
	if o.Objective.Quantile == 0 {
		o.Objective.Quantile = 0.99
	}
	if o.Objective.Latency == 0 {
		o.Objective.Latency = 200 * time.Millisecond
	}
	if o.StepDuration == 0 {
		o.StepDuration = DefaultStepDuration
	}
	if o.StartRate == 0 {
		o.StartRate = DefaultStartRate
	}
	if o.MaxTasks == 0 {
		o.MaxTasks = DefaultMaxTasks
	}
	if o.MaxRate == 0 {
		o.MaxRate = DefaultMaxRate
	}
	if o.MaxDuration == 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	// A sweep judges latency against the objective: a generator lag or a
	// CPU wait of a quarter of it would move the measured quantile by as
	// much, so neither may reach it.
	if o.Limits.MaxLag == 0 {
		o.Limits.MaxLag = min(orDur(sc.Instrument.MaxLag, scenarios.DefaultMaxLag), o.Objective.Latency/4)
	}
	if o.Limits.MinAchieved == 0 {
		o.Limits.MinAchieved = sc.Instrument.MinAchieved
		if o.Limits.MinAchieved == 0 {
			o.Limits.MinAchieved = scenarios.DefaultMinAchieved
		}
	}
	if o.Limits.MaxCPUWait == 0 {
		o.Limits.MaxCPUWait = min(orDur(sc.Instrument.MaxCPUWait, scenarios.DefaultMaxCPUWait), o.Objective.Latency/4)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

type sweep struct {
	opts    Options
	world   *engine.World
	rec     capreport.Sweep
	timeout time.Duration
	started time.Time
}

// Run sweeps opts.Service of sc and returns what it measured, also when it
// was cut short (the record is then Partial, and the error says why). The
// world is torn down before Run returns.
func Run(ctx context.Context, sc *scenarios.Scenario, opts Options) (*capreport.Sweep, error) {
	opts.defaults(sc)
	prepared, ver, err := Prepare(sc, opts.Service, opts.Version)
	if err != nil {
		return nil, err
	}
	s := &sweep{opts: opts, started: time.Now()}
	s.rec = capreport.Sweep{
		Scenario: sc.Name, Source: sc.Source, Service: opts.Service, Version: ver.Name,
		ECSService: "", Runtime: opts.Runtime, Started: s.started,
		Objective: opts.Objective, TargetRate: opts.TargetRate, StepDuration: opts.StepDuration, Limits: opts.Limits,
		Host: capreport.Host{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS, Arch: runtime.GOARCH},
		Cost: costText(ver),
	}
	// A request may take a few times the objective before it counts as
	// failed; the objective is judged on the latency anyway.
	s.timeout = min(max(4*opts.Objective.Latency, time.Second), 10*time.Second)
	if sc.Load.Timeout > s.timeout {
		s.timeout = sc.Load.Timeout
	}
	opts.Progress(fmt.Sprintf("standing up %s's world (service %s, version %s) through the AWS APIs", sc.Name, opts.Service, ver.Name))
	world, err := engine.StandUp(ctx, prepared, engine.Options{Endpoint: opts.Endpoint, Runtime: opts.Runtime, SetupTimeout: opts.SetupTimeout})
	if err != nil {
		return nil, err
	}
	s.world = world
	defer func() {
		opts.Progress("deleting the world through the AWS APIs")
		_ = world.Close()
	}()
	s.rec.ECSService = world.ECSService(opts.Service, ver.Name)
	s.deploymentConfig(ctx, sc)
	runErr := s.run(ctx)
	s.rec.Ended = time.Now()
	if runErr != nil {
		s.rec.Partial = true
		s.rec.Stopped = "cut short: " + runErr.Error()
	}
	if err := s.save(); err != nil && runErr == nil {
		runErr = err
	}
	return &s.rec, runErr
}

// deploymentConfig records the service's minimumHealthyPercent and
// maximumPercent: the scenario's deployment of it when it has one, else
// what ECS reports for the service.
func (s *sweep) deploymentConfig(ctx context.Context, sc *scenarios.Scenario) {
	if sc.Rollout.Service == s.opts.Service && len(sc.Rollout.Deployments) > 0 {
		d := sc.Rollout.Deployments[0]
		s.rec.MinimumHealthyPercent, s.rec.MaximumPercent = d.MinimumHealthyPercent, d.MaximumPercent
		return
	}
	if minH, maxP, err := s.world.DeploymentConfiguration(ctx, s.rec.ECSService); err == nil {
		s.rec.MinimumHealthyPercent, s.rec.MaximumPercent = minH, maxP
	}
}

// run measures task count after task count until a stopping condition.
func (s *sweep) run(ctx context.Context) error {
	prevCap, prevTasks := 0.0, 0
	for tasks := 1; ; tasks *= 2 {
		if tasks > s.opts.MaxTasks {
			s.rec.Stopped = fmt.Sprintf("reached --max-tasks %d", s.opts.MaxTasks)
			return nil
		}
		if tasks > 1 {
			if err := s.scale(ctx, tasks); err != nil {
				return err
			}
		}
		start := s.opts.StartRate
		if prevCap > 0 {
			start = 0.5 * prevCap * float64(tasks) / float64(prevTasks)
		}
		res, err := s.ramp(ctx, tasks, start)
		if err != nil {
			return err
		}
		switch {
		case res.saturated != "":
			s.rec.Stopped = fmt.Sprintf("meshsim saturated at %d task(s) three times in a row (%s): higher rates cannot be measured on this machine", tasks, res.saturated)
			return nil
		case res.stopped != "":
			s.rec.Stopped = res.stopped
			return nil
		case res.capacity == 0:
			s.rec.Stopped = fmt.Sprintf("at %d task(s) not even %.0f req/s met the objective", tasks, start)
			return nil
		case prevCap > 0 && res.capacity < minGain*prevCap:
			s.rec.Stopped = fmt.Sprintf("doubling to %d tasks added less than %.0f%% throughput within the objective (%.0f → %.0f req/s)", tasks, (minGain-1)*100, prevCap, res.capacity)
			return nil
		case s.opts.TargetRate > 0 && res.capacity >= s.opts.TargetRate && len(s.counts()) >= 3:
			s.rec.Stopped = fmt.Sprintf("%d tasks met the target %.0f req/s within the objective", tasks, s.opts.TargetRate)
			return nil
		}
		// Would the next count fit in the time left? Its ramp takes about
		// as many points as this one.
		if elapsed, next := time.Since(s.started), time.Duration(res.points+1)*(s.opts.StepDuration+s.timeout); elapsed+next > s.opts.MaxDuration {
			s.rec.Stopped = fmt.Sprintf("the next task count would not fit in --max-duration %s", s.opts.MaxDuration)
			return nil
		}
		prevCap, prevTasks = res.capacity, tasks
	}
}

func (s *sweep) counts() map[int]bool {
	c := map[int]bool{}
	for _, p := range s.rec.Points {
		c[p.Tasks] = true
	}
	return c
}

// rampResult is how one task count's ramp ended.
type rampResult struct {
	capacity  float64 // highest throughput of a point that met the objective
	points    int
	saturated string // why meshsim saturated, when it did
	stopped   string // a limit that ends the whole sweep
}

// ramp offers start, start×1.5, … to tasks tasks until a rate breaks the
// objective or is no longer served, then bisects between the last good and
// the first broken rate down to the resolution.
func (s *sweep) ramp(ctx context.Context, tasks int, start float64) (rampResult, error) {
	var res rampResult
	good, bad := 0.0, math.Inf(1)
	rate := start
	for res.points < maxPointsPerCount {
		if time.Since(s.started)+s.opts.StepDuration > s.opts.MaxDuration {
			res.stopped = fmt.Sprintf("reached --max-duration %s", s.opts.MaxDuration)
			return res, nil
		}
		p, err := s.point(ctx, tasks, rate, &res)
		if err != nil {
			return res, err
		}
		for retry := 0; p.Saturated != "" && retry < saturatedRetries; retry++ {
			// Again after a pause: a burst of other work on a shared
			// machine passes.
			if err := pause(ctx, saturatedPause); err != nil {
				return res, err
			}
			if p, err = s.point(ctx, tasks, rate, &res); err != nil {
				return res, err
			}
		}
		if p.Saturated != "" {
			res.saturated = p.Saturated
			return res, nil
		}
		if p.Broken == "" {
			good = max(good, rate)
			res.capacity = max(res.capacity, p.Throughput)
		} else {
			bad = min(bad, rate)
		}
		switch {
		case math.IsInf(bad, 1):
			rate *= growth
			if rate > s.opts.MaxRate {
				res.stopped = fmt.Sprintf("%d tasks served --max-rate %.0f req/s within the objective", tasks, s.opts.MaxRate)
				return res, nil
			}
		case good == 0:
			if bad <= s.opts.StartRate/8 {
				return res, nil // nothing meets the objective
			}
			rate = bad / 2
		case (bad-good)/good > resolution:
			rate = (good + bad) / 2
		default:
			return res, nil
		}
	}
	return res, nil
}

// pause waits d, or until ctx is done.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// point measures one rate and records it.
func (s *sweep) point(ctx context.Context, tasks int, rate float64, res *rampResult) (capreport.Point, error) {
	p, err := s.measure(ctx, tasks, rate)
	if err != nil {
		return p, err
	}
	res.points++
	s.rec.Points = append(s.rec.Points, p)
	s.report(p)
	return p, s.save()
}

// scale sets the service's desiredCount through ECS UpdateService, waits
// for the service to be stable and for the data plane to reach every task.
func (s *sweep) scale(ctx context.Context, tasks int) error {
	s.opts.Progress(fmt.Sprintf("scaling %s to %d tasks (ECS UpdateService desiredCount)", s.rec.ECSService, tasks))
	sctx, cancel := context.WithTimeout(ctx, scaleTimeout)
	defer cancel()
	_, err := s.world.ECS().UpdateService(sctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(s.world.Cluster()), Service: aws.String(s.rec.ECSService), DesiredCount: aws.Int32(int32(tasks)),
	})
	if err != nil {
		return fmt.Errorf("ecs UpdateService %s desiredCount %d: %w", s.rec.ECSService, tasks, err)
	}
	if err := s.world.WaitStable(sctx, scaleTimeout); err != nil {
		return err
	}
	return s.waitEndpoints(sctx, tasks)
}

// waitEndpoints sends requests through the ingress until responses come
// from tasks different tasks (by the endpoint the ingress forwarded to).
func (s *sweep) waitEndpoints(ctx context.Context, tasks int) error {
	cfg, err := s.world.HTTPLoad(1, 0)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	seen := map[string]bool{}
	err = poll.Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		for range 10 * tasks {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Target, nil)
			if err != nil {
				return false, err
			}
			req.Host = cfg.Host
			resp, err := client.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			id := resp.Header.Get(contract.HeaderUpstreamEndpoint)
			if id == "" {
				id = resp.Header.Get(contract.HeaderTask)
			}
			if resp.StatusCode < 400 && id != "" {
				seen[id] = true
			}
		}
		return len(seen) >= tasks, nil
	})
	if err != nil {
		return fmt.Errorf("the ingress reached %d of %d tasks of %s: %w", len(seen), tasks, s.rec.ECSService, err)
	}
	return nil
}

// report shows one point as a plain line.
func (s *sweep) report(p capreport.Point) {
	verdict := "ok"
	switch {
	case p.Saturated != "":
		verdict = "SATURATED (meshsim): " + p.Saturated
	case p.Broken != "":
		verdict = "broken: " + p.Broken
	}
	s.opts.Progress(fmt.Sprintf("%d task(s): offered %.0f req/s → %.0f req/s served, %s %s, errors %.2f%%, lag p99 %s, meshsim %.2f cores, load %.1f: %s",
		p.Tasks, p.Offered, p.Throughput, quantileName(s.opts.Objective.Quantile), p.Objective.Round(100*time.Microsecond),
		100*p.ErrorRate(), p.LagP99.Round(100*time.Microsecond), p.ProcessCores, p.Load1, verdict))
}

func quantileName(q float64) string {
	return strings.SplitN(capreport.Objective{Quantile: q}.String(), "=", 2)[0]
}

// save writes the record so far to the run directory.
func (s *sweep) save() error {
	if s.opts.Dir == "" {
		return nil
	}
	data, err := json.MarshalIndent(s.rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", capreport.SweepFile, err)
	}
	path := filepath.Join(s.opts.Dir, capreport.SweepFile)
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", capreport.SweepFile, err)
	}
	return os.Rename(path+".tmp", path)
}

// ReadSweep reads a sweep's record from its run directory.
func ReadSweep(dir string) (*capreport.Sweep, error) {
	data, err := os.ReadFile(filepath.Join(dir, capreport.SweepFile))
	if err != nil {
		return nil, err
	}
	var s capreport.Sweep
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", capreport.SweepFile, err)
	}
	if len(s.Points) == 0 && !s.Partial {
		return nil, errors.New(capreport.SweepFile + ": no point was measured")
	}
	return &s, nil
}

// costText describes the sample service's cost knobs ("" for the user's
// software).
func costText(v scenarios.Version) string {
	if v.UserSoftware() {
		return ""
	}
	var parts []string
	if v.Latency > 0 {
		d := v.LatencyDist
		if d == "" {
			d = "fixed"
		}
		parts = append(parts, fmt.Sprintf("latency %s (%s)", v.Latency, d))
	}
	if v.CPU > 0 {
		parts = append(parts, fmt.Sprintf("CPU %s", v.CPU))
	}
	if v.Concurrency > 0 {
		parts = append(parts, fmt.Sprintf("%d requests at once per task", v.Concurrency))
	}
	if len(parts) == 0 {
		return "none set (the sample answers at once, with no concurrency limit)"
	}
	return strings.Join(parts, ", ")
}
