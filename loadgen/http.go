// Package loadgen generates load on the system under test and records one
// rundir.Observation per request, as it happens.
//
// HTTP load runs on vegeta's attacker and constant pacer. Latency is measured
// from when the pacer meant each request to go out, not from when it went
// out, so a stall in the system under test, or in the generator, shows in the
// numbers instead of being hidden (no coordinated omission).
package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/meshsim/meshsim/loadgen/rundir"
	"github.com/meshsim/meshsim/sim/contract"
)

// DefaultTimeout bounds one request when HTTPConfig.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Limits that keep the generator itself bounded.
const (
	// maxDefaultWorkers caps the default worker count (see HTTPConfig.MaxWorkers).
	maxDefaultWorkers = 10000
	// minWorkers is the least worker cap, so that a low rate with a short
	// timeout still tolerates a few slow responses.
	minWorkers = 16
	// maxBody is how much of each response body is kept to classify
	// failures; the rest is read and discarded.
	maxBody = 4 << 10
	// stopGrace is how long requests in flight may finish after ctx is done
	// before they are abandoned.
	stopGrace = time.Second
)

// HTTPConfig describes a constant-rate HTTP load.
type HTTPConfig struct {
	// Target is the URL requested.
	Target string
	// Host, when set, is sent as the Host header instead of Target's host,
	// as when calling an ingress by address on behalf of a virtual host.
	Host string
	// Targets, when set, replace Target and Host: each request goes to
	// Targets[Pick()], as a load balancer's weighted target groups send it.
	// Pick is called once per request, from the sending goroutines.
	Targets []HTTPTarget
	Pick    func() int
	// Method defaults to POST. Go's net/http silently resends a request
	// whose method is idempotent (GET, HEAD, OPTIONS) when a kept-alive
	// connection dies under it, which would hide exactly the drops a
	// rollout rehearsal measures; RunHTTP prevents that for every method,
	// so each request is sent once and each drop is observed.
	Method string
	// Rate is the offered load in requests per second.
	Rate float64
	// Duration is how long to send; zero sends until ctx is done.
	Duration time.Duration
	// Timeout bounds each request, response body included; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxWorkers caps the requests in flight at once. Zero means
	// Rate × Timeout (at least 16, at most 10000): enough for the schedule
	// to hold until requests start timing out.
	//
	// The trade-off: vegeta adds a worker whenever every worker is busy, so
	// without a cap a stalled system under test makes the generator grow
	// without bound. With a cap, once it is reached the pacer waits for a
	// free worker and requests go out late. Latency is still measured from
	// the schedule, so the wait is counted, not omitted, but the load
	// actually offered drops below Rate until workers free up (then the
	// pacer catches up in a burst). Summary.MaxLag shows how late the
	// generator fell.
	MaxWorkers uint64
	// MeasuredService names the service whose version and task are recorded
	// in each observation, taken from the x-meshsim-chain response header.
	// Empty means the service that answered the request.
	MeasuredService string
	// Meter, when set, follows the sends against the schedule while the
	// load runs (see Meter).
	Meter *Meter
	// Attribute, when set, names the version and task behind an endpoint
	// (a task's host:port) that the ingress proxy reports it forwarded a
	// request to, for the responses that name no version themselves: the
	// user's applications, and the proxy's own failure replies. It is
	// called from RunHTTP's goroutine and returns "" for an endpoint it
	// does not know.
	Attribute func(endpoint string) (version, task string)
	// Clients, when set, sends the load from a population of clients that
	// each resolve the target's host name through a DNS server, cache the
	// answer and keep their connections (see Clients), instead of from one
	// client that connects to the host as given.
	Clients *Clients
	// Requests, when set, are the requests sent, each in proportion to its
	// weight: its method, path, headers and body, to Target's (or the
	// picked target's) scheme and host. Method is then unused.
	Requests []HTTPRequest
}

// HTTPRequest is one kind of request of a load: the user's traffic.
type HTTPRequest struct {
	Method string
	// Path is the path and query, starting with /.
	Path   string
	Header http.Header
	Body   []byte
	// Weight is its share relative to the others' (0 counts as 1).
	Weight float64
}

// RequestsFromTargets reads the targets vegeta's targeter yields (vegeta's
// HTTP targets file format, lib.NewHTTPTargeter) as requests of weight 1:
// their URLs' paths and queries, their methods, headers and bodies.
func RequestsFromTargets(tr vegeta.Targeter) ([]HTTPRequest, error) {
	targets, err := vegeta.ReadAllTargets(tr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: reading targets: %w", err)
	}
	reqs := make([]HTTPRequest, len(targets))
	for i, t := range targets {
		u, err := url.Parse(t.URL)
		if err != nil {
			return nil, fmt.Errorf("loadgen: target %d: %w", i+1, err)
		}
		reqs[i] = HTTPRequest{Method: t.Method, Path: u.RequestURI(), Header: t.Header, Body: t.Body, Weight: 1}
	}
	return reqs, nil
}

// Sink receives observations. RunHTTP calls Observe from one goroutine, in
// the order results arrive. *rundir.Writer is a Sink.
type Sink interface {
	// Observe records one observation; an error stops the load.
	Observe(rundir.Observation) error
}

// Summary sums up a load run.
type Summary struct {
	// Requests counts the requests sent, each observed once.
	Requests int
	// Successes counts the requests answered with a status below 400.
	Successes int
	// AchievedRate is the rate at which requests actually went out, per
	// second.
	AchievedRate float64
	// Errors counts failed requests by ErrorKind.
	Errors map[string]int
	// MaxLag is the longest a request went out after its scheduled time:
	// how far the generator fell behind its schedule.
	MaxLag time.Duration
}

// RunHTTP sends cfg.Method requests to cfg.Target at cfg.Rate until
// cfg.Duration has passed or ctx is done, and gives every result to sink as
// it arrives. step is called once per request, from another goroutine, when
// the request is scheduled, and its value is recorded as the request's Step;
// it must be safe for concurrent use (an atomic load). A nil step records 0.
//
// When ctx is done RunHTTP stops sending, lets requests in flight finish for
// up to a second, abandons the rest (recorded with ErrorKind "canceled"), and
// returns once every result has gone to sink. A done ctx is not an error.
// RunHTTP returns an error for an invalid cfg, or when sink fails (the load
// then stops).
func RunHTTP(ctx context.Context, cfg HTTPConfig, step func() int, sink Sink) (Summary, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return Summary{}, err
	}
	if sink == nil {
		return Summary{}, fmt.Errorf("loadgen: no sink for the observations")
	}
	sched := newSchedule(cfg.Rate, step, cfg.Meter)

	// abortCtx is the parent of every request's context: cancelling it
	// abandons the requests in flight.
	abortCtx, abort := context.WithCancel(context.Background())
	defer abort()
	base := &http.Transport{
		// Never an environment proxy: the target is this machine's ingress.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: int(min(cfg.MaxWorkers, math.MaxInt32)),
		IdleConnTimeout:     90 * time.Second,
	}
	defer base.CloseIdleConnections()
	var (
		rt         http.RoundTripper = base
		pickClient func() int
	)
	if cfg.Clients != nil {
		pop := newPopulation(*cfg.Clients, base)
		defer pop.closeIdle()
		rt, pickClient = pop, pop.pick
	}
	client := &http.Client{
		// The timeout is applied per request by the transport, which also
		// ties each request to abortCtx.
		Transport: &noReplayTransport{base: rt, abort: abortCtx, timeout: cfg.Timeout},
		// Report redirects as they are rather than following them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(client), // first: the other options then apply to it
		vegeta.Workers(min(10, cfg.MaxWorkers)),
		vegeta.MaxWorkers(cfg.MaxWorkers),
		vegeta.MaxBody(maxBody),
	)
	// vegeta takes the attack's start time at the top of Attack; a time
	// taken just before is at most that early, so a scheduled time computed
	// from it is never later than the real one and never shortens a latency.
	sched.stop = ctx.Done()
	sched.start(time.Now())
	results := atk.Attack(newTargeter(cfg, pickClient), sched, cfg.Duration, "")

	// Stop the attack when ctx is done; then abandon what is still in
	// flight after stopGrace. The attacker is used for this one attack only:
	// once stopped it cannot attack again.
	attackDone := make(chan struct{})
	defer close(attackDone)
	go func() {
		select {
		case <-ctx.Done():
		case <-attackDone:
			return
		}
		atk.Stop()
		t := time.NewTimer(stopGrace)
		defer t.Stop()
		select {
		case <-t.C:
			abort()
		case <-attackDone:
		}
	}()

	sum := summer{errors: map[string]int{}}
	var sinkErr error
	// Drain every result: vegeta's results channel is unbuffered, and a
	// result left unread would block a worker and lose an observation.
	for res := range results {
		o := observation(res, sched, cfg.MeasuredService, abortCtx.Err() != nil)
		attribute(&o, cfg.Attribute)
		sum.add(o)
		if sinkErr != nil {
			continue
		}
		if err := sink.Observe(o); err != nil {
			sinkErr = fmt.Errorf("loadgen: recording observation %d: %w", o.Seq, err)
			atk.Stop()
		}
	}
	return sum.summary(), sinkErr
}

func (c HTTPConfig) normalize() (HTTPConfig, error) {
	targets := c.Targets
	switch {
	case len(targets) == 0:
		targets = []HTTPTarget{{URL: c.Target}}
	case c.Pick == nil:
		return c, fmt.Errorf("loadgen: %d targets and no Pick to choose between them", len(targets))
	}
	for _, t := range targets {
		u, err := url.Parse(t.URL)
		if err != nil {
			return c, fmt.Errorf("loadgen: target %q: %w", t.URL, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("loadgen: target %q is not an http(s)://host URL", t.URL)
		}
	}
	if c.Method == "" {
		c.Method = http.MethodPost
	}
	c.Method = strings.ToUpper(c.Method)
	if c.Method == http.MethodConnect || strings.ContainsAny(c.Method, " \t\r\n") {
		return c, fmt.Errorf("loadgen: method %q cannot be used for load", c.Method)
	}
	if !(c.Rate >= 1.0/3600 && c.Rate <= 1e6) {
		return c, fmt.Errorf("loadgen: rate %v: want between one request per hour and 1e6 requests per second", c.Rate)
	}
	if c.Duration < 0 {
		return c, fmt.Errorf("loadgen: duration %v is negative", c.Duration)
	}
	switch {
	case c.Timeout < 0:
		return c, fmt.Errorf("loadgen: timeout %v is negative", c.Timeout)
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	}
	if c.Clients != nil {
		clients, err := c.Clients.normalize()
		if err != nil {
			return c, err
		}
		c.Clients = &clients
	}
	if c.MaxWorkers == 0 {
		n := math.Ceil(c.Rate * c.Timeout.Seconds())
		c.MaxWorkers = uint64(min(max(n, minWorkers), maxDefaultWorkers))
	}
	return c, nil
}

// newTargeter returns a targeter for cfg that gives each request a unique
// X-Request-Id, so that it can be followed through proxies and services,
// and, when pickClient is not nil, the client of the population that sends
// it (ClientHeader).
func newTargeter(cfg HTTPConfig, pickClient func() int) vegeta.Targeter {
	prefix := fmt.Sprintf("meshsim-%08x-", rand.Uint32())
	var n atomic.Uint64
	pick := requestPicker(cfg.Requests)
	return func(t *vegeta.Target) error {
		target := HTTPTarget{URL: cfg.Target, Host: cfg.Host}
		if len(cfg.Targets) > 0 {
			i := cfg.Pick()
			if i < 0 || i >= len(cfg.Targets) {
				return fmt.Errorf("loadgen: target %d picked of %d", i, len(cfg.Targets))
			}
			target = cfg.Targets[i]
		}
		t.Method = cfg.Method
		t.URL = target.URL
		t.Header = http.Header{}
		if req := pick(); req != nil {
			t.Method, t.Body = req.Method, req.Body
			t.URL = withPath(target.URL, req.Path)
			t.Header = req.Header.Clone()
			if t.Header == nil {
				t.Header = http.Header{}
			}
		}
		t.Header.Set("X-Request-Id", prefix+strconv.FormatUint(n.Add(1), 10))
		if pickClient != nil {
			t.Header.Set(ClientHeader, strconv.Itoa(pickClient()))
		}
		if target.Host != "" {
			t.Header.Set("Host", target.Host)
		}
		return nil
	}
}

// requestPicker returns a function that picks one of reqs at random in
// proportion to their weights, or nil when there are none.
func requestPicker(reqs []HTTPRequest) func() *HTTPRequest {
	if len(reqs) == 0 {
		return func() *HTTPRequest { return nil }
	}
	cum := make([]float64, len(reqs))
	var sum float64
	for i, r := range reqs {
		w := r.Weight
		if w <= 0 {
			w = 1
		}
		sum += w
		cum[i] = sum
	}
	return func() *HTTPRequest {
		x := rand.Float64() * sum
		i := sort.SearchFloat64s(cum, x)
		if i >= len(reqs) {
			i = len(reqs) - 1
		}
		return &reqs[i]
	}
}

// withPath is base (scheme://host[/prefix]) with path and query appended.
func withPath(base, path string) string {
	return strings.TrimRight(base, "/") + path
}

// HTTPTarget is one place HTTP load goes: a URL, and the Host header to
// send when it is not the URL's host.
type HTTPTarget struct {
	URL, Host string
}

// noReplayTransport sends each request exactly once, bounded by a timeout
// and by the run's abort context.
//
// net/http's Transport resends a request on a new connection when a reused
// keep-alive connection fails before the response, if the request is
// "replayable": a GET, HEAD or OPTIONS without a body, or one carrying an
// Idempotency-Key. That retry would turn a connection dropped by a draining
// or killed task into a success, hiding the drop. A body that cannot be
// rewound makes a request not replayable; for methods that usually carry
// no body, the Transport notices that the body is empty and sends none, so
// the request on the wire is unchanged. POST is not replayable anyway.
type noReplayTransport struct {
	base    http.RoundTripper
	abort   context.Context
	timeout time.Duration
}

// RoundTrip implements http.RoundTripper.
func (t *noReplayTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.abort, t.timeout)
	r := req.WithContext(ctx)
	if req.Body == nil || req.Body == http.NoBody {
		switch req.Method {
		case "", http.MethodGet, http.MethodHead, http.MethodOptions:
			r.Body, r.GetBody, r.ContentLength = onceEmptyBody{}, nil, 0
		}
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// onceEmptyBody is an empty request body without GetBody: it cannot be
// rewound, so the request cannot be replayed.
type onceEmptyBody struct{}

func (onceEmptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (onceEmptyBody) Close() error             { return nil }

// cancelOnClose releases a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// schedule is the pacer given to vegeta. It paces like a ConstantPacer
// with one request per interval and remembers which step was in force for
// each request.
//
// vegeta's pacer sends request i (from 0) at began + (i+1)·interval, and
// numbers requests (Result.Seq) in the order workers pick them up, so
// request Seq's scheduled time is began + (Seq+1)·interval.
type schedule struct {
	pacer    vegeta.ConstantPacer
	interval time.Duration
	began    time.Time // set by start, before the attack starts
	step     func() int
	last     int    // the last step value seen; used by the pacer goroutine only
	meter    *Meter // nil when not metered
	// stop, when not nil, ends the schedule: Pace then waits for a
	// request's time itself and gives up when stop is closed. vegeta
	// sleeps a pacer's wait without watching Stop, so at a low rate a
	// stopped attack would otherwise run on until its next request.
	stop <-chan struct{}

	mu    sync.Mutex
	marks []stepMark // in increasing tick order
}

// newSchedule returns the schedule of rate requests per second, recording
// step() for each (0 when step is nil) and following the sends in meter
// (nil for none).
func newSchedule(rate float64, step func() int, meter *Meter) *schedule {
	interval := time.Duration(float64(time.Second) / rate)
	return &schedule{
		pacer:    vegeta.ConstantPacer{Freq: 1, Per: interval},
		interval: interval,
		step:     step,
		meter:    meter,
	}
}

// start sets the schedule's origin, just before the first request is
// paced.
func (s *schedule) start(began time.Time) {
	s.began = began
	s.meter.start(began, s.interval)
}

// stepMark records that from request tick on, step was in force.
type stepMark struct {
	tick uint64
	step int
}

// Pace implements vegeta.Pacer. vegeta calls it from one goroutine, once
// before each request with the number of requests sent so far.
func (s *schedule) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	step := 0
	if s.step != nil {
		step = s.step()
	}
	if hits == 0 || step != s.last {
		s.mu.Lock()
		s.marks = append(s.marks, stepMark{tick: hits, step: step})
		s.mu.Unlock()
		s.last = step
	}
	s.meter.pace(elapsed, hits, s.interval)
	wait, stop := s.pacer.Pace(elapsed, hits)
	if stop || wait <= 0 || s.stop == nil {
		return wait, stop
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return 0, false
	case <-s.stop:
		return 0, true
	}
}

// Rate implements vegeta.Pacer.
func (s *schedule) Rate(elapsed time.Duration) float64 { return s.pacer.Rate(elapsed) }

// at returns the scheduled time and the step of request seq (from 0).
func (s *schedule) at(seq uint64) (time.Time, int) {
	scheduled := s.began.Add(time.Duration(seq+1) * s.interval)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.marks), func(i int) bool { return s.marks[i].tick > seq }) - 1
	if i < 0 {
		return scheduled, 0
	}
	return scheduled, s.marks[i].step
}

// observation turns one vegeta result into an observation. aborted says
// whether the run had abandoned its requests in flight.
func observation(res *vegeta.Result, sched *schedule, measured string, aborted bool) rundir.Observation {
	scheduled, step := sched.at(res.Seq)
	o := rundir.Observation{
		Kind:        "http",
		Seq:         res.Seq + 1,
		Scheduled:   scheduled,
		Sent:        res.Timestamp,
		Latency:     res.End().Sub(scheduled),
		ServiceTime: res.Latency,
		Step:        step,
		Status:      int(res.Code),
	}
	if o.Latency < o.ServiceTime {
		o.Latency = o.ServiceTime
	}
	o.Chain = res.Headers.Get(contract.HeaderChain)
	o.Version, o.Task = servedBy(res.Headers, o.Chain, measured)
	o.Cluster, o.Endpoint = res.Headers.Get(contract.HeaderUpstreamCluster), res.Headers.Get(contract.HeaderUpstreamEndpoint)
	if res.Error != "" || o.Status < 200 || o.Status >= 400 {
		o.ErrorKind = classify(o.Status, res.Error, res.Headers, res.Body, aborted)
		o.Error = errorText(res)
	}
	return o
}

// attribute fills in the version and task of an observation whose
// response named none, from the endpoint the proxy forwarded to.
func attribute(o *rundir.Observation, fn func(string) (string, string)) {
	if fn == nil || o.Endpoint == "" || (o.Version != "" && o.Task != "") {
		return
	}
	version, task := fn(o.Endpoint)
	if o.Version == "" {
		o.Version = version
	}
	if o.Task == "" {
		o.Task = task
	}
}

// servedBy returns the version and task of the measured service: its entry
// in the chain ("service/version/task", outermost first), or the top-level
// headers when the measured service answered the request itself.
func servedBy(h http.Header, chain, measured string) (version, task string) {
	if measured == "" || chain == "" {
		return h.Get(contract.HeaderVersion), h.Get(contract.HeaderTask)
	}
	first := true
	for entry := range strings.SplitSeq(chain, ",") {
		service, rest, _ := strings.Cut(strings.TrimSpace(entry), "/")
		if service != measured {
			first = false
			continue
		}
		if first {
			return h.Get(contract.HeaderVersion), h.Get(contract.HeaderTask)
		}
		version, task, _ = strings.Cut(rest, "/")
		return version, task
	}
	return "", ""
}

// classify names the kind of a failed request. Transport failures are told
// apart by their error text, which is all a vegeta result carries; the texts
// are those of Go's net package on Unix, and of Windows' socket errors.
func classify(status int, errText string, h http.Header, body []byte, aborted bool) string {
	switch {
	case status >= 500:
		switch {
		case status == http.StatusServiceUnavailable && strings.Contains(string(body), "no healthy upstream"):
			return "no-healthy-upstream"
		case h.Get(contract.HeaderVersion) != "" || h.Get(contract.HeaderUpstreamServiceTime) != "":
			// The application answered (the proxy only passed it on).
			return "app-5xx"
		case h.Get(contract.HeaderProxy) != "" || strings.EqualFold(h.Get("Server"), "envoy"):
			return "proxy-5xx"
		}
		return "other"
	case status >= 400:
		return "4xx"
	case status != 0:
		return "other"
	}
	e := strings.ToLower(errText)
	switch {
	case aborted && strings.Contains(e, "context canceled"):
		return "canceled"
	case strings.Contains(e, "timeout") || strings.Contains(e, "deadline exceeded"):
		return "timeout"
	case strings.Contains(e, "connection refused") || strings.Contains(e, "actively refused"):
		return "refused"
	case strings.Contains(e, "connection reset") || strings.Contains(e, "broken pipe") || strings.Contains(e, "forcibly closed"):
		return "reset"
	case strings.Contains(e, "eof") || strings.Contains(e, "server closed idle connection"):
		return "eof"
	}
	return "other"
}

// errorText is the error recorded for a failed result: the transport error
// without the `Method "URL": ` prefix that repeats the target, or the status
// followed by what the body says.
func errorText(res *vegeta.Result) string {
	if res.Code == 0 {
		// net/http's url.Error: `Post "http://host/path": dial tcp ...`.
		if len(res.Method) > 0 {
			op := res.Method[:1] + strings.ToLower(res.Method[1:])
			return strings.TrimPrefix(res.Error, op+" "+strconv.Quote(res.URL)+": ")
		}
		return res.Error
	}
	text := res.Error
	if text == "" {
		text = strconv.Itoa(int(res.Code))
	}
	if msg := bodyError(res.Body); msg != "" {
		text += ": " + msg
	}
	return text
}

// bodyError is the "error" field of a JSON body (as the sample services
// send), or else the body's text, shortened.
func bodyError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if len(body) > 0 && body[0] == '{' && json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 200 {
		text = strings.ToValidUTF8(text[:200], "") + "…"
	}
	return text
}

// summer accumulates a Summary.
type summer struct {
	requests, successes int
	errors              map[string]int
	maxLag              time.Duration
	firstSent, lastSent time.Time
}

func (s *summer) add(o rundir.Observation) {
	s.requests++
	if o.OK() {
		s.successes++
	} else {
		s.errors[o.ErrorKind]++
	}
	if lag := o.Sent.Sub(o.Scheduled); lag > s.maxLag {
		s.maxLag = lag
	}
	if s.firstSent.IsZero() || o.Sent.Before(s.firstSent) {
		s.firstSent = o.Sent
	}
	if o.Sent.After(s.lastSent) {
		s.lastSent = o.Sent
	}
}

func (s *summer) summary() Summary {
	sum := Summary{Requests: s.requests, Successes: s.successes, Errors: s.errors, MaxLag: s.maxLag}
	if span := s.lastSent.Sub(s.firstSent); s.requests > 1 && span > 0 {
		sum.AchievedRate = float64(s.requests-1) / span.Seconds()
	}
	return sum
}
