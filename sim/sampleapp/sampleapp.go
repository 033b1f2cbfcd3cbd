// Package sampleapp is the sample HTTP service that the tasks of a
// rehearsal run. ConfigFromEnv reads its settings from a task's environment,
// as a container would.
//
// Each response says which service, version and task served it, in the
// headers x-meshsim-version, x-meshsim-task and x-meshsim-chain and in a
// small JSON body, so that a load generator can attribute every request to
// a version. A service may call backends (through its sidecar proxy) on each
// request; their failures propagate as 502 so that a drop deep in the call
// graph reaches the client and names where it happened. Knobs model what a
// rollout meets: added latency, an error rate, a slow start, and graceful
// drain versus abrupt exit.
package sampleapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/taskexit"
)

// HealthPath is the path of the health check.
const HealthPath = "/health"

// Response is the JSON body of every answer except /health.
type Response struct {
	Service string `json:"service"`
	Version string `json:"version"`
	Task    string `json:"task"`
	// Error says why the request failed (503 starting, 500 injected, 502
	// backend); empty on success.
	Error    string          `json:"error,omitempty"`
	Backends []BackendResult `json:"backends"`
}

// BackendResult is the outcome of one backend call.
type BackendResult struct {
	URL string `json:"url"`
	// Status is the backend's HTTP status, 0 when no response came back;
	// for a gRPC backend, 200 when the call succeeded and 0 otherwise.
	Status  int    `json:"status"`
	Version string `json:"version,omitempty"`
	Task    string `json:"task,omitempty"`
	Chain   string `json:"chain,omitempty"`
	// Error is the transport error or, for a 5xx, the status and the
	// backend's own error text; for a gRPC backend, the status code and
	// message of a failed call.
	Error string `json:"error,omitempty"`
	// GRPCStatus (gRPC backends) is the call's status code ("OK",
	// "Unavailable"); Message is the greeting Echo returned.
	GRPCStatus string `json:"grpcStatus,omitempty"`
	Message    string `json:"message,omitempty"`
}

// Server is a running sample service.
type Server struct {
	cfg      Config
	cost     *Cost
	self     string // this task's chain entry
	ready    time.Time
	draining atomic.Bool

	ln        net.Listener
	srv       *http.Server
	transport *http.Transport
	client    *http.Client
	grpcConns map[string]*grpc.ClientConn // per grpc:// backend
	serveDone chan struct{}

	exit *taskexit.Exit
}

// ErrCrashed is the exit error of a task configured to crash.
var ErrCrashed = errors.New("sampleapp: crashed (MESHSIM_CRASH_AFTER)")

// Start listens on cfg.Addr and serves until Shutdown, Close, or ctx is
// done (which closes it as Close does).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var proxy func(*http.Request) (*url.URL, error) // nil: call backends directly
	if cfg.Proxy != "" {
		u, err := url.Parse(cfg.Proxy)
		if err != nil {
			return nil, fmt.Errorf("sampleapp: Config.Proxy: %w", err)
		}
		// Every backend request goes to the sidecar in absolute form, with
		// Host naming the virtual service, as an HTTP proxy expects.
		proxy = http.ProxyURL(u)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sampleapp: %s/%s: %w", cfg.Service, cfg.Version, err)
	}

	grpcConns, err := dialGRPCBackends(cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	transport := &http.Transport{
		Proxy:               proxy,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
	}
	s := &Server{
		cfg:       cfg,
		cost:      NewCost(cfg),
		self:      cfg.Service + "/" + cfg.Version + "/" + cfg.TaskID,
		ready:     time.Now().Add(cfg.StartDelay),
		ln:        ln,
		transport: transport,
		grpcConns: grpcConns,
		// No client timeout: a backend call lives as long as the request
		// that caused it, which its caller bounds.
		client:    &http.Client{Transport: transport, CheckRedirect: noRedirects},
		serveDone: make(chan struct{}),
		exit:      taskexit.New(),
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.serveDone)
		s.srv.Serve(ln)
	}()
	go s.exit.Watch(ctx, s.serveDone, s.Close, cfg.CrashAfter, ErrCrashed)
	return s, nil
}

// Done is closed once the task has exited: after Shutdown or Close, or by
// itself when it crashes.
func (s *Server) Done() <-chan struct{} { return s.exit.Done() }

// Err is why the task exited: ErrCrashed for a crash, nil otherwise. It
// blocks until Done is closed.
func (s *Server) Err() error { return s.exit.Err() }

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the task gracefully: /health fails at once, requests are
// still served for cfg.Drain, then the listener closes and Shutdown waits
// for in-flight requests to finish. If ctx ends first, Shutdown returns its
// error and leaves the remaining connections to Close.
//
// A task configured with Abrupt exits at once instead, as Close does.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.cfg.Abrupt {
		return s.Close()
	}
	s.draining.Store(true)
	if s.cfg.Drain > 0 {
		t := time.NewTimer(s.cfg.Drain)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	err := s.srv.Shutdown(ctx)
	s.transport.CloseIdleConnections()
	closeGRPCBackends(s.grpcConns)
	if err != nil {
		return fmt.Errorf("sampleapp: shutting down %s: %w", s.self, err)
	}
	return nil
}

// Close stops the task abruptly, as a killed process would: the listener and
// every connection close at once and in-flight requests are cut off.
func (s *Server) Close() error {
	s.draining.Store(true)
	err := s.srv.Close()
	s.transport.CloseIdleConnections()
	closeGRPCBackends(s.grpcConns)
	if err != nil {
		return fmt.Errorf("sampleapp: closing %s: %w", s.self, err)
	}
	return nil
}

// ServeHTTP answers /health and, on any other path and method, calls the
// backends and reports who served.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set(contract.HeaderVersion, s.cfg.Version)
	h.Set(contract.HeaderTask, s.cfg.TaskID)
	if r.URL.Path == HealthPath {
		s.health(w)
		return
	}
	h.Set(contract.HeaderChain, s.self)
	resp := Response{Service: s.cfg.Service, Version: s.cfg.Version, Task: s.cfg.TaskID, Backends: []BackendResult{}}

	if time.Now().Before(s.ready) {
		resp.Error = "starting: not ready yet"
		writeJSON(w, http.StatusServiceUnavailable, resp)
		return
	}
	if !s.cost.Acquire(r.Context()) {
		return // the caller is gone
	}
	defer s.cost.Release()
	if !s.cost.Spend(r.Context()) {
		return // the caller is gone
	}
	if s.cfg.ErrorRate > 0 && rand.Float64() < s.cfg.ErrorRate {
		resp.Error = "injected error (error rate " + fmt.Sprint(s.cfg.ErrorRate) + ")"
		writeJSON(w, http.StatusInternalServerError, resp)
		return
	}

	status := http.StatusOK
	for i, b := range s.cfg.Backends {
		br := s.call(r, b)
		resp.Backends = append(resp.Backends, br)
		if i == 0 && br.Chain != "" {
			h.Set(contract.HeaderChain, s.self+","+br.Chain)
		}
		if br.Error != "" {
			status = http.StatusBadGateway
			resp.Error = "backend " + b + ": " + br.Error
			break
		}
	}
	writeJSON(w, status, resp)
}

func (s *Server) health(w http.ResponseWriter) {
	WriteHealth(w, s.cfg.FailHealth, s.draining.Load(), s.ready)
}

// WriteHealth writes the answer to a health check of a task that is
// configured to fail it (failHealth), is draining, or is starting until
// ready: 503 with the first of those that holds, else 200, and a JSON body
// {"status": "ok"} (or "failing (MESHSIM_HEALTH=fail)", "draining",
// "starting").
func WriteHealth(w http.ResponseWriter, failHealth, draining bool, ready time.Time) {
	status, text := http.StatusOK, "ok"
	switch {
	case failHealth:
		status, text = http.StatusServiceUnavailable, "failing (MESHSIM_HEALTH=fail)"
	case draining:
		status, text = http.StatusServiceUnavailable, "draining"
	case time.Now().Before(ready):
		status, text = http.StatusServiceUnavailable, "starting"
	}
	writeJSON(w, status, struct {
		Status string `json:"status"`
	}{text})
}

// call calls one backend with the incoming request's method, passing on its
// X-Request-Id.
func (s *Server) call(r *http.Request, backend string) BackendResult {
	if isGRPCBackend(backend) {
		return s.callGRPC(r, backend)
	}
	res := BackendResult{URL: backend}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, backend, nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if id := r.Header.Get("X-Request-Id"); id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	res.Version = resp.Header.Get(contract.HeaderVersion)
	res.Task = resp.Header.Get(contract.HeaderTask)
	res.Chain = resp.Header.Get(contract.HeaderChain)

	var body []byte
	if resp.StatusCode >= 500 {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	}
	if err == nil {
		// Read the rest so the connection can be reused, and so that a
		// response cut off mid-body counts as a failure.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	}
	switch {
	case err != nil:
		res.Error = "reading the response: " + err.Error()
	case resp.StatusCode >= 500:
		res.Error = resp.Status + ": " + errorText(body)
	}
	return res
}

// errorText is the error carried by a failed response's body: the "error"
// field of a JSON body, or the body's text.
func errorText(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	text := strings.Join(strings.Fields(string(body)), " ")
	if len(text) > 200 {
		text = strings.ToValidUTF8(text[:200], "") + "…"
	}
	if text == "" {
		return "(empty body)"
	}
	return text
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// noRedirects hands a backend's redirect back as its response: a sample
// service reports what its backend answered rather than following it.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
