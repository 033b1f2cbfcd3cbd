package cloudmap

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/meshsim/meshsim/sim/awsproto"
)

// Patterns from the servicediscovery model. They are compiled once and never
// change.
var (
	namespaceNamePattern = regexp.MustCompile(`^[!-~]+$`)
	// serviceNamePattern is the model's pattern without its length lookahead
	// (1 to 127 characters), which validateServiceName checks.
	serviceNamePattern = regexp.MustCompile(`^([a-zA-Z0-9_][a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_]|[a-zA-Z0-9])(\.([a-zA-Z0-9_][a-zA-Z0-9_-]{0,61}[a-zA-Z0-9_]|[a-zA-Z0-9]))*$`)
	instanceIDPattern  = regexp.MustCompile(`^[0-9a-zA-Z_/:.@-]+$`)
)

func validateNamespaceName(name string, max int) error {
	if name == "" {
		return invalidInput("Name is required")
	}
	if len(name) > max || !namespaceNamePattern.MatchString(name) {
		return invalidInput("Name %q is not a valid namespace name (1 to %d printable characters, no spaces)", name, max)
	}
	return nil
}

func validateServiceName(name string) error {
	if name == "" {
		return invalidInput("Name is required")
	}
	if name != "." && (len(name) > 127 || !serviceNamePattern.MatchString(name)) {
		return invalidInput("Name %q is not a valid service name (DNS labels of letters, digits, '_' and '-', up to 127 characters)", name)
	}
	return nil
}

// validateTags checks the Tags of a create call against the model: at most
// 200 tags, keys of 1 to 128 characters, values of at most 256.
func validateTags(tags []tag) error {
	if len(tags) > 200 {
		return &awsproto.Error{Status: http.StatusBadRequest, Code: "TooManyTagsException",
			Message: fmt.Sprintf("%d tags given; a resource can have at most 200", len(tags))}
	}
	for i, t := range tags {
		if n := utf8.RuneCountInString(t.Key); n < 1 || n > 128 {
			return invalidInput("Tags[%d].Key must be 1 to 128 characters long, not %d", i, n)
		}
		if n := utf8.RuneCountInString(t.Value); n > 256 {
			return invalidInput("Tags[%d].Value must be at most 256 characters long, not %d", i, n)
		}
	}
	return nil
}

func validateDescription(d string) error {
	if len(d) > 1024 {
		return invalidInput("Description is longer than 1024 characters")
	}
	return nil
}

func validateInstanceID(id string) error {
	if id == "" {
		return invalidInput("InstanceId is required")
	}
	if len(id) > 64 || !instanceIDPattern.MatchString(id) {
		return invalidInput("InstanceId %q is not valid (up to 64 of 0-9 a-z A-Z _ / : . @ -)", id)
	}
	return nil
}

func validateDNSConfig(dc *dnsConfig) error {
	switch dc.RoutingPolicy {
	case "", "MULTIVALUE", "WEIGHTED":
	default:
		return invalidInput("DnsConfig.RoutingPolicy must be MULTIVALUE or WEIGHTED, not %q", dc.RoutingPolicy)
	}
	if len(dc.DNSRecords) == 0 {
		return invalidInput("DnsConfig.DnsRecords needs at least one record")
	}
	for i, rec := range dc.DNSRecords {
		switch rec.Type {
		case "A", "AAAA", "SRV", "CNAME":
		default:
			return invalidInput("DnsConfig.DnsRecords[%d].Type must be A, AAAA, SRV or CNAME, not %q", i, rec.Type)
		}
		if rec.TTL == nil || *rec.TTL < 0 || *rec.TTL > 2147483647 {
			return invalidInput("DnsConfig.DnsRecords[%d].TTL is required, between 0 and 2147483647", i)
		}
		if rec.Type == "CNAME" && (len(dc.DNSRecords) > 1 || dc.RoutingPolicy == "MULTIVALUE") {
			return invalidInput("a CNAME record must be the only record, with RoutingPolicy WEIGHTED")
		}
	}
	return nil
}

// validateAttributes checks the attributes of a registration as Cloud Map
// does: sizes, the format of the AWS_ attributes, and the attributes the
// service's DNS records need.
func validateAttributes(svc *service, attrs map[string]string) error {
	if attrs == nil {
		return invalidInput("Attributes is required")
	}
	for _, check := range []func() error{
		func() error { return validateAttributeSizes(attrs) },
		func() error { return validateAWSAttributes(attrs) },
		func() error { return validateRecordAttributes(svc, attrs) },
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// validateAttributeSizes checks the keys' and values' lengths, the number
// of custom attributes and the total size.
func validateAttributeSizes(attrs map[string]string) error {
	custom, total := 0, 0
	for _, k := range sortedKeys(attrs) {
		v := attrs[k]
		if k == "" || len(k) > 255 {
			return invalidInput("attribute key %q must be 1 to 255 characters", k)
		}
		if len(v) > 1024 {
			return invalidInput("value of attribute %s is longer than 1024 characters", k)
		}
		total += len(k) + len(v)
		switch k {
		case AttrIPv4, AttrIPv6, AttrPort, AttrCNAME, AttrInitHealthStatus, AttrEC2InstanceID, AttrAliasDNSName:
		default:
			custom++
		}
	}
	if custom > 30 {
		return invalidInput("an instance can have at most 30 custom attributes, not %d", custom)
	}
	if total > 5000 {
		return invalidInput("attributes total %d characters; the limit is 5000", total)
	}
	return nil
}

// validateAWSAttributes checks the format of the AWS_ attributes given.
func validateAWSAttributes(attrs map[string]string) error {
	if v, ok := attrs[AttrIPv4]; ok {
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
			return invalidInput("%s %q is not an IPv4 address", AttrIPv4, v)
		}
	}
	if v, ok := attrs[AttrIPv6]; ok {
		if a, err := netip.ParseAddr(v); err != nil || !a.Is6() || a.Is4In6() {
			return invalidInput("%s %q is not an IPv6 address", AttrIPv6, v)
		}
	}
	if v, ok := attrs[AttrPort]; ok {
		if p, err := strconv.Atoi(v); err != nil || p < 0 || p > 65535 {
			return invalidInput("%s %q is not a port number (0 to 65535)", AttrPort, v)
		}
	}
	if v, ok := attrs[AttrInitHealthStatus]; ok && v != Healthy && v != Unhealthy {
		return invalidInput("%s must be HEALTHY or UNHEALTHY, not %q", AttrInitHealthStatus, v)
	}
	if _, ok := attrs[AttrAliasDNSName]; ok {
		for k := range attrs {
			if strings.HasPrefix(k, "AWS_INSTANCE_") {
				return invalidInput("%s cannot be combined with %s", AttrAliasDNSName, k)
			}
		}
	}
	return nil
}

// validateRecordAttributes checks that the instance has the attributes
// the service's DNS records need.
func validateRecordAttributes(svc *service, attrs map[string]string) error {
	if svc.dnsConfig == nil {
		return nil
	}
	has := func(k string) bool { _, ok := attrs[k]; return ok }
	for _, rec := range svc.dnsConfig.DNSRecords {
		var missing string
		switch {
		case rec.Type == "A" && !has(AttrIPv4):
			missing = AttrIPv4
		case rec.Type == "AAAA" && !has(AttrIPv6):
			missing = AttrIPv6
		case rec.Type == "CNAME" && !has(AttrCNAME):
			missing = AttrCNAME
		case rec.Type == "SRV" && !has(AttrPort):
			missing = AttrPort
		case rec.Type == "SRV" && !has(AttrIPv4) && !has(AttrIPv6):
			missing = AttrIPv4 + " or " + AttrIPv6
		}
		if missing != "" {
			return invalidInput("service %s has a %s record, so the instance needs %s", svc.id, rec.Type, missing)
		}
	}
	return nil
}

// validateHealthCheckConfig checks a Route 53 health check configuration
// against the model: a Type of HTTP, HTTPS or TCP, a ResourcePath (not for
// TCP) of at most 255 characters, a FailureThreshold of 1 to 10.
func validateHealthCheckConfig(c *healthCheckConfig) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "HTTP", "HTTPS":
	case "TCP":
		if c.ResourcePath != "" {
			return invalidInput("HealthCheckConfig.ResourcePath cannot be set for a TCP health check")
		}
	default:
		return invalidInput("HealthCheckConfig.Type must be HTTP, HTTPS or TCP, not %q", c.Type)
	}
	if len(c.ResourcePath) > 255 {
		return invalidInput("HealthCheckConfig.ResourcePath is longer than 255 characters")
	}
	if t := c.FailureThreshold; t != nil && (*t < 1 || *t > 10) {
		return invalidInput("HealthCheckConfig.FailureThreshold must be between 1 and 10")
	}
	return nil
}
