package sampleapp

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the port a sample service listens on when MESHSIM_PORT is
// not set.
const DefaultPort = 8080

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

// Environment variables read by ConfigFromEnv.
const (
	EnvService    = "MESHSIM_SERVICE"
	EnvVersion    = "MESHSIM_VERSION"
	EnvPort       = "MESHSIM_PORT"
	EnvBackends   = "MESHSIM_BACKENDS"
	EnvProxy      = "MESHSIM_PROXY"
	EnvLatency    = "MESHSIM_LATENCY"
	EnvErrorRate  = "MESHSIM_ERROR_RATE"
	EnvStartDelay = "MESHSIM_START_DELAY"
	EnvDrain      = "MESHSIM_DRAIN"
	// EnvShutdown is "graceful" (the default) or "abrupt".
	EnvShutdown   = "MESHSIM_SHUTDOWN"
	EnvCrashAfter = "MESHSIM_CRASH_AFTER"
	// EnvHealth is "ok" (the default) or "fail".
	EnvHealth = "MESHSIM_HEALTH"
)

// ConfigFromEnv builds a Config from a task's environment, as a container
// would see it: MESHSIM_SERVICE and MESHSIM_VERSION (required), MESHSIM_PORT
// (default 8080), MESHSIM_BACKENDS (comma-separated http:// or grpc://
// URLs), MESHSIM_PROXY (a URL), the durations (Go syntax, "250ms") MESHSIM_LATENCY,
// MESHSIM_START_DELAY, MESHSIM_DRAIN and MESHSIM_CRASH_AFTER,
// MESHSIM_ERROR_RATE (0 to 1), MESHSIM_SHUTDOWN (graceful or abrupt) and
// MESHSIM_HEALTH (ok or fail).
// The task listens on taskIP (all interfaces when empty). An error names the
// variable and its value.
func ConfigFromEnv(env map[string]string, taskID, taskIP string) (Config, error) {
	cfg := Config{
		Service: strings.TrimSpace(env[EnvService]),
		Version: strings.TrimSpace(env[EnvVersion]),
		TaskID:  taskID,
	}
	if cfg.Service == "" {
		return Config{}, fmt.Errorf("sampleapp: %s is not set", EnvService)
	}
	if cfg.Version == "" {
		return Config{}, fmt.Errorf("sampleapp: %s is not set", EnvVersion)
	}
	for name, v := range map[string]string{EnvService: cfg.Service, EnvVersion: cfg.Version} {
		// They become "service/version/task" entries of a comma-separated
		// chain header.
		if strings.ContainsAny(v, "/, \t") {
			return Config{}, fmt.Errorf("sampleapp: %s=%q: must not contain '/', ',' or spaces", name, v)
		}
	}

	port := DefaultPort
	if s, ok := env[EnvPort]; ok && strings.TrimSpace(s) != "" {
		p, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || p < 0 || p > 65535 {
			return Config{}, fmt.Errorf("sampleapp: %s=%q: not a port number (0-65535)", EnvPort, s)
		}
		port = p
	}
	cfg.Addr = net.JoinHostPort(taskIP, strconv.Itoa(port))

	if s := strings.TrimSpace(env[EnvBackends]); s != "" {
		for _, b := range strings.Split(s, ",") {
			b = strings.TrimSpace(b)
			if b == "" {
				continue
			}
			if err := checkBackendURL(b); err != nil {
				return Config{}, fmt.Errorf("sampleapp: %s=%q: %q %v", EnvBackends, s, b, err)
			}
			cfg.Backends = append(cfg.Backends, b)
		}
	}
	if s := strings.TrimSpace(env[EnvProxy]); s != "" {
		if err := checkHTTPURL(s); err != nil {
			return Config{}, fmt.Errorf("sampleapp: %s=%q: %v", EnvProxy, s, err)
		}
		cfg.Proxy = s
	}

	var err error
	if cfg.Latency, err = durationEnv(env, EnvLatency); err != nil {
		return Config{}, err
	}
	if cfg.StartDelay, err = durationEnv(env, EnvStartDelay); err != nil {
		return Config{}, err
	}
	if cfg.Drain, err = durationEnv(env, EnvDrain); err != nil {
		return Config{}, err
	}
	if cfg.CrashAfter, err = durationEnv(env, EnvCrashAfter); err != nil {
		return Config{}, err
	}
	switch s := strings.TrimSpace(env[EnvShutdown]); s {
	case "", "graceful":
	case "abrupt":
		cfg.Abrupt = true
	default:
		return Config{}, fmt.Errorf("sampleapp: %s=%q: must be graceful or abrupt", EnvShutdown, s)
	}
	switch s := strings.TrimSpace(env[EnvHealth]); s {
	case "", "ok":
	case "fail":
		cfg.FailHealth = true
	default:
		return Config{}, fmt.Errorf("sampleapp: %s=%q: must be ok or fail", EnvHealth, s)
	}
	if s, ok := env[EnvErrorRate]; ok && strings.TrimSpace(s) != "" {
		r, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(r >= 0 && r <= 1) {
			return Config{}, fmt.Errorf("sampleapp: %s=%q: not a share between 0 and 1", EnvErrorRate, s)
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
