package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp/echopb"
)

// Defaults of StreamConfig.
const (
	DefaultStreamInterval = 100 * time.Millisecond
	DefaultBackoffBase    = 50 * time.Millisecond
	DefaultBackoffMax     = time.Second
	// maxStreams bounds the streams of one StreamConfig.
	maxStreams = 100_000
	// backoffJitter is the ± share by which each backoff varies, so that
	// streams broken together do not all retry in step.
	backoffJitter = 0.2
)

// The methods of a stream, as recorded in rundir.StreamEvent.Method.
const (
	MethodSubscribe = "subscribe"
	MethodChat      = "chat"
)

// StreamConfig describes long-lived gRPC streams held open for a run.
type StreamConfig struct {
	Target GRPCTarget
	// Subscribe and Chat are the numbers of server-streaming (Subscribe)
	// and bidirectional (Chat) streams to hold.
	Subscribe, Chat int
	// Interval is the time between two messages of one stream: the feed
	// interval a Subscribe stream asks for, the time between two messages a
	// Chat stream sends. Zero means DefaultStreamInterval.
	Interval time.Duration
	// Connections is the number of client connections the streams are
	// spread over, round robin; zero means 1.
	Connections int
	// BackoffBase is how long a broken stream waits before it calls again,
	// and BackoffMax the longest wait: each call that fails to deliver
	// doubles the wait. Each wait varies by ±20%. Zero means
	// DefaultBackoffBase and DefaultBackoffMax.
	BackoffBase, BackoffMax time.Duration
	// Duration is how long to hold the streams; zero holds them until ctx
	// is done.
	Duration time.Duration
	// Meter, when set, follows the messages Chat streams send, each due an
	// Interval after the previous one (see Meter).
	Meter *Meter
}

func (c StreamConfig) normalize() (StreamConfig, error) {
	if err := c.Target.validate(); err != nil {
		return c, err
	}
	n := c.Subscribe + c.Chat
	switch {
	case c.Subscribe < 0 || c.Chat < 0 || n == 0 || n > maxStreams:
		return c, fmt.Errorf("loadgen: %d subscribe and %d chat streams: want 1 to %d in all", c.Subscribe, c.Chat, maxStreams)
	case c.Interval < 0 || c.BackoffBase < 0 || c.BackoffMax < 0 || c.Duration < 0:
		return c, fmt.Errorf("loadgen: stream durations must not be negative")
	case c.Interval > 0 && c.Interval < time.Millisecond:
		return c, fmt.Errorf("loadgen: stream interval %v is below 1ms", c.Interval)
	case c.Connections < 0 || c.Connections > maxConnections:
		return c, fmt.Errorf("loadgen: %d connections: want 1 to %d", c.Connections, maxConnections)
	}
	if c.Interval == 0 {
		c.Interval = DefaultStreamInterval
	}
	if c.Connections == 0 {
		c.Connections = 1
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = max(DefaultBackoffMax, c.BackoffBase)
	}
	if c.BackoffMax < c.BackoffBase {
		return c, fmt.Errorf("loadgen: stream backoff max %v is below its base %v", c.BackoffMax, c.BackoffBase)
	}
	return c, nil
}

// StreamSummary sums up the streams of a run.
type StreamSummary struct {
	// Streams counts the streams held; Opened those that delivered at
	// least one message.
	Streams, Opened int
	// Breaks counts streams ended by an error after they delivered;
	// Resumes the breaks after which the stream delivered again;
	// Unresumed the streams that were broken when the run ended.
	Breaks, Resumes, Unresumed int
	// BreaksByKind counts the breaks by error kind.
	BreaksByKind map[string]int
	// Received counts the messages received; Lost those skipped over and
	// never received, Duplicated and OutOfOrder as in rundir.StreamEvent.
	Received, Lost, Duplicated, OutOfOrder uint64
	// MaxReconnect is the longest time from a break to the first message
	// of the resumed stream.
	MaxReconnect time.Duration
}

// RunStreams holds cfg.Subscribe server-streaming and cfg.Chat
// bidirectional streams on cfg.Target until cfg.Duration has passed or
// ctx is done, checking the sequence numbers of each, and records every
// stream event in sink as a rundir.Observation: stream-open when a stream
// first delivers, stream-break when a delivering call ends with an error
// (classified in ErrorKind), stream-resume when a broken stream delivers
// again on a new call, stream-message-gap when its sequence numbers show
// messages lost, duplicated or out of order, and stream-end with its
// totals when the run ends.
//
// A broken stream calls again after a backoff, and resumes where it left
// off: a Subscribe stream asks the feed for the sequence number after the
// last one it received (any task can serve it: the feed's origin and
// interval are in the request), a Chat stream sends again the messages not
// echoed yet. step is called for each event and its value recorded as the
// event's Step; sink is called from one goroutine at a time.
//
// RunStreams returns once every stream has ended. It returns an error for
// an invalid cfg, or when sink fails (the streams then end).
func RunStreams(ctx context.Context, cfg StreamConfig, step func() int, sink Sink) (StreamSummary, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return StreamSummary{}, err
	}
	if sink == nil {
		return StreamSummary{}, fmt.Errorf("loadgen: no sink for the observations")
	}
	conns, err := cfg.Target.dialAll(cfg.Connections)
	if err != nil {
		return StreamSummary{}, err
	}
	defer closeAll(conns)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Duration > 0 {
		var stop context.CancelFunc
		runCtx, stop = context.WithTimeout(runCtx, cfg.Duration)
		defer stop()
	}
	r := &streamRunner{
		cfg:    cfg,
		step:   step,
		sink:   sink,
		cancel: cancel,
		sum:    StreamSummary{BreaksByKind: map[string]int{}},
	}
	n := cfg.Subscribe + cfg.Chat
	r.sum.Streams = n
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		st := &streamState{seq: newSequence(), method: MethodSubscribe}
		if i >= cfg.Subscribe {
			st.method = MethodChat
		}
		st.id = fmt.Sprintf("%s-%05d", st.method, i+1)
		// Spread the feeds' schedules over one interval, so that the
		// streams do not all send at the same instant.
		st.origin = start.Add(cfg.Interval * time.Duration(i) / time.Duration(n))
		client := echopb.NewEchoClient(conns[i%len(conns)])
		wg.Go(func() { r.hold(runCtx, client, st) })
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sum, r.sinkErr
}

// streamState is one stream. Only the goroutine that holds the stream uses
// it.
type streamState struct {
	id, method string
	origin     time.Time // of the feed (Subscribe)
	seq        *sequence
	call       int
	// opened: the stream has delivered; connected: its current call has
	// delivered and not ended.
	opened, connected bool
	// version and task served the current (or last) delivering call.
	version, task string
	// brokeAt, fromVersion and fromTask describe the last break; retries
	// counts the calls that failed since.
	brokeAt               time.Time
	fromVersion, fromTask string
	retries               int
	// resumeSeq is what the current call asked to start from.
	resumeSeq uint64
	// sent is the highest sequence number sent (Chat).
	sent uint64
	// Totals for stream-end.
	received, lost, duplicated, outOfOrder uint64
	breaks, resumes                        int
	// lastErr is the last call's failure, kept for stream-end.
	lastErr *rundir.Observation
}

// callResult is how one call of a stream ended.
type callResult struct {
	err             error
	header, trailer metadata.MD
	// received counts the call's messages; deliveredOnCall says whether
	// there was one.
	received        uint64
	deliveredOnCall bool
	// inFlight (Chat) counts the messages sent and not echoed.
	inFlight uint64
}

type streamRunner struct {
	cfg  StreamConfig
	step func() int

	mu      sync.Mutex // guards what follows
	sink    Sink
	seqNo   uint64
	sinkErr error
	cancel  context.CancelFunc
	sum     StreamSummary
}

// hold keeps st open until ctx is done.
func (r *streamRunner) hold(ctx context.Context, client echopb.EchoClient, st *streamState) {
	var backoff time.Duration
	for {
		st.call++
		st.resumeSeq = st.seq.next
		var res callResult
		if st.method == MethodChat {
			res = r.chatCall(ctx, client, st)
		} else {
			res = r.subscribeCall(ctx, client, st)
		}
		if ctx.Err() != nil {
			break // the run is over: not a break
		}
		if res.deliveredOnCall {
			r.broke(st, res)
			backoff = r.cfg.BackoffBase
		} else {
			st.retries++
			o := r.failure(st, res)
			st.lastErr = &o
			backoff = min(max(2*backoff, r.cfg.BackoffBase), r.cfg.BackoffMax)
		}
		if !sleep(ctx, jitter(backoff)) {
			break
		}
	}
	r.end(st)
}

// subscribeCall makes one Subscribe call of st and reads it until it ends.
func (r *streamRunner) subscribeCall(ctx context.Context, client echopb.EchoClient, st *streamState) callResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Subscribe(ctx, &echopb.SubscribeRequest{
		Feed:     st.id,
		Origin:   timestamppb.New(st.origin),
		Interval: durationpb.New(r.cfg.Interval),
		FromSeq:  st.seq.next,
	})
	if err != nil {
		return callResult{err: err}
	}
	var res callResult
	res.header, _ = stream.Header() // nil when the call failed first
	for {
		m, err := stream.Recv()
		if err != nil {
			res.err, res.trailer = err, stream.Trailer()
			return res
		}
		r.message(st, &res, m.GetSeq(), m.GetVersion(), m.GetTask())
	}
}

// chatCall makes one Chat call of st: it sends again what the last call
// did not get echoed, then a new message every interval, and reads the
// echoes until the call ends.
func (r *streamRunner) chatCall(ctx context.Context, client echopb.EchoClient, st *streamState) callResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Chat(ctx)
	if err != nil {
		return callResult{err: err}
	}
	sent := st.sent
	var wg sync.WaitGroup
	wg.Go(func() {
		send := func(seq uint64) bool {
			return stream.Send(&echopb.ChatMessage{Seq: seq, Sent: timestamppb.Now()}) == nil
		}
		for seq := st.resumeSeq; seq <= sent; seq++ {
			if !send(seq) {
				return
			}
		}
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		var tick time.Time // when the message being sent fell due; zero for the first
		for {
			sent++
			if !send(sent) {
				return
			}
			if m := r.cfg.Meter; m != nil {
				var lag time.Duration
				if !tick.IsZero() {
					lag = time.Since(tick)
				}
				m.sentLate(lag)
			}
			select {
			case <-ctx.Done():
				return
			case tick = <-t.C:
			}
		}
	})
	var res callResult
	res.header, _ = stream.Header()
	for {
		m, err := stream.Recv()
		if err != nil {
			res.trailer = stream.Trailer()
			cancel()
			wg.Wait()
			st.sent = sent
			res.err = err
			res.inFlight = sent - min(st.seq.last(), sent)
			return res
		}
		r.message(st, &res, m.GetSeq(), m.GetVersion(), m.GetTask())
	}
}

// message handles one message of st's current call.
func (r *streamRunner) message(st *streamState, res *callResult, seq uint64, version, task string) {
	now := time.Now()
	res.received++
	st.received++
	if !res.deliveredOnCall {
		res.deliveredOnCall = true
		st.connected = true
		st.version, st.task = mdGet(res.header, contract.HeaderVersion), mdGet(res.header, contract.HeaderTask)
		if st.version == "" {
			st.version, st.task = version, task
		}
		o := r.observation(st, rundir.KindStreamOpen, now)
		o.Chain = mdGet(res.header, contract.HeaderChain)
		o.Stream.Retries = st.retries
		if st.opened {
			o.Kind = rundir.KindStreamResume
			o.Stream.Reconnect = now.Sub(st.brokeAt)
			o.Stream.FromVersion, o.Stream.FromTask = st.fromVersion, st.fromTask
			o.Stream.ResumeSeq = st.resumeSeq
			st.resumes++
		}
		st.opened = true
		st.retries = 0
		r.record(o, func(s *StreamSummary) {
			if o.Kind == rundir.KindStreamOpen {
				s.Opened++
			} else {
				s.Resumes++
				s.MaxReconnect = max(s.MaxReconnect, o.Stream.Reconnect)
			}
		})
	}

	lastBefore := st.seq.last()
	got := st.seq.observe(seq)
	if got == (seqResult{}) {
		return
	}
	o := r.observation(st, rundir.KindStreamGap, now)
	o.Stream.LastSeq = lastBefore
	if res.received == 1 && st.resumes > 0 {
		// The first message of a resumed call: what it skipped was lost
		// with the call that broke.
		o.Stream.FromVersion, o.Stream.FromTask = st.fromVersion, st.fromTask
	}
	switch {
	case got.lost > 0:
		st.lost += got.lost
		o.Stream.Lost, o.Stream.GapFrom, o.Stream.GapTo = got.lost, got.gapFrom, got.gapTo
	case got.duplicate:
		st.duplicated++
		o.Stream.Duplicated = 1
	case got.outOfOrder:
		st.outOfOrder++
		o.Stream.OutOfOrder = 1
		if got.filled {
			st.lost--
		}
	}
	r.record(o, func(s *StreamSummary) {
		s.Lost += o.Stream.Lost
		s.Duplicated += o.Stream.Duplicated
		s.OutOfOrder += o.Stream.OutOfOrder
		if got.filled {
			s.Lost--
		}
	})
}

// broke records that st's delivering call ended with res.
func (r *streamRunner) broke(st *streamState, res callResult) {
	now := time.Now()
	o := r.failure(st, res)
	o.Kind = rundir.KindStreamBreak
	o.Stream.Received = res.received
	o.Stream.InFlight = res.inFlight
	st.connected = false
	st.brokeAt = now
	st.fromVersion, st.fromTask = st.version, st.task
	st.breaks++
	r.record(o, func(s *StreamSummary) {
		s.Breaks++
		s.BreaksByKind[o.ErrorKind]++
	})
}

// failure is the observation of a call of st that ended with res: a break
// once the caller sets its kind, or the last failure kept for stream-end.
func (r *streamRunner) failure(st *streamState, res callResult) rundir.Observation {
	o := r.observation(st, rundir.KindStreamBreak, time.Now())
	if !res.deliveredOnCall {
		// st names the last call that delivered, not this one.
		o.Version, o.Task = mdGet(res.header, contract.HeaderVersion), mdGet(res.header, contract.HeaderTask)
	}
	o.GRPCCode = codeName(res.err)
	o.Error = errorMessage(res.err)
	o.ErrorKind = classifyGRPC(res.err, res.header, res.trailer, false)
	return o
}

// end records st's totals when the run is over.
func (r *streamRunner) end(st *streamState) {
	o := r.observation(st, rundir.KindStreamEnd, time.Now())
	o.Stream.Received = st.received
	o.Stream.Lost, o.Stream.Duplicated, o.Stream.OutOfOrder = st.lost, st.duplicated, st.outOfOrder
	o.Stream.Breaks, o.Stream.Resumes = st.breaks, st.resumes
	o.Stream.Connected = st.connected
	o.Stream.Retries = st.retries
	if !st.connected && st.lastErr != nil {
		o.GRPCCode, o.Error, o.ErrorKind = st.lastErr.GRPCCode, st.lastErr.Error, st.lastErr.ErrorKind
	}
	r.record(o, func(s *StreamSummary) {
		s.Received += st.received
		if st.opened && !st.connected {
			s.Unresumed++
		}
	})
}

// observation starts a stream event of st at t.
func (r *streamRunner) observation(st *streamState, kind string, t time.Time) rundir.Observation {
	step := 0
	if r.step != nil {
		step = r.step()
	}
	return rundir.Observation{
		Kind:      kind,
		Scheduled: t,
		Sent:      t,
		Step:      step,
		Version:   st.version,
		Task:      st.task,
		Stream: &rundir.StreamEvent{
			ID:      st.id,
			Method:  st.method,
			Call:    st.call,
			LastSeq: st.seq.last(),
		},
	}
}

// record gives o to the sink and updates the summary with count, under
// one lock. When the sink fails, every stream ends.
func (r *streamRunner) record(o rundir.Observation, count func(*StreamSummary)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if count != nil {
		count(&r.sum)
	}
	if r.sinkErr != nil {
		return
	}
	r.seqNo++
	o.Seq = r.seqNo
	if err := r.sink.Observe(o); err != nil {
		r.sinkErr = fmt.Errorf("loadgen: recording stream observation %d: %w", o.Seq, err)
		r.cancel()
	}
}

// jitter varies d by ±backoffJitter.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 - backoffJitter + 2*backoffJitter*rand.Float64()))
}

// sleep waits for d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
