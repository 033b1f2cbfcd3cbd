package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Capacity is a scenario's capacity sweep (`meshsim capacity`): the
// service sized and the objective it is sized for. Every field can be
// given or overridden by the command's flags.
type Capacity struct {
	// Service is the service sized (default: load.measure); Version its
	// version (default: its first).
	Service, Version string
	// SLO is the latency objective, "p99=200ms"; ErrorBudget the share of
	// requests that may fail (0.001 for 0.1%).
	SLO         string
	ErrorBudget float64
	// TargetRate is the request rate (per second) to size for.
	TargetRate float64
	// MaxTasks bounds the task counts swept (1, 2, 4, …); Step is how long
	// each rate is offered; StartRate the first rate offered to one task.
	MaxTasks  int
	Step      time.Duration
	StartRate float64
	Pos       Pos
}

// capacity decodes the capacity section.
func (d *decoder) capacity(n *yaml.Node) Capacity {
	c := Capacity{Pos: d.pos(n), ErrorBudget: -1}
	d.fields(n, "capacity", map[string]func(*yaml.Node){
		"service": func(v *yaml.Node) { d.name(v, "capacity.service", &c.Service) },
		"version": func(v *yaml.Node) { d.versionName(v, &c.Version) },
		"slo": func(v *yaml.Node) {
			d.str(v, "capacity.slo", &c.SLO)
			if _, _, err := ParseSLO(c.SLO); err != nil {
				d.errorf(v, "capacity.slo %v", err)
			}
		},
		"errorBudget": func(v *yaml.Node) { d.float(v, "capacity.errorBudget", 0, 0.5, &c.ErrorBudget) },
		"targetRate":  func(v *yaml.Node) { d.float(v, "capacity.targetRate", 0.1, 1e6, &c.TargetRate) },
		"maxTasks":    func(v *yaml.Node) { d.integer(v, "capacity.maxTasks", 1, 64, &c.MaxTasks) },
		"step":        func(v *yaml.Node) { d.duration(v, "capacity.step", &c.Step) },
		"startRate":   func(v *yaml.Node) { d.float(v, "capacity.startRate", 0.1, 20000, &c.StartRate) },
	})
	return c
}

// capacity checks that the capacity section names a service and version
// of the scenario.
func (v *validator) capacity() {
	c := v.sc.Capacity
	if c.Service == "" {
		return
	}
	s, ok := v.byName[c.Service]
	if !ok {
		v.at(c.Pos, "capacity.service %q is not a service of this scenario", c.Service)
		return
	}
	if c.Version == "" {
		return
	}
	for _, ver := range s.Versions {
		if ver.Name == c.Version {
			return
		}
	}
	v.at(c.Pos, "capacity.version %q is not a version of service %q (versions: %v)", c.Version, s.Name, s.VersionNames())
}

// ParseSLO parses a latency objective (capacity.slo, --slo), "pNN=DURATION" (p50, p90, p95, p99, p99.9…).
func ParseSLO(s string) (quantile float64, latency time.Duration, err error) {
	q, d, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || !strings.HasPrefix(q, "p") {
		return 0, 0, fmt.Errorf("%q: want pNN=DURATION, e.g. p99=200ms", s)
	}
	pct, err := strconv.ParseFloat(q[1:], 64)
	if err != nil || !(pct > 0 && pct < 100) {
		return 0, 0, fmt.Errorf("%q: the quantile %q is not p followed by a percentage between 0 and 100", s, q)
	}
	latency, err = time.ParseDuration(d)
	if err != nil || latency <= 0 {
		return 0, 0, fmt.Errorf("%q: %q is not a positive duration such as 200ms", s, d)
	}
	return pct / 100, latency, nil
}

// ParseErrorBudget parses an error budget (--error-budget): a percentage ("0.1%") or a fraction
// ("0.001").
func ParseErrorBudget(s string) (float64, error) {
	t := strings.TrimSpace(s)
	scale := 1.0
	if strings.HasSuffix(t, "%") {
		t, scale = strings.TrimSuffix(t, "%"), 0.01
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*scale >= 1 {
		return 0, fmt.Errorf("%q: want a share of failed requests below 100%%, as 0.1%% or 0.001", s)
	}
	return v * scale, nil
}

// capacitySchema is the capacity section's JSON Schema.
func capacitySchema() map[string]any {
	return object("The capacity sweep of meshsim capacity (flags override it)", map[string]any{
		"service":     pattern("The service sized", validName.String()),
		"version":     pattern("Its version sized (default: its first)", validVersion.String()),
		"slo":         pattern("The latency objective, pNN=DURATION such as p99=200ms", `^p[0-9]+(\.[0-9]+)?=.+$`),
		"errorBudget": number("The share of requests that may fail (0.001 for 0.1%)", 0, 0.5),
		"targetRate":  number("The request rate to size for, per second", 0.1, 1e6),
		"maxTasks":    integer("The most tasks swept (1, 2, 4, …)", 1, 64),
		"step":        duration("How long each rate is offered"),
		"startRate":   number("The first rate offered to one task, per second", 0.1, 20000),
	})
}
