package grpcapp

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/sampleapp"
)

// Defaults of the feed that Subscribe streams.
const (
	// DefaultFeedInterval is the time between two feed messages when
	// neither the subscription nor the task sets one.
	DefaultFeedInterval = 100 * time.Millisecond
	// DefaultFeedRetention is how far back a task can replay a feed.
	DefaultFeedRetention = 10 * time.Second
	// minFeedInterval bounds the rate of one feed.
	minFeedInterval = time.Millisecond
)

// Config configures one sample gRPC service task.
type Config struct {
	// Service and Version name what this task serves; TaskID names the task.
	Service, Version, TaskID string
	// Addr is the host:port the gRPC server listens on; port 0 picks a free
	// port. The host is the task's IP, which Echo's greeting names.
	Addr string
	// HealthAddr, when set, is a host:port on which an HTTP server answers
	// GET /health (200 serving, 503 starting or draining), for health checks
	// that are HTTP GETs. The gRPC health service is always on.
	HealthAddr string
	// Latency is added to every Echo call.
	Latency time.Duration
	// LatencyDist, CPU and Concurrency shape the cost of an Echo call as
	// sampleapp.Config's do (Latency is the distribution's mean).
	LatencyDist string
	CPU         time.Duration
	Concurrency int
	// ErrorRate is the share of Echo calls, in [0, 1], answered with
	// INTERNAL.
	ErrorRate float64
	// StartDelay is how long after Start the task is not ready: the health
	// service reports NOT_SERVING and Echo calls fail with UNAVAILABLE.
	StartDelay time.Duration
	// Drain is how long, after Shutdown has sent GOAWAY, open streams may
	// go on before the task ends them with a clean UNAVAILABLE status.
	Drain time.Duration
	// Abrupt makes Shutdown behave as Close: the task exits at once,
	// resetting its connections, as a process that does not handle SIGTERM.
	Abrupt bool
	// CrashAfter, when positive, makes the task exit by itself that long
	// after Start, abruptly and with ErrCrashed.
	CrashAfter time.Duration
	// FailHealth makes the health checks fail always.
	FailHealth bool
	// FeedInterval is the default time between two feed messages;
	// FeedRetention how far back the task replays a resumed feed. Zero
	// means DefaultFeedInterval and DefaultFeedRetention.
	FeedInterval  time.Duration
	FeedRetention time.Duration
}

// ConfigFromEnv builds a Config from a task's environment. It reads the
// variables of sampleapp.ConfigFromEnv, with the same meaning and checks
// (MESHSIM_SERVICE and MESHSIM_VERSION required, MESHSIM_PORT default 8080,
// MESHSIM_LATENCY, MESHSIM_ERROR_RATE, MESHSIM_START_DELAY, MESHSIM_DRAIN,
// MESHSIM_SHUTDOWN graceful or abrupt, MESHSIM_CRASH_AFTER, MESHSIM_HEALTH
// ok or fail; the backends and proxy do not apply), and these:
// MESHSIM_HEALTH_PORT (an HTTP /health port, off when unset),
// MESHSIM_FEED_INTERVAL and MESHSIM_FEED_RETENTION (positive durations).
// The task listens on taskIP (all interfaces when empty). An error names
// the variable and its value.
func ConfigFromEnv(env map[string]string, taskID, taskIP string) (Config, error) {
	base, err := sampleapp.ConfigFromEnv(env, taskID, taskIP)
	if err != nil {
		return Config{}, fmt.Errorf("grpcapp: %w", err)
	}
	cfg := Config{
		Service:     base.Service,
		Version:     base.Version,
		TaskID:      base.TaskID,
		Addr:        base.Addr,
		Latency:     base.Latency,
		LatencyDist: base.LatencyDist,
		CPU:         base.CPU,
		Concurrency: base.Concurrency,
		ErrorRate:   base.ErrorRate,
		StartDelay:  base.StartDelay,
		Drain:       base.Drain,
		Abrupt:      base.Abrupt,
		CrashAfter:  base.CrashAfter,
		FailHealth:  base.FailHealth,
	}
	if s := strings.TrimSpace(env[contract.EnvHealthPort]); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil || p < 0 || p > 65535 {
			return Config{}, fmt.Errorf("grpcapp: %s=%q: not a port number (0-65535)", contract.EnvHealthPort, s)
		}
		cfg.HealthAddr = net.JoinHostPort(taskIP, strconv.Itoa(p))
	}
	if cfg.FeedInterval, err = positiveDuration(env, contract.EnvFeedInterval); err != nil {
		return Config{}, err
	}
	if cfg.FeedRetention, err = positiveDuration(env, contract.EnvFeedRetention); err != nil {
		return Config{}, err
	}
	return cfg, cfg.validate()
}

func positiveDuration(env map[string]string, name string) (time.Duration, error) {
	s := strings.TrimSpace(env[name])
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("grpcapp: %s=%q: not a positive duration such as 100ms", name, s)
	}
	return d, nil
}

// validate checks a Config given to Start and fills in the defaults.
func (c *Config) validate() error {
	switch {
	case c.Service == "":
		return fmt.Errorf("grpcapp: Config.Service is empty")
	case c.Version == "":
		return fmt.Errorf("grpcapp: Config.Version is empty")
	case c.Addr == "":
		return fmt.Errorf("grpcapp: Config.Addr is empty")
	case !(c.ErrorRate >= 0 && c.ErrorRate <= 1):
		return fmt.Errorf("grpcapp: Config.ErrorRate %v is not between 0 and 1", c.ErrorRate)
	case c.Latency < 0 || c.StartDelay < 0 || c.Drain < 0 || c.CrashAfter < 0 || c.FeedInterval < 0 || c.FeedRetention < 0:
		return fmt.Errorf("grpcapp: Config durations must not be negative")
	case c.FeedInterval > 0 && c.FeedInterval < minFeedInterval:
		return fmt.Errorf("grpcapp: Config.FeedInterval %v is below %v", c.FeedInterval, minFeedInterval)
	}
	if c.FeedInterval == 0 {
		c.FeedInterval = DefaultFeedInterval
	}
	if c.FeedRetention == 0 {
		c.FeedRetention = DefaultFeedRetention
	}
	return nil
}
