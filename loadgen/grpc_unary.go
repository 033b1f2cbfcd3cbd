package loadgen

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
)

// GRPCUnaryConfig describes a constant-rate load of unary Echo calls.
type GRPCUnaryConfig struct {
	Target GRPCTarget
	// Name is the name sent in each EchoRequest; empty means "meshsim".
	Name string
	// Rate is the offered load in calls per second.
	Rate float64
	// Duration is how long to send; zero sends until ctx is done.
	Duration time.Duration
	// Timeout is each call's deadline; zero means DefaultTimeout.
	Timeout time.Duration
	// Connections is the number of client connections the calls are spread
	// over, round robin; zero means 1. gRPC multiplexes every call of a
	// connection over one HTTP/2 connection, which a proxy balances as one:
	// more connections spread the load over more of them.
	Connections int
	// MaxInFlight caps the calls in flight at once, as HTTPConfig.MaxWorkers
	// caps requests, with the same default (Rate × Timeout, at least 16, at
	// most 10000) and the same trade-off: once the cap is reached calls go
	// out late, and their wait counts in their latency.
	MaxInFlight uint64
	// Meter, when set, follows the calls against the schedule while the
	// load runs (see Meter).
	Meter *Meter
	// Call, when set, is the method called (the user's traffic) instead
	// of Echo; Name is then unused.
	Call *GRPCCall
}

func (c GRPCUnaryConfig) normalize() (GRPCUnaryConfig, error) {
	if err := c.Target.validate(); err != nil {
		return c, err
	}
	if c.Name == "" {
		c.Name = "meshsim"
	}
	if !(c.Rate >= 1.0/3600 && c.Rate <= 1e6) {
		return c, fmt.Errorf("loadgen: rate %v: want between one call per hour and 1e6 calls per second", c.Rate)
	}
	switch {
	case c.Duration < 0:
		return c, fmt.Errorf("loadgen: duration %v is negative", c.Duration)
	case c.Timeout < 0:
		return c, fmt.Errorf("loadgen: timeout %v is negative", c.Timeout)
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.Connections < 0 || c.Connections > maxConnections:
		return c, fmt.Errorf("loadgen: %d connections: want 1 to %d", c.Connections, maxConnections)
	case c.Connections == 0:
		c.Connections = 1
	}
	if c.MaxInFlight == 0 {
		n := math.Ceil(c.Rate * c.Timeout.Seconds())
		c.MaxInFlight = uint64(min(max(n, minWorkers), maxDefaultWorkers))
	}
	return c, nil
}

// maxConnections bounds GRPCUnaryConfig.Connections and
// StreamConfig.Connections.
const maxConnections = 1024

// RunGRPCUnary calls Echo on cfg.Target at cfg.Rate until cfg.Duration has
// passed or ctx is done, and gives every result to sink as it arrives, as
// a rundir.Observation of kind "grpc-unary". Calls are paced by vegeta's
// ConstantPacer (through the vegeta.Pacer interface) and their latency is
// measured from the time the pacer scheduled them. step is as for RunHTTP.
//
// When ctx is done RunGRPCUnary stops sending, lets calls in flight finish
// for up to a second, cancels the rest (recorded with ErrorKind
// "canceled"), and returns once every result has gone to sink. It returns
// an error for an invalid cfg, or when sink fails (the load then stops).
func RunGRPCUnary(ctx context.Context, cfg GRPCUnaryConfig, step func() int, sink Sink) (Summary, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return Summary{}, err
	}
	if sink == nil {
		return Summary{}, fmt.Errorf("loadgen: no sink for the observations")
	}
	conns, err := cfg.Target.dialAll(cfg.Connections)
	if err != nil {
		return Summary{}, err
	}
	defer closeAll(conns)
	clients := make([]echopb.EchoClient, len(conns))
	for i, cc := range conns {
		clients[i] = echopb.NewEchoClient(cc)
	}

	sched := newSchedule(cfg.Rate, step, cfg.Meter)
	// abortCtx is the parent of every call's context: cancelling it
	// abandons the calls in flight.
	abortCtx, abort := context.WithCancel(context.Background())
	defer abort()
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()

	results := make(chan rundir.Observation, 256)
	var inFlight sync.WaitGroup
	go func() {
		defer close(results)
		defer inFlight.Wait()
		sched.start(time.Now())
		pace(sendCtx, sched, cfg.Duration, cfg.MaxInFlight, &inFlight, func(seq uint64) {
			i := seq % uint64(len(clients))
			results <- callEcho(abortCtx, clients[i], conns[i], cfg, sched, seq)
		})
	}()
	// Once ctx is done, give the calls in flight stopGrace, then abandon
	// them.
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-t.C:
			abort()
		case <-abortCtx.Done():
		}
	})
	defer stop()

	sum := summer{errors: map[string]int{}}
	var sinkErr error
	for o := range results {
		sum.add(o)
		if sinkErr != nil {
			continue
		}
		if err := sink.Observe(o); err != nil {
			sinkErr = fmt.Errorf("loadgen: recording observation %d: %w", o.Seq, err)
			stopSending()
		}
	}
	abort() // releases the AfterFunc if it is waiting
	return sum.summary(), sinkErr
}

// pace runs fire(seq), each in its own goroutine counted in inFlight, as
// often as sched's pacer says, from seq 0, until duration (if not zero) has
// passed since sched.began or ctx is done. At most maxInFlight run at once:
// when that many are running, the next waits for one to finish.
func pace(ctx context.Context, sched *schedule, duration time.Duration, maxInFlight uint64, inFlight *sync.WaitGroup, fire func(seq uint64)) {
	slots := make(chan struct{}, maxInFlight)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for seq := uint64(0); ; seq++ {
		elapsed := time.Since(sched.began)
		if duration > 0 && elapsed >= duration {
			return
		}
		wait, stop := sched.Pace(elapsed, seq)
		if stop {
			return
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		inFlight.Add(1)
		go func() {
			defer inFlight.Done()
			defer func() { <-slots }()
			fire(seq)
		}()
	}
}

// callEcho makes call seq (from 0) and returns its observation.
func callEcho(abortCtx context.Context, client echopb.EchoClient, conn grpc.ClientConnInterface, cfg GRPCUnaryConfig, sched *schedule, seq uint64) rundir.Observation {
	scheduled, step := sched.at(seq)
	ctx, cancel := context.WithTimeout(abortCtx, cfg.Timeout)
	defer cancel()
	var header, trailer metadata.MD
	sent := time.Now()
	var resp *echopb.EchoResponse
	var err error
	if cfg.Call != nil {
		_, err = cfg.Call.invoke(ctx, conn, grpc.Header(&header), grpc.Trailer(&trailer))
	} else {
		resp, err = client.Echo(ctx, &echopb.EchoRequest{Name: cfg.Name}, grpc.Header(&header), grpc.Trailer(&trailer))
	}
	end := time.Now()
	o := rundir.Observation{
		Kind:        rundir.KindGRPCUnary,
		Seq:         seq + 1,
		Scheduled:   scheduled,
		Sent:        sent,
		Latency:     max(end.Sub(scheduled), end.Sub(sent)),
		ServiceTime: end.Sub(sent),
		Step:        step,
		GRPCCode:    codeName(err),
		Version:     mdGet(header, contract.HeaderVersion),
		Task:        mdGet(header, contract.HeaderTask),
		Chain:       mdGet(header, contract.HeaderChain),
		Cluster:     mdGet(header, contract.HeaderUpstreamCluster),
		Endpoint:    mdGet(header, contract.HeaderUpstreamEndpoint),
	}
	if err != nil {
		o.Error = errorMessage(err)
		o.ErrorKind = classifyGRPC(err, header, trailer, abortCtx.Err() != nil)
		return o
	}
	if o.Version == "" {
		o.Version, o.Task = resp.GetVersion(), resp.GetTask()
	}
	return o
}
