package capacity

import (
	"context"
	"sync"
	"time"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/loadgen/metrics"
	"github.com/meshsim/meshsim/loadgen/rundir"
	capreport "github.com/meshsim/meshsim/reports/capacity"
	"github.com/meshsim/meshsim/sim/hostload"
)

// collector keeps a point's observations; RunHTTP calls Observe from one
// goroutine.
type collector struct{ obs []rundir.Observation }

func (c *collector) Observe(o rundir.Observation) error {
	c.obs = append(c.obs, o)
	return nil
}

// hostSampler reads the host once a second while a point runs, for the
// longest per-second CPU wait of meshsim's goroutines and the highest load
// average; the whole point's reading gives meshsim's CPU.
type hostSampler struct {
	first     hostload.Reading
	schedWait time.Duration
	load1     float64
	steal     float64
	stop      func()
}

func startHostSampler() *hostSampler {
	h := &hostSampler{first: hostload.Read()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		prev := h.first
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				cur := hostload.Read()
				h.add(hostload.Between(prev, cur))
				prev = cur
			}
		}
	})
	h.stop = func() { cancel(); wg.Wait() }
	return h
}

func (h *hostSampler) add(f hostload.Figures) {
	if f.SchedOK {
		h.schedWait = max(h.schedWait, f.SchedP99)
	}
	if f.LoadOK {
		h.load1 = max(h.load1, f.Load1)
	}
	if f.StealOK {
		h.steal = max(h.steal, f.StealShare)
	}
}

// finish stops the sampler and fills in the point's host figures.
func (h *hostSampler) finish(p *capreport.Point) {
	h.stop()
	f := hostload.Between(h.first, hostload.Read())
	h.add(f)
	p.ProcessCores, p.SchedWait, p.Load1, p.Steal = f.ProcessCores, h.schedWait, h.load1, h.steal
}

// summarize turns a point's observations into its figures: of the requests
// scheduled in the window [from, to) (after the warm-up), the latency from
// the schedule, the service time, the send lag and the failures; the
// throughput is the successful responses completed in the window, per
// second.
func summarize(p *capreport.Point, obs []rundir.Observation, from, to time.Time, q float64) {
	lat, svc, lag := metrics.NewHistogram(), metrics.NewHistogram(), metrics.NewHistogram()
	sent, done := 0, 0
	for i := range obs {
		o := &obs[i]
		if o.ErrorKind == metrics.CanceledKind {
			continue
		}
		if o.OK() {
			if c := metrics.Completed(o); !c.Before(from) && c.Before(to) {
				done++
			}
		}
		if !o.Sent.IsZero() && !o.Sent.Before(from) && o.Sent.Before(to) {
			sent++
		}
		if o.Scheduled.Before(from) || !o.Scheduled.Before(to) {
			continue
		}
		p.Requests++
		if !o.OK() {
			p.Failed++
		}
		lat.Record(o.Latency)
		svc.Record(o.ServiceTime)
		lag.Record(o.Sent.Sub(o.Scheduled))
	}
	window := to.Sub(from).Seconds()
	p.Sent, p.Throughput = float64(sent)/window, float64(done)/window
	p.Latency, p.ServiceTime = quantiles(lat), quantiles(svc)
	p.Objective = lat.At(q)
	l := lag.Quantiles()
	p.LagP99, p.LagMax = l.P99, l.Max
	p.Concurrency = p.Throughput * p.Latency.Mean.Seconds()
}

func quantiles(h *metrics.Histogram) capreport.Quantiles {
	q := h.Quantiles()
	return capreport.Quantiles{Mean: h.Mean(), P50: q.P50, P90: q.P90, P99: q.P99, Max: q.Max}
}

// measure offers rate to tasks tasks for d and returns the point, judged.
func (s *sweep) measure(ctx context.Context, tasks int, rate float64) (capreport.Point, error) {
	d := s.opts.StepDuration
	cfg, err := s.world.HTTPLoad(rate, d)
	if err != nil {
		return capreport.Point{}, err
	}
	cfg.Timeout = s.timeout
	var meter loadgen.Meter
	cfg.Meter = &meter
	// Room for every request in flight until it times out, twice over: a
	// service that queues must not make the generator fall behind.
	cfg.MaxWorkers = uint64(2*rate*s.timeout.Seconds()) + 16
	col := &collector{}
	host := startHostSampler()
	began := time.Now()
	_, err = loadgen.RunHTTP(ctx, cfg, nil, col)
	p := capreport.Point{Tasks: tasks, Offered: rate, Duration: d}
	host.finish(&p)
	if err != nil {
		return p, err
	}
	warm := min(d/5, time.Second)
	summarize(&p, col.obs, began.Add(warm), began.Add(d), s.opts.Objective.Quantile)
	if mr := meter.Read(time.Now()); mr.MaxLag > p.LagMax {
		p.LagMax = mr.MaxLag
	}
	capreport.Judge(&p, s.opts.Objective, s.opts.Limits)
	return p, ctx.Err()
}
