package engine

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meshsim/meshsim/loadgen"
	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/hostload"
	"github.com/meshsim/meshsim/sim/sidecar/admin"
)

// Sampling of the run's measurements of itself.
const (
	// instrumentInterval is how often the run samples itself.
	instrumentInterval = time.Second
	// sidecarListInterval is how often the tasks whose sidecars are read
	// are listed again through the ECS API.
	sidecarListInterval = 5 * time.Second
	// sidecarReadTimeout bounds one read of a sidecar's stats, so that a
	// paused task cannot hold a sample up.
	sidecarReadTimeout = 2 * time.Second
	// sidecarListTimeout bounds listing the tasks; on timeout the last
	// list is read again.
	sidecarListTimeout = 2 * time.Second
)

// meters follow the run's load generators (see loadgen.Meter).
type meters struct {
	http, unary, chat loadgen.Meter
}

// instrument samples, every second while the load runs, meshsim's own CPU
// use and the host's load, each load generator's sends against its
// schedule and each sidecar's queue, into instrument.jsonl.
type instrument struct {
	r     *runner
	aws   awsclient.Clients // without call recording: sampling is not the rehearsal
	admin *http.Client
	host  hostload.Reader

	// The host and generator sampler owns lastHost and lastGen; the
	// sidecar sampler owns the fields after them.
	lastHost hostload.Reading
	lastGen  map[string]time.Time
	lastCar  map[string]time.Time // by task id

	tasks     []sidecarTask
	listedAt  time.Time
	noSidecar map[string]bool // tasks whose sidecar has no meshsim stats
}

// sidecarTask is a running task whose sidecar is read.
type sidecarTask struct{ id, service, ip string }

// startInstrument starts sampling; the returned function takes a last
// sample and stops.
func (r *runner) startInstrument() (stop func()) {
	in := &instrument{
		r:   r,
		aws: awsclient.New(r.opts.Endpoint, r.sc.Region),
		// Straight to the task's address, one connection per read, so that
		// none is left open to a task that goes away.
		admin:     &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: sidecarReadTimeout},
		lastGen:   map[string]time.Time{},
		lastCar:   map[string]time.Time{},
		noSidecar: map[string]bool{},
	}
	in.lastHost = in.host.Read()
	started := in.lastHost.Time
	for _, g := range []string{rundir.GeneratorHTTP, rundir.GeneratorGRPCUnary, rundir.GeneratorChat} {
		in.lastGen[g] = started
	}
	// List the tasks now, before the load starts: a run that starves
	// later may not get an answer from the fakes in time.
	in.refreshTasks(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// The host and the generators are sampled on their own, so that slow
	// sidecar reads (a starved task answers late) never delay them.
	wg.Go(func() { every(ctx, instrumentInterval, func(context.Context) { in.sample() }) })
	wg.Go(func() { every(ctx, instrumentInterval, in.sampleSidecars) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// every calls f at each tick of interval until ctx is done, then once more
// with a context that is not (the last sample of a run that stops).
func every(ctx context.Context, interval time.Duration, f func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f(context.WithoutCancel(ctx))
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// sample writes a sample of the host and of every load generator.
func (in *instrument) sample() {
	step := in.r.timeline.current()
	rd := in.host.Read()
	in.writeHost(in.lastHost, rd, step)
	in.lastHost = rd

	m := &in.r.meters
	for _, g := range []struct {
		name  string
		meter *loadgen.Meter
	}{{rundir.GeneratorHTTP, &m.http}, {rundir.GeneratorGRPCUnary, &m.unary}, {rundir.GeneratorChat, &m.chat}} {
		now := time.Now()
		mr := g.meter.Read(now)
		if mr.Sent == 0 && !mr.Scheduled {
			continue // a generator this run does not use
		}
		s := rundir.InstrumentSample{
			Kind: rundir.SampleLoadgen, Time: now, Interval: now.Sub(in.lastGen[g.name]), Step: step,
			Generator: g.name, Due: mr.Due, Sent: mr.Sent, Lag: mr.Lag, MaxLag: mr.MaxLag,
		}
		_ = in.r.out.Instrument(s)
		in.r.live.sample(s)
		in.lastGen[g.name] = now
	}
}

// writeHost writes the host's figures from reading prev to rd.
func (in *instrument) writeHost(prev, rd hostload.Reading, step int) {
	f := hostload.Between(prev, rd)
	s := rundir.InstrumentSample{Kind: rundir.SampleHost, Time: rd.Time, Interval: f.Interval, Step: step, CPUs: f.CPUs}
	last := rd
	switch {
	case f.ProcessOK:
		s.ProcessCPU = &f.ProcessCPU
	case last.ProcessCPUErr != nil:
		s.Unreadable = append(s.Unreadable, last.ProcessCPUErr.Error())
	}
	switch {
	case f.LoadOK:
		s.Load1 = &f.Load1
	case last.LoadErr != nil:
		s.Unreadable = append(s.Unreadable, last.LoadErr.Error())
	}
	switch {
	case f.SchedOK:
		s.SchedP99 = &f.SchedP99
	case last.SchedErr != nil:
		s.Unreadable = append(s.Unreadable, last.SchedErr.Error())
	}
	switch {
	case f.StealOK:
		s.StealShare = &f.StealShare
	case last.StealErr != nil:
		s.Unreadable = append(s.Unreadable, last.StealErr.Error())
	}
	_ = in.r.out.Instrument(s)
	in.r.live.sample(s)
}

// sampleSidecars reads the stats of every running task's sidecar, at once.
func (in *instrument) sampleSidecars(ctx context.Context) {
	step := in.r.timeline.current()
	if time.Since(in.listedAt) >= sidecarListInterval {
		in.refreshTasks(ctx)
	}
	samples := make([]rundir.InstrumentSample, len(in.tasks))
	noStats := make([]bool, len(in.tasks))
	var wg sync.WaitGroup
	for i, t := range in.tasks {
		if in.noSidecar[t.id] {
			continue
		}
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, sidecarReadTimeout)
			defer cancel()
			st, err := admin.ReadStats(rctx, in.admin, net.JoinHostPort(t.ip, strconv.Itoa(contract.AdminPort)))
			s := rundir.InstrumentSample{Kind: rundir.SampleSidecar, Time: time.Now(), Step: step, Task: t.id, Node: t.service}
			if err != nil {
				s.Error = err.Error()
				noStats[i] = errors.Is(err, admin.ErrNoStats)
			} else {
				s.InFlight, s.Waiting, s.PeakInFlight, s.PeakWaiting, s.Requests = st.InFlight, st.Waiting, st.PeakInFlight, st.PeakWaiting, st.Requests
			}
			samples[i] = s
		})
	}
	wg.Wait()
	for i, s := range samples {
		if s.Kind == "" {
			continue
		}
		if noStats[i] {
			in.noSidecar[s.Task] = true // Envoy: say so once
		}
		if last, ok := in.lastCar[s.Task]; ok {
			s.Interval = s.Time.Sub(last)
		}
		in.lastCar[s.Task] = s.Time
		_ = in.r.out.Instrument(s)
	}
}

// refreshTasks lists the tasks whose sidecars are read again; when the
// listing fails (the fakes are slow to answer a starved run), the last
// list stays.
func (in *instrument) refreshTasks(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, sidecarListTimeout)
	defer cancel()
	if tasks, err := in.listTasks(ctx); err == nil {
		in.tasks, in.listedAt = tasks, time.Now()
	}
}

// listTasks lists the cluster's running tasks that have an address.
func (in *instrument) listTasks(ctx context.Context) ([]sidecarTask, error) {
	cluster := aws.String(in.r.sc.Cluster)
	var arns []string
	p := ecs.NewListTasksPaginator(in.aws.ECS, &ecs.ListTasksInput{Cluster: cluster, DesiredStatus: ecstypes.DesiredStatusRunning})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		arns = append(arns, page.TaskArns...)
	}
	var tasks []sidecarTask
	for len(arns) > 0 {
		batch := arns[:min(len(arns), 100)] // DescribeTasks takes up to 100
		arns = arns[len(batch):]
		out, err := in.aws.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: cluster, Tasks: batch})
		if err != nil {
			return nil, err
		}
		for _, t := range out.Tasks {
			ip := privateIPv4(t)
			if ip == "" || aws.ToString(t.LastStatus) != "RUNNING" {
				continue
			}
			arn := aws.ToString(t.TaskArn)
			tasks = append(tasks, sidecarTask{
				id:      arn[strings.LastIndex(arn, "/")+1:],
				service: strings.TrimPrefix(aws.ToString(t.Group), "service:"),
				ip:      ip,
			})
		}
	}
	return tasks, nil
}
