package scenarios

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// This file holds the rules for the names a scenario gives the AWS
// resources meshsim creates (AWS's patterns and length limits) and for the
// other strings that reach a command line.

// MaxDuration is the longest duration a scenario may give a field, and
// MaxRollout the longest a rollout may last in wall time: a rehearsal is
// at most a day (use timeScale to rehearse ECS's longer bake times).
const (
	MaxDuration = 24 * time.Hour
	MaxRollout  = 24 * time.Hour
)

// namePattern is a name rule: a pattern and how to tell a user about it.
type namePattern struct {
	re   *regexp.Regexp
	rule string
}

var (
	// regionName is an AWS region code, such as us-east-1 or us-gov-west-1.
	regionName = namePattern{regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`),
		"an AWS region such as us-east-1"}
	// clusterName is ECS's rule for a cluster name (CreateCluster).
	clusterName = namePattern{regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`),
		"ECS takes 1-255 letters, digits, '-' and '_'"}
	// meshName is App Mesh's rule for a resource name.
	meshName = namePattern{regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`),
		"App Mesh takes 1-255 letters, digits, '-' and '_'"}
	// dnsLabel is one label of a DNS name (RFC 1123).
	dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	// healthPath is what a health check path may hold: it is written
	// unquoted into the container health check's shell command
	// (curl -f http://localhost:PORT/PATH || exit 1).
	healthPath = regexp.MustCompile(`^/[A-Za-z0-9._~/%:@+,=-]{0,511}$`)
	// percentEscape is a valid %XX escape.
	percentEscape = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
)

func (d *decoder) pattern(n *yaml.Node, field string, p namePattern, dst *string) {
	s, ok := d.scalar(n, field)
	if !ok {
		return
	}
	if !p.re.MatchString(s) {
		d.errorf(n, "%s %q: %s", field, s, p.rule)
		return
	}
	*dst = s
}

// checkNamespace checks a Cloud Map namespace name: a DNS name of at most
// 253 characters, as a private DNS namespace needs.
func checkNamespace(ns string) error {
	if len(ns) > 253 {
		return fmt.Errorf("it is %d characters long: a DNS name has at most 253", len(ns))
	}
	for _, label := range strings.Split(ns, ".") {
		if !dnsLabel.MatchString(label) {
			return fmt.Errorf("%q is not a DNS label: use 1-63 letters, digits and '-', not starting or ending with '-'", label)
		}
	}
	return nil
}

func (d *decoder) healthCheckPath(n *yaml.Node, dst *string) {
	s, ok := d.scalar(n, "services[].healthCheckPath")
	if !ok {
		return
	}
	if !healthPath.MatchString(s) || strings.Count(s, "%") != len(percentEscape.FindAllString(s, -1)) {
		d.errorf(n, "services[].healthCheckPath %q: the container health check runs `curl -f http://localhost:PORT%s`: "+
			"use a path of at most 512 letters, digits and / . _ ~ - : @ + , = and %%XX escapes (no quotes, spaces, query or shell characters)", s, s)
		return
	}
	*dst = s
}
