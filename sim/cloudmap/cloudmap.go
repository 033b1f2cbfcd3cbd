// Package cloudmap is a fake of AWS Cloud Map (the servicediscovery API):
// HTTP and private DNS namespaces, services, instances with attributes and
// custom health, DiscoverInstances, and the asynchronous operations that AWS
// reports for mutations.
//
// The fake speaks JSON 1.1 with X-Amz-Target Route53AutoNaming_v20170314.<Op>
// and Cloud Map's error shapes, so aws-sdk-go-v2, the AWS CLI and boto3 talk
// to it unchanged. The rest of sim uses a small Go API with the same
// validation and effects: the ECS fake registers and deregisters tasks, and
// the xDS wiring reads the instances of a service.
package cloudmap

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

// TargetPrefix is the X-Amz-Target prefix of the Cloud Map API; mount the fake
// with endpoint.HandleTarget(cloudmap.TargetPrefix, f).
const TargetPrefix = "Route53AutoNaming_v20170314"

// The instance attributes Cloud Map gives a meaning to.
const (
	AttrIPv4             = "AWS_INSTANCE_IPV4"
	AttrIPv6             = "AWS_INSTANCE_IPV6"
	AttrPort             = "AWS_INSTANCE_PORT"
	AttrCNAME            = "AWS_INSTANCE_CNAME"
	AttrInitHealthStatus = "AWS_INIT_HEALTH_STATUS"
	AttrEC2InstanceID    = "AWS_EC2_INSTANCE_ID"
	AttrAliasDNSName     = "AWS_ALIAS_DNS_NAME"
)

// Health statuses of an instance.
const (
	Healthy   = "HEALTHY"
	Unhealthy = "UNHEALTHY"
	Unknown   = "UNKNOWN"
)

// Options configure a Fake.
type Options struct {
	// Bus receives the fake's events (Source "cloudmap"); nil drops them.
	Bus *events.Bus
	// OperationDelay is how long an asynchronous operation (creating or
	// deleting a namespace, registering or deregistering an instance) stays
	// SUBMITTED before it is applied, like Cloud Map's propagation delay.
	// Zero applies the change before the call returns, and GetOperation
	// reports SUCCESS at once.
	OperationDelay time.Duration
}

// OperationHistory is how many finished operations GetOperation still
// answers; older ones are forgotten (OperationNotFound), and so are the
// CreatorRequestIds of the registrations they made.
const OperationHistory = 10000

// Instance is a registered instance as DiscoverInstances reports it.
type Instance struct {
	// ID is the instance id given at registration (for ECS, the task id).
	ID string
	// IPv4 is the AWS_INSTANCE_IPV4 attribute, or empty.
	IPv4 string
	// Port is the AWS_INSTANCE_PORT attribute, or 0.
	Port int
	// HealthStatus is HEALTHY or UNHEALTHY in a service with a custom health
	// check, and UNKNOWN in a service without one, as in AWS.
	HealthStatus string
	// Attributes are all attributes of the instance.
	Attributes map[string]string
}

// Fake is an in-memory Cloud Map. It is safe for concurrent use. Create it
// with New and release it with Close.
type Fake struct {
	api   *awsproto.JSONRPC
	bus   *events.Bus
	delay time.Duration
	now   func() time.Time

	mu         sync.Mutex
	seq        uint64 // orders namespaces and services by creation
	opSeq      uint64 // orders operations by submission
	namespaces map[string]*namespace
	services   map[string]*service
	operations map[string]*operation
	// registerTokens maps the CreatorRequestId of RegisterInstance calls to
	// their operation, so that a retried call is not applied twice.
	registerTokens map[string]string
	// updateTokens maps the UpdaterRequestId of namespace updates to their
	// operation, likewise.
	updateTokens map[string]string
	queue        []*operation // pending operations, in due order
	// finished holds the ids of finished operations, oldest first; beyond
	// opLimit of them the oldest are forgotten, as AWS forgets old
	// operations, so the history stays bounded however long the run.
	finished []string
	opLimit  int
	changes  events.Changes

	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New returns an empty Cloud Map. When opts.OperationDelay is positive, a
// goroutine applies operations when they fall due; Close stops it.
func New(opts Options) *Fake {
	f := &Fake{
		bus:            opts.Bus,
		delay:          opts.OperationDelay,
		now:            time.Now,
		namespaces:     make(map[string]*namespace),
		services:       make(map[string]*service),
		operations:     make(map[string]*operation),
		registerTokens: make(map[string]string),
		updateTokens:   make(map[string]string),
		opLimit:        OperationHistory,
		wake:           make(chan struct{}, 1),
		done:           make(chan struct{}),
	}
	f.handle()
	if f.delay > 0 {
		f.wg.Add(1)
		go f.run()
	}
	return f
}

// Close stops applying pending operations and closes every Watch channel.
// Operations still pending stay SUBMITTED. Close is idempotent.
func (f *Fake) Close() error {
	f.closeOnce.Do(func() {
		close(f.done)
		f.wg.Wait()
		f.changes.Close()
	})
	return nil
}

// Watch returns a channel that receives a value after the fake's state
// changes (namespaces, services, instances, health). Notifications coalesce:
// the channel has a buffer of one, so a slow reader sees one value for many
// changes. Call Watch before reading the state, then re-read on every value.
// The channel is closed when ctx ends or the fake is closed.
func (f *Fake) Watch(ctx context.Context) <-chan struct{} {
	return f.changes.Watch(ctx)
}

// emit publishes an event on the bus, if there is one.
func (f *Fake) emit(typ contract.EventType, resource string, detail map[string]string) {
	if f.bus == nil {
		return
	}
	f.bus.Emit(events.Event{Source: contract.SourceCloudMap, Type: typ, Resource: resource, Detail: detail})
}

// RegisterInstance registers (or re-registers, replacing its attributes) an
// instance of a service, as the RegisterInstance API does: serviceID is a
// service id or ARN, attrs are validated as AWS does, and the change is applied
// when the operation succeeds (at once unless Options.OperationDelay is set).
// Errors are *awsproto.Error with Cloud Map's codes.
func (f *Fake) RegisterInstance(ctx context.Context, serviceID, instanceID string, attrs map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.registerInstance(serviceID, instanceID, "", attrs)
	return err
}

// DeregisterInstance removes an instance from a service, as the
// DeregisterInstance API does.
func (f *Fake) DeregisterInstance(ctx context.Context, serviceID, instanceID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.deregisterInstance(serviceID, instanceID)
	return err
}

// UpdateInstanceCustomHealthStatus sets the health (HEALTHY or UNHEALTHY) of
// an instance of a service that has a custom health check, as the
// UpdateInstanceCustomHealthStatus API does.
func (f *Fake) UpdateInstanceCustomHealthStatus(ctx context.Context, serviceID, instanceID, status string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updateHealth(serviceID, instanceID, status)
}

// Instances returns the instances that DiscoverInstances with HealthStatus
// HEALTHY returns for the service serviceName in the namespace namespaceName:
// the healthy ones, or all of them when the service has no health check. They
// are ordered by instance id. Errors are NamespaceNotFound and ServiceNotFound.
func (f *Fake) Instances(namespaceName, serviceName string) ([]Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	found, _, err := f.discover(namespaceName, serviceName, Healthy, nil, nil)
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(found))
	for _, fi := range found {
		inst := Instance{
			ID:           fi.inst.id,
			IPv4:         fi.inst.attrs[AttrIPv4],
			HealthStatus: fi.health,
			Attributes:   copyMap(fi.inst.attrs),
		}
		if p, err := strconv.Atoi(fi.inst.attrs[AttrPort]); err == nil {
			inst.Port = p
		}
		out = append(out, inst)
	}
	return out, nil
}

// ServeHTTP implements the Cloud Map JSON 1.1 API.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.api.ServeHTTP(w, r) }

// Operations returns the names of the operations the fake serves, sorted.
func (f *Fake) Operations() []string { return f.api.Operations() }

// handle registers the Cloud Map operations with the dispatcher.
func (f *Fake) handle() {
	f.api = &awsproto.JSONRPC{Service: "Cloud Map", TargetPrefix: TargetPrefix, MessageKey: "Message",
		BadRequest: "InvalidInput", Internal: "InternalFailure"}
	for op, h := range map[string]awsproto.Handler{
		"CreateHttpNamespace":              f.apiCreateHTTPNamespace,
		"CreatePrivateDnsNamespace":        f.apiCreatePrivateDNSNamespace,
		"CreatePublicDnsNamespace":         f.apiCreatePublicDNSNamespace,
		"GetNamespace":                     f.apiGetNamespace,
		"ListNamespaces":                   f.apiListNamespaces,
		"DeleteNamespace":                  f.apiDeleteNamespace,
		"UpdateHttpNamespace":              f.apiUpdateHTTPNamespace,
		"UpdatePrivateDnsNamespace":        f.apiUpdatePrivateDNSNamespace,
		"UpdatePublicDnsNamespace":         f.apiUpdatePublicDNSNamespace,
		"CreateService":                    f.apiCreateService,
		"GetService":                       f.apiGetService,
		"ListServices":                     f.apiListServices,
		"DeleteService":                    f.apiDeleteService,
		"UpdateService":                    f.apiUpdateService,
		"GetServiceAttributes":             f.apiGetServiceAttributes,
		"UpdateServiceAttributes":          f.apiUpdateServiceAttributes,
		"DeleteServiceAttributes":          f.apiDeleteServiceAttributes,
		"RegisterInstance":                 f.apiRegisterInstance,
		"DeregisterInstance":               f.apiDeregisterInstance,
		"GetInstance":                      f.apiGetInstance,
		"ListInstances":                    f.apiListInstances,
		"DiscoverInstances":                f.apiDiscoverInstances,
		"DiscoverInstancesRevision":        f.apiDiscoverInstancesRevision,
		"UpdateInstanceCustomHealthStatus": f.apiUpdateInstanceCustomHealthStatus,
		"GetInstancesHealthStatus":         f.apiGetInstancesHealthStatus,
		"GetOperation":                     f.apiGetOperation,
		"ListOperations":                   f.apiListOperations,
		"ListTagsForResource":              f.apiListTagsForResource,
		"TagResource":                      f.apiTagResource,
		"UntagResource":                    f.apiUntagResource,
	} {
		f.api.Handle(op, h)
	}
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
