package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
)

// Namespaces is the Cloud Map that Service Connect uses: ECS resolves the
// namespace of a Service Connect configuration and makes a Cloud Map
// service for each of its discovery names, in which it registers the tasks
// (through the Registry).
type Namespaces interface {
	// NamespaceName returns the name of the namespace ref, given by name or
	// ARN. An *awsproto.Error with code NamespaceNotFound means there is
	// no such namespace.
	NamespaceName(ctx context.Context, ref string) (string, error)
	// ServiceConnectService returns the ARN of the service named name in
	// the namespace (a name), creating it, discoverable by API calls only,
	// if it does not exist.
	ServiceConnectService(ctx context.Context, namespace, name string) (string, error)
}

// ServiceConnectContainer is the name of the container ECS adds to every
// task of a Service Connect service: the Service Connect proxy, run from
// contract.SidecarImage and known to the control plane as the virtual node
// "mesh/<namespace name>/virtualNode/<ECS service name>".
const ServiceConnectContainer = "ecs-service-connect"

// Cloud Map attributes ECS adds to every instance it registers, besides
// AWS_INSTANCE_IPV4 and AWS_INSTANCE_PORT, so that a data plane can tell
// the revisions of a service apart.
const (
	AttrDeploymentID      = "ECS_DEPLOYMENT_ID"
	AttrTaskDefinitionARN = "ECS_TASK_DEFINITION_ARN"
)

const codeNamespaceNotFound = "NamespaceNotFoundException"

// Service Connect application protocols that meshsim's data plane serves.
var connectProtocols = []string{"http", "http2", "grpc"}

var (
	discoveryNameRE = regexp.MustCompile(`^[a-z0-9_][a-z0-9_-]{0,63}$`)
	dnsNameRE       = regexp.MustCompile(`^[a-z0-9_][a-z0-9_.-]{0,126}$`)
)

// serviceConnectConfiguration is a ServiceConnectConfiguration as clients
// send it.
type serviceConnectConfiguration struct {
	Enabled   bool                  `json:"enabled"`
	Namespace string                `json:"namespace"`
	Services  []serviceConnectInput `json:"services"`
}

type serviceConnectInput struct {
	PortName            string        `json:"portName"`
	DiscoveryName       string        `json:"discoveryName"`
	ClientAliases       []clientAlias `json:"clientAliases"`
	IngressPortOverride *int          `json:"ingressPortOverride"`
	Timeout             *struct {
		IdleTimeoutSeconds       *int `json:"idleTimeoutSeconds"`
		PerRequestTimeoutSeconds *int `json:"perRequestTimeoutSeconds"`
	} `json:"timeout"`
}

type clientAlias struct {
	Port             *int   `json:"port"`
	DNSName          string `json:"dnsName"`
	TestTrafficRules *struct {
		Header *struct {
			Name  string `json:"name"`
			Value *struct {
				Exact string `json:"exact"`
			} `json:"value"`
		} `json:"header"`
	} `json:"testTrafficRules"`
}

// ServiceConnect is the Service Connect configuration of an ECS service,
// resolved: the namespace by name, defaults filled in, and each service
// tied to its container port and Cloud Map service.
type ServiceConnect struct {
	// Namespace is the Cloud Map namespace's name.
	Namespace string
	// Services are the endpoints the ECS service offers; a client-only
	// service has none.
	Services []ServiceConnectService
}

// ServiceConnectService is one endpoint of a Service Connect service.
type ServiceConnectService struct {
	PortName string
	// DiscoveryName names the Cloud Map service (in Namespace) in which
	// the tasks are registered; DiscoveryARN is its ARN.
	DiscoveryName string
	DiscoveryARN  string
	// ContainerName and ContainerPort are where the port mapping PortName
	// is; AppProtocol is its appProtocol: http, http2 or grpc.
	ContainerName string
	ContainerPort uint32
	AppProtocol   string
	// IngressPort is the port the proxy receives the service's traffic on
	// (ingressPortOverride, else ContainerPort).
	IngressPort uint32
	// ClientAliases are the names and ports clients in the namespace use.
	ClientAliases []ClientAlias
	// PerRequestTimeout and IdleTimeout are the configured timeouts, in
	// real time (they are data-plane settings, never time-scaled); nil
	// when not configured, 0 when disabled.
	PerRequestTimeout *time.Duration
	IdleTimeout       *time.Duration
}

// ClientAlias is a name and port clients connect to.
type ClientAlias struct {
	Port    uint32
	DNSName string
	// TestTrafficHeader selects the requests that are test traffic (and
	// follow the test traffic weights); nil when there is no such rule.
	TestTrafficHeader *HeaderMatch
}

// HeaderMatch matches requests whose header Name is exactly Exact.
type HeaderMatch struct {
	Name  string
	Exact string
}

// clone returns a deep copy of sc.
func (sc *ServiceConnect) clone() *ServiceConnect {
	if sc == nil {
		return nil
	}
	c := &ServiceConnect{Namespace: sc.Namespace, Services: slices.Clone(sc.Services)}
	for i, s := range c.Services {
		c.Services[i].ClientAliases = slices.Clone(s.ClientAliases)
	}
	return c
}

// resolveServiceConnect validates a serviceConnectConfiguration against the
// task definition its tasks run and resolves it, creating the Cloud Map
// services of its discovery names. It returns nil when raw is absent or
// Service Connect is not enabled. Callers hold f.mu.
func (f *Fake) resolveServiceConnect(c *cluster, raw json.RawMessage, td *taskDef) (*ServiceConnect, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var in serviceConnectConfiguration
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, invalidParameter("serviceConnectConfiguration: %v", err)
	}
	if !in.Enabled {
		return nil, nil
	}
	nsRef := in.Namespace
	if nsRef == "" {
		var defaults struct {
			Namespace string `json:"namespace"`
		}
		_ = json.Unmarshal(c.in.ServiceConnectDefaults, &defaults) // absent or malformed: no default
		nsRef = defaults.Namespace
	}
	if nsRef == "" {
		return nil, invalidParameter("serviceConnectConfiguration.namespace is required when the cluster has no Service Connect default namespace.")
	}
	if f.opts.Namespaces == nil {
		return nil, invalidParameter("serviceConnectConfiguration: this meshsim ECS has no Cloud Map for Service Connect.")
	}

	out := &ServiceConnect{}
	seen := map[string]bool{}
	for i, s := range in.Services {
		cs, err := connectService(i, s, td)
		if err != nil {
			return nil, err
		}
		if seen[cs.DiscoveryName] {
			return nil, invalidParameter("serviceConnectConfiguration.services[%d]: discoveryName %s is used twice.", i, cs.DiscoveryName)
		}
		seen[cs.DiscoveryName] = true
		out.Services = append(out.Services, cs)
	}

	if len(out.Services) > 0 && f.opts.Registry == nil {
		return nil, invalidParameter("serviceConnectConfiguration: this meshsim ECS has no Cloud Map to register tasks in.")
	}
	ctx := f.ctx
	name, err := f.opts.Namespaces.NamespaceName(ctx, nsRef)
	if err != nil {
		return nil, namespaceError(nsRef, err)
	}
	out.Namespace = name
	for i := range out.Services {
		s := &out.Services[i]
		arn, err := f.opts.Namespaces.ServiceConnectService(ctx, name, s.DiscoveryName)
		if err != nil {
			return nil, namespaceError(nsRef, err)
		}
		s.DiscoveryARN = arn
		for j := range s.ClientAliases {
			if s.ClientAliases[j].DNSName == "" {
				s.ClientAliases[j].DNSName = s.DiscoveryName + "." + name
			}
		}
	}
	return out, nil
}

// connectService validates services[i] of a Service Connect configuration
// against the task definition.
func connectService(i int, in serviceConnectInput, td *taskDef) (ServiceConnectService, error) {
	var out ServiceConnectService
	if in.PortName == "" {
		return out, invalidParameter("serviceConnectConfiguration.services[%d].portName is required.", i)
	}
	var pm *portMapping
	for _, c := range td.containers {
		for j := range c.PortMappings {
			if c.PortMappings[j].Name == in.PortName {
				pm, out.ContainerName = &c.PortMappings[j], c.Name
			}
		}
	}
	if pm == nil {
		return out, invalidParameter("The port name %s in serviceConnectConfiguration.services[%d] does not match a portMappings name in task definition %s.", in.PortName, i, td.arn)
	}
	if !slices.Contains(connectProtocols, pm.AppProtocol) {
		return out, invalidParameter("Port mapping %s of task definition %s has appProtocol %q; Service Connect in meshsim needs http, http2 or grpc.", in.PortName, td.arn, pm.AppProtocol)
	}
	out.PortName = in.PortName
	out.AppProtocol = pm.AppProtocol
	out.ContainerPort = uint32(*pm.ContainerPort)
	out.IngressPort = out.ContainerPort
	if p := in.IngressPortOverride; p != nil {
		if *p < 1 || *p > 65535 {
			return out, invalidParameter("serviceConnectConfiguration.services[%d].ingressPortOverride must be between 1 and 65535.", i)
		}
		out.IngressPort = uint32(*p)
	}
	out.DiscoveryName = in.DiscoveryName
	if out.DiscoveryName == "" {
		out.DiscoveryName = in.PortName
	}
	if !discoveryNameRE.MatchString(out.DiscoveryName) {
		return out, invalidParameter("serviceConnectConfiguration.services[%d].discoveryName %q must be up to 64 lowercase letters, numbers, underscores and hyphens, not starting with a hyphen.", i, out.DiscoveryName)
	}
	if len(in.ClientAliases) > 1 {
		return out, invalidParameter("serviceConnectConfiguration.services[%d].clientAliases can have at most 1 alias.", i)
	}
	for j, a := range in.ClientAliases {
		if a.Port == nil || *a.Port < 1 || *a.Port > 65535 {
			return out, invalidParameter("serviceConnectConfiguration.services[%d].clientAliases[%d].port must be between 1 and 65535.", i, j)
		}
		if a.DNSName != "" && !dnsNameRE.MatchString(a.DNSName) {
			return out, invalidParameter("serviceConnectConfiguration.services[%d].clientAliases[%d].dnsName %q must be a DNS name of up to 127 lowercase letters, numbers, underscores, hyphens and periods, not starting with a hyphen.", i, j, a.DNSName)
		}
		alias := ClientAlias{Port: uint32(*a.Port), DNSName: a.DNSName}
		if r := a.TestTrafficRules; r != nil {
			if r.Header == nil || r.Header.Name == "" {
				return out, invalidParameter("serviceConnectConfiguration.services[%d].clientAliases[%d].testTrafficRules.header.name is required.", i, j)
			}
			m := HeaderMatch{Name: r.Header.Name}
			if r.Header.Value != nil {
				m.Exact = r.Header.Value.Exact
			}
			alias.TestTrafficHeader = &m
		}
		out.ClientAliases = append(out.ClientAliases, alias)
	}
	if t := in.Timeout; t != nil {
		for name, v := range map[string]*int{"idleTimeoutSeconds": t.IdleTimeoutSeconds, "perRequestTimeoutSeconds": t.PerRequestTimeoutSeconds} {
			if v != nil && *v < 0 {
				return out, invalidParameter("serviceConnectConfiguration.services[%d].timeout.%s must be 0 or more.", i, name)
			}
		}
		out.IdleTimeout = seconds(t.IdleTimeoutSeconds)
		out.PerRequestTimeout = seconds(t.PerRequestTimeoutSeconds)
	}
	return out, nil
}

// seconds turns optional seconds into an optional duration.
func seconds(n *int) *time.Duration {
	if n == nil {
		return nil
	}
	d := time.Duration(*n) * time.Second
	return &d
}

// namespaceError turns an error of Namespaces into the ECS error.
func namespaceError(ref string, err error) error {
	var ae *awsproto.Error
	if errors.As(err, &ae) && ae.Code == "NamespaceNotFound" {
		return awsproto.Errorf(http.StatusBadRequest, codeNamespaceNotFound, "Namespace %s not found.", ref)
	}
	return invalidParameter("serviceConnectConfiguration: Cloud Map: %v", err)
}

// connectContainer returns the Service Connect proxy container ECS adds to
// the tasks of service s under the Service Connect configuration sc.
func (f *Fake) connectContainer(s *service, sc *ServiceConnect) ContainerSpec {
	return ContainerSpec{
		Name:      ServiceConnectContainer,
		Image:     contract.SidecarImage,
		Essential: true,
		Env:       map[string]string{contract.EnvVirtualNodeName: contract.NodeID(sc.Namespace, s.name)},
		// The proxy's listeners and its admin port, so that a runtime
		// gives the task an address where they are free.
		Ports: []PortMapping{
			{ContainerPort: contract.IngressPort, Protocol: "tcp"},
			{ContainerPort: contract.EgressPort, Protocol: "tcp"},
			{ContainerPort: contract.AdminPort, Protocol: "tcp"},
		},
		StopTimeout: f.seconds(30),
	}
}
