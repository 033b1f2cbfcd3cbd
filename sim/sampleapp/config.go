package sampleapp

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
)

// Config configures one sample service task.
type Config struct {
	// Service and Version name what this task serves; TaskID names the task.
	Service, Version, TaskID string
	// Addr is the host:port to listen on; port 0 picks a free port.
	Addr string
	// Backends are the URLs called, in order, on each request: http://
	// URLs, or grpc://host:port for a gRPC backend (see grpcbackend.go).
	Backends []string
	// Proxy is the sidecar's egress URL through which backends are called;
	// empty calls them directly.
	Proxy string
	// Latency is added to every request before the backends are called.
	Latency time.Duration
	// LatencyDist is the distribution Latency is drawn from, per request:
	// one of LatencyDists ("" is LatencyFixed); Latency is its mean.
	LatencyDist string
	// CPU is the CPU work each request costs (burnt on one core).
	CPU time.Duration
	// Concurrency, when positive, is how many requests the task serves at
	// once; the others wait for a free slot (their wait counts in their
	// latency), as with a worker pool. Latency, CPU and the backend calls
	// are spent holding a slot.
	Concurrency int
	// ErrorRate is the share of requests, in [0, 1], answered with 500.
	ErrorRate float64
	// StartDelay is how long after Start the task stays unready: /health
	// answers 503 and other requests 503 until it has passed.
	StartDelay time.Duration
	// Drain is how long Shutdown keeps serving, with /health failing, before
	// it stops accepting connections, so that callers can stop sending
	// traffic first.
	Drain time.Duration
	// Abrupt makes Shutdown behave as Close: the task exits without
	// draining when it is told to stop, as a process that ignores SIGTERM's
	// meaning (or is killed by it) does.
	Abrupt bool
	// CrashAfter, when positive, makes the task exit by itself that long
	// after Start, with an error, as a crashing process does.
	CrashAfter time.Duration
	// FailHealth makes /health answer 503 always: the container never
	// passes its health check.
	FailHealth bool
}

// ConfigFromEnv builds a Config from a task's environment, as a container
// would see it: MESHSIM_SERVICE and MESHSIM_VERSION (required), MESHSIM_PORT
// (default 8080), MESHSIM_BACKENDS (comma-separated http:// or grpc://
// URLs), MESHSIM_PROXY (a URL), the durations (Go syntax, "250ms") MESHSIM_LATENCY,
// MESHSIM_START_DELAY, MESHSIM_DRAIN and MESHSIM_CRASH_AFTER,
// MESHSIM_ERROR_RATE (0 to 1), the cost of a request (MESHSIM_CPU,
// MESHSIM_LATENCY_DIST, MESHSIM_CONCURRENCY; see costFromEnv), MESHSIM_SHUTDOWN (graceful or abrupt) and
// MESHSIM_HEALTH (ok or fail).
// The task listens on taskIP (all interfaces when empty). An error names the
// variable and its value.
func ConfigFromEnv(env map[string]string, taskID, taskIP string) (Config, error) {
	cfg := Config{
		Service: strings.TrimSpace(env[contract.EnvService]),
		Version: strings.TrimSpace(env[contract.EnvVersion]),
		TaskID:  taskID,
	}
	if cfg.Service == "" {
		return Config{}, fmt.Errorf("sampleapp: %s is not set", contract.EnvService)
	}
	if cfg.Version == "" {
		return Config{}, fmt.Errorf("sampleapp: %s is not set", contract.EnvVersion)
	}
	for name, v := range map[string]string{contract.EnvService: cfg.Service, contract.EnvVersion: cfg.Version} {
		// They become "service/version/task" entries of a comma-separated
		// chain header.
		if strings.ContainsAny(v, "/, \t") {
			return Config{}, fmt.Errorf("sampleapp: %s=%q: must not contain '/', ',' or spaces", name, v)
		}
	}

	port := contract.SampleDefaultPort
	if s, ok := env[contract.EnvPort]; ok && strings.TrimSpace(s) != "" {
		p, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || p < 0 || p > 65535 {
			return Config{}, fmt.Errorf("sampleapp: %s=%q: not a port number (0-65535)", contract.EnvPort, s)
		}
		port = p
	}
	cfg.Addr = net.JoinHostPort(taskIP, strconv.Itoa(port))

	if s := strings.TrimSpace(env[contract.EnvBackends]); s != "" {
		for _, b := range strings.Split(s, ",") {
			b = strings.TrimSpace(b)
			if b == "" {
				continue
			}
			if err := checkBackendURL(b); err != nil {
				return Config{}, fmt.Errorf("sampleapp: %s=%q: %q %v", contract.EnvBackends, s, b, err)
			}
			cfg.Backends = append(cfg.Backends, b)
		}
	}
	if s := strings.TrimSpace(env[contract.EnvProxy]); s != "" {
		if err := checkHTTPURL(s); err != nil {
			return Config{}, fmt.Errorf("sampleapp: %s=%q: %v", contract.EnvProxy, s, err)
		}
		cfg.Proxy = s
	}

	var err error
	if err := costFromEnv(env, &cfg); err != nil {
		return Config{}, err
	}
	if cfg.StartDelay, err = durationEnv(env, contract.EnvStartDelay); err != nil {
		return Config{}, err
	}
	if cfg.Drain, err = durationEnv(env, contract.EnvDrain); err != nil {
		return Config{}, err
	}
	if cfg.CrashAfter, err = durationEnv(env, contract.EnvCrashAfter); err != nil {
		return Config{}, err
	}
	switch s := strings.TrimSpace(env[contract.EnvShutdown]); s {
	case "", "graceful":
	case "abrupt":
		cfg.Abrupt = true
	default:
		return Config{}, fmt.Errorf("sampleapp: %s=%q: must be graceful or abrupt", contract.EnvShutdown, s)
	}
	switch s := strings.TrimSpace(env[contract.EnvHealth]); s {
	case "", "ok":
	case "fail":
		cfg.FailHealth = true
	default:
		return Config{}, fmt.Errorf("sampleapp: %s=%q: must be ok or fail", contract.EnvHealth, s)
	}
	if s, ok := env[contract.EnvErrorRate]; ok && strings.TrimSpace(s) != "" {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(r >= 0 && r <= 1) {
			return Config{}, fmt.Errorf("sampleapp: %s=%q: not a share between 0 and 1", contract.EnvErrorRate, s)
		}
		cfg.ErrorRate = r
	}
	return cfg, nil
}

func durationEnv(env map[string]string, name string) (time.Duration, error) {
	s, ok := env[name]
	if !ok || strings.TrimSpace(s) == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("sampleapp: %s=%q: not a non-negative duration such as 250ms", name, s)
	}
	return d, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("is not a URL: %v", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("is not an http://host[:port] URL")
	}
	return nil
}

// validate checks a Config given to Start.
func (c Config) validate() error {
	switch {
	case c.Service == "":
		return fmt.Errorf("sampleapp: Config.Service is empty")
	case c.Version == "":
		return fmt.Errorf("sampleapp: Config.Version is empty")
	case c.Addr == "":
		return fmt.Errorf("sampleapp: Config.Addr is empty")
	case !(c.ErrorRate >= 0 && c.ErrorRate <= 1):
		return fmt.Errorf("sampleapp: Config.ErrorRate %v is not between 0 and 1", c.ErrorRate)
	case c.Latency < 0 || c.StartDelay < 0 || c.Drain < 0:
		return fmt.Errorf("sampleapp: Config durations must not be negative")
	}
	if err := c.validateCost(); err != nil {
		return err
	}
	for _, b := range c.Backends {
		if err := checkBackendURL(b); err != nil {
			return fmt.Errorf("sampleapp: Config.Backends: %q %v", b, err)
		}
	}
	if c.Proxy != "" {
		if err := checkHTTPURL(c.Proxy); err != nil {
			return fmt.Errorf("sampleapp: Config.Proxy: %q %v", c.Proxy, err)
		}
	}
	return nil
}
