// Package ecs is meshsim's fake of the Amazon ECS API: clusters, task
// definitions, services with deployments (ROLLING, BLUE_GREEN, LINEAR and
// CANARY, with lifecycle hooks, the deployment circuit breaker and
// rollback, observable as service deployments and service revisions),
// Service Connect, and tasks with ECS's lifecycle, spoken in JSON 1.1 as
// AWS does, so that real aws-sdk-go-v2 clients (and the AWS CLI, boto3,
// Terraform) can drive it.
//
// The fake is a control plane: its scheduler decides which tasks should run
// and asks a Runtime to start and stop them, as ECS asks its agent; it
// registers service tasks in a Registry (Cloud Map). It never knows how
// tasks run, nor carries traffic: it decides how traffic is split between
// the revisions of a service, and TrafficState and Watch tell the data
// plane.
//
// # Layout
//
// The package is split by layer, one prefix per layer, so that a change
// touches the layer it is about:
//
//   - wire_*.go, the wire layer: the JSON shapes of requests and responses
//     (wire_shapes.go), the check of every request against the API model
//     and the report of the members the fake ignores (wire_check.go,
//     wire_honoured.go), the encoding of the state into responses
//     (wire_encode.go) and paging (wire_page.go). Dispatch is
//     awsproto.JSONRPC's, shared with the other fakes (ecs.go registers the
//     operations).
//   - api_*.go, the operations: one method per ECS operation, which
//     validates its input as ECS does and reads or changes the state.
//   - state*.go, the state: clusters, task definitions, services, their
//     deployments and revisions, tasks (state.go); lookups by name or ARN
//     (state_lookup.go); limits and retention.
//   - ctl_*.go, the controllers that move the state on their own: the
//     service scheduler (ctl_scheduler.go), the task lifecycle
//     (ctl_task.go), deployments (ctl_deployments.go, ctl_strategy.go,
//     ctl_shift.go), lifecycle hooks (ctl_hooks.go), Service Connect
//     (ctl_serviceconnect.go) and the traffic split (ctl_traffic.go).
//   - runtime.go and clock.go: what the fake needs from outside (a Runtime,
//     a Registry, a Clock).
//
// These are files of one package rather than subpackages because the state
// is one graph (a task points at its service, deployment, revision and
// task definition) guarded by one mutex, which the operations and the
// controllers take and change in place: subpackages would have to export
// that graph's internals to each other, or copy it at every boundary.
package ecs

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	smithy "github.com/aws/smithy-go"

	"github.com/meshsim/meshsim/sim/awsproto"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/events"
)

// TargetPrefix is the X-Amz-Target prefix of the ECS API.
const TargetPrefix = "AmazonEC2ContainerServiceV20141113"

// Options configure a Fake. Zero durations take the defaults given.
type Options struct {
	// Bus receives the fake's events (Source "ecs"): contract.EventTaskState,
	// contract.EventServiceEvent, contract.EventDeploymentState (deployments[] entries),
	// "servicedeployment.state", contract.EventDeploymentStage (lifecycle stages),
	// contract.EventDeploymentTraffic (traffic weights), contract.EventHookInvoked,
	// contract.EventHookResult, contract.EventTaskError. May be nil.
	Bus *events.Bus
	// Runtime runs the tasks. Without one, every task fails to start.
	Runtime Runtime
	// Registry is where tasks of services with serviceRegistries or
	// Service Connect are registered. Without one, such services cannot be
	// created.
	Registry Registry
	// LoadBalancers is the ELBv2 that services with loadBalancers register
	// their tasks in (see ctl_loadbalancers.go). Without one, a service's
	// loadBalancers are accepted and echoed to no effect.
	LoadBalancers LoadBalancers
	// Namespaces resolves the namespaces of Service Connect configurations
	// and makes their Cloud Map services. Without it, services cannot use
	// Service Connect.
	Namespaces Namespaces
	// Hooks runs the AWS_LAMBDA lifecycle hooks of deployments. Without
	// it, such hooks fail, and their deployments roll back.
	Hooks HookRunner
	// Alarms reads the CloudWatch alarms that deployments watch
	// (deploymentConfiguration.alarms); tell the fake of their changes with
	// AlarmChanged. Without it, deployments watch their alarms but only
	// AlarmChanged can fire them.
	Alarms AlarmStates

	// Clock tells the time and makes the timers. Default: the real clock.
	Clock Clock

	// Second is how long one second of ECS time lasts: the health check
	// interval, timeout and start period, stopTimeout, and
	// DeregistrationDelay. Default time.Second; a time scale shortens it.
	Second time.Duration
	// Minute is how long one minute of ECS time lasts: bake times and
	// lifecycle hook timeouts. Default 60 × Second.
	Minute time.Duration
	// ReconcileInterval is how often the scheduler looks at every service
	// even when nothing changed. Default 1 s.
	ReconcileInterval time.Duration
	// ProvisionDelay is how long a task stays PROVISIONING (ECS attaching
	// the task's network interface). Default 0.
	ProvisionDelay time.Duration
	// DeregistrationDelay is how long, in ECS time (scaled as Second is), a
	// task stays DEACTIVATING after it is deregistered from Cloud Map,
	// before its containers get SIGTERM, so that clients stop sending to it.
	// Default 0.
	DeregistrationDelay time.Duration
	// RestartBackoff is how long a service waits before it launches again
	// after a task failed; it doubles with each consecutive failure up to 32
	// times itself. Default 1 s.
	RestartBackoff time.Duration
	// StoppedTaskRetention is how long, in ECS time (scaled as Second is),
	// STOPPED tasks stay visible. Default 1 h, as in ECS.
	StoppedTaskRetention time.Duration
	// InactiveServiceRetention is how long, in ECS time (scaled as Second
	// is), an INACTIVE service stays visible to DescribeServices, with its
	// service deployments and revisions, before the fake forgets it. ECS
	// purges INACTIVE services at a time it does not state. Default 1 h.
	InactiveServiceRetention time.Duration
	// MaxTasks bounds the tasks the fake runs: the desiredCount of all
	// ACTIVE services together. CreateService and UpdateService beyond it
	// fail with a LimitExceededException. Default 1000. Each service is
	// also bounded by ECS's quota of 5,000 tasks per service.
	MaxTasks int
	// TaskLaunchRate is how many tasks a service launches per minute of
	// ECS time (scaled as Minute is), at most, in bursts of a tenth of it:
	// ECS throttles task launches (500 per minute per service on Fargate).
	// Default 500.
	TaskLaunchRate int
}

// maxDesiredCount is ECS's quota of tasks per service.
const maxDesiredCount = 5000

func (o *Options) setDefaults() {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Second <= 0 {
		o.Second = time.Second
	}
	if o.Minute <= 0 {
		o.Minute = 60 * o.Second
	}
	if o.ReconcileInterval <= 0 {
		o.ReconcileInterval = time.Second
	}
	if o.RestartBackoff <= 0 {
		o.RestartBackoff = time.Second
	}
	if o.StoppedTaskRetention <= 0 {
		o.StoppedTaskRetention = time.Hour
	}
	if o.InactiveServiceRetention <= 0 {
		o.InactiveServiceRetention = time.Hour
	}
	if o.MaxTasks <= 0 {
		o.MaxTasks = contract.DefaultMaxTasks
	}
	if o.TaskLaunchRate <= 0 {
		o.TaskLaunchRate = 500
	}
}

// Fake is the ECS API fake. It is an http.Handler for the JSON 1.1 requests
// whose X-Amz-Target starts with TargetPrefix.
type Fake struct {
	opts Options
	api  *awsproto.JSONRPC

	mu                 sync.Mutex
	clusters           map[string]*cluster           // by ARN
	families           map[string]*family            // by region + "/" + family name
	serviceDeployments map[string]*serviceDeployment // by ARN
	revisions          map[string]*serviceRevision   // by ARN
	capacityProviders  map[string]*capacityProvider  // by region + "/" + name
	accountSettings    map[string]map[string]string  // by region + "/" + principal, then name
	taskSeq            uint64                        // tasks launched so far
	closed             bool
	changes            events.Changes        // tells the watchers of traffic changes
	dirty              map[*service]struct{} // services to reconcile soon
	stoppedTasks       queue[*task]          // STOPPED tasks, oldest first
	inactiveServices   queue[*service]       // INACTIVE services, oldest first

	kickc     chan struct{}
	ctx       context.Context // canceled once every task has stopped
	cancel    context.CancelFunc
	stopLoop  context.CancelFunc
	loopDone  chan struct{}
	taskGroup sync.WaitGroup
	// runCtx ends the goroutines that run deployments and hooks (runners)
	// when the fake closes.
	runCtx   context.Context
	stopRuns context.CancelFunc
	runners  sync.WaitGroup
}

// New returns a Fake and starts its scheduler. Call Close to stop it.
func New(opts Options) *Fake {
	opts.setDefaults()
	f := &Fake{
		opts:               opts,
		clusters:           make(map[string]*cluster),
		families:           make(map[string]*family),
		serviceDeployments: make(map[string]*serviceDeployment),
		revisions:          make(map[string]*serviceRevision),
		capacityProviders:  make(map[string]*capacityProvider),
		accountSettings:    make(map[string]map[string]string),
		dirty:              make(map[*service]struct{}),
		kickc:              make(chan struct{}, 1),
		loopDone:           make(chan struct{}),
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.runCtx, f.stopRuns = context.WithCancel(context.Background())
	f.api = &awsproto.JSONRPC{Service: "ECS", TargetPrefix: TargetPrefix, MessageKey: "message",
		BadRequest: codeInvalidParameter, Internal: "ServerException"}
	f.api.Handle("CreateCluster", op(f, schemas.CreateClusterRequest, f.createCluster))
	f.api.Handle("DescribeClusters", op(f, schemas.DescribeClustersRequest, f.describeClusters))
	f.api.Handle("ListClusters", op(f, schemas.ListClustersRequest, f.listClusters))
	f.api.Handle("DeleteCluster", op(f, schemas.DeleteClusterRequest, f.deleteCluster))
	f.api.Handle("RegisterTaskDefinition", op(f, schemas.RegisterTaskDefinitionRequest, f.registerTaskDefinition))
	f.api.Handle("DescribeTaskDefinition", op(f, schemas.DescribeTaskDefinitionRequest, f.describeTaskDefinition))
	f.api.Handle("DeregisterTaskDefinition", op(f, schemas.DeregisterTaskDefinitionRequest, f.deregisterTaskDefinition))
	f.api.Handle("DeleteTaskDefinitions", op(f, schemas.DeleteTaskDefinitionsRequest, f.deleteTaskDefinitions))
	f.api.Handle("CreateService", op(f, schemas.CreateServiceRequest, f.createService))
	f.api.Handle("UpdateService", op(f, schemas.UpdateServiceRequest, f.updateService))
	f.api.Handle("DescribeServices", op(f, schemas.DescribeServicesRequest, f.describeServices))
	f.api.Handle("ListServices", op(f, schemas.ListServicesRequest, f.listServices))
	f.api.Handle("DeleteService", op(f, schemas.DeleteServiceRequest, f.deleteService))
	f.api.Handle("ListTasks", op(f, schemas.ListTasksRequest, f.listTasks))
	f.api.Handle("DescribeTasks", op(f, schemas.DescribeTasksRequest, f.describeTasks))
	f.api.Handle("StopTask", op(f, schemas.StopTaskRequest, f.stopTask))
	f.api.Handle("ListServiceDeployments", op(f, schemas.ListServiceDeploymentsRequest, f.listServiceDeployments))
	f.api.Handle("DescribeServiceDeployments", op(f, schemas.DescribeServiceDeploymentsRequest, f.describeServiceDeployments))
	f.api.Handle("DescribeServiceRevisions", op(f, schemas.DescribeServiceRevisionsRequest, f.describeServiceRevisions))
	f.api.Handle("StopServiceDeployment", op(f, schemas.StopServiceDeploymentRequest, f.stopServiceDeployment))
	f.api.Handle("ContinueServiceDeployment", op(f, schemas.ContinueServiceDeploymentRequest, f.continueServiceDeployment))
	f.api.Handle("ListServicesByNamespace", op(f, schemas.ListServicesByNamespaceRequest, f.listServicesByNamespace))
	f.api.Handle("UpdateCluster", op(f, schemas.UpdateClusterRequest, f.updateCluster))
	f.api.Handle("UpdateClusterSettings", op(f, schemas.UpdateClusterSettingsRequest, f.updateClusterSettings))
	f.api.Handle("PutClusterCapacityProviders", op(f, schemas.PutClusterCapacityProvidersRequest, f.putClusterCapacityProviders))
	f.api.Handle("CreateCapacityProvider", op(f, schemas.CreateCapacityProviderRequest, f.createCapacityProvider))
	f.api.Handle("UpdateCapacityProvider", op(f, schemas.UpdateCapacityProviderRequest, f.updateCapacityProvider))
	f.api.Handle("DeleteCapacityProvider", op(f, schemas.DeleteCapacityProviderRequest, f.deleteCapacityProvider))
	f.api.Handle("DescribeCapacityProviders", op(f, schemas.DescribeCapacityProvidersRequest, f.describeCapacityProviders))
	f.api.Handle("ListTaskDefinitions", op(f, schemas.ListTaskDefinitionsRequest, f.listTaskDefinitions))
	f.api.Handle("ListTaskDefinitionFamilies", op(f, schemas.ListTaskDefinitionFamiliesRequest, f.listTaskDefinitionFamilies))
	f.api.Handle("RunTask", op(f, schemas.RunTaskRequest, f.runTasks))
	f.api.Handle("StartTask", op(f, schemas.StartTaskRequest, f.startTasks))
	f.api.Handle("CreateTaskSet", op(f, schemas.CreateTaskSetRequest, f.createTaskSet))
	f.api.Handle("UpdateTaskSet", op(f, schemas.UpdateTaskSetRequest, f.updateTaskSet))
	f.api.Handle("UpdateServicePrimaryTaskSet", op(f, schemas.UpdateServicePrimaryTaskSetRequest, f.updateServicePrimaryTaskSet))
	f.api.Handle("DeleteTaskSet", op(f, schemas.DeleteTaskSetRequest, f.deleteTaskSet))
	f.api.Handle("DescribeTaskSets", op(f, schemas.DescribeTaskSetsRequest, f.describeTaskSets))
	f.api.Handle("TagResource", op(f, schemas.TagResourceRequest, f.tagResource))
	f.api.Handle("UntagResource", op(f, schemas.UntagResourceRequest, f.untagResource))
	f.api.Handle("ListTagsForResource", op(f, schemas.ListTagsForResourceRequest, f.listTagsForResource))
	f.api.Handle("PutAccountSetting", op(f, schemas.PutAccountSettingRequest, f.putAccountSetting))
	f.api.Handle("PutAccountSettingDefault", op(f, schemas.PutAccountSettingDefaultRequest, f.putAccountSettingDefault))
	f.api.Handle("DeleteAccountSetting", op(f, schemas.DeleteAccountSettingRequest, f.deleteAccountSetting))
	f.api.Handle("ListAccountSettings", op(f, schemas.ListAccountSettingsRequest, f.listAccountSettings))
	f.api.Handle("PutAttributes", op(f, schemas.PutAttributesRequest, f.putAttributes))
	f.api.Handle("DeleteAttributes", op(f, schemas.DeleteAttributesRequest, f.deleteAttributes))
	f.api.Handle("ListAttributes", op(f, schemas.ListAttributesRequest, f.listAttributes))
	f.api.Handle("RegisterContainerInstance", op(f, schemas.RegisterContainerInstanceRequest, f.registerContainerInstance))
	f.api.Handle("DeregisterContainerInstance", op(f, schemas.DeregisterContainerInstanceRequest, f.deregisterContainerInstance))
	f.api.Handle("DescribeContainerInstances", op(f, schemas.DescribeContainerInstancesRequest, f.describeContainerInstances))
	f.api.Handle("ListContainerInstances", op(f, schemas.ListContainerInstancesRequest, f.listContainerInstances))
	f.api.Handle("UpdateContainerInstancesState", op(f, schemas.UpdateContainerInstancesStateRequest, f.updateContainerInstancesState))
	f.api.Handle("GetTaskProtection", op(f, schemas.GetTaskProtectionRequest, f.getTaskProtection))
	f.api.Handle("UpdateTaskProtection", op(f, schemas.UpdateTaskProtectionRequest, f.updateTaskProtection))
	f.api.Handle("ExecuteCommand", op(f, schemas.ExecuteCommandRequest, f.executeCommand))
	f.api.Handle("SubmitTaskStateChange", op(f, schemas.SubmitTaskStateChangeRequest, f.submitTaskStateChange))
	f.api.Handle("SubmitContainerStateChange", op(f, schemas.SubmitContainerStateChangeRequest, f.submitContainerStateChange))
	f.api.Handle("SubmitAttachmentStateChanges", op(f, schemas.SubmitAttachmentStateChangesRequest, f.submitAttachmentStateChanges))
	f.api.Handle("DiscoverPollEndpoint", op(f, schemas.DiscoverPollEndpointRequest, f.discoverPollEndpoint))
	f.api.Handle("UpdateContainerAgent", op(f, schemas.UpdateContainerAgentRequest, f.updateContainerAgent))
	loopCtx, stop := context.WithCancel(context.Background())
	f.stopLoop = stop
	go f.loop(loopCtx)
	return f
}

// Close stops the scheduler, the deployments in progress (where they are)
// and every task (deregistering them and giving their containers their
// stop timeout), waits for the tasks to stop, and closes the Watch
// channels.
func (f *Fake) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()

	f.stopLoop()
	<-f.loopDone
	f.stopRuns()
	f.runners.Wait()
	f.changes.Close()

	f.mu.Lock()
	for _, c := range f.clusters {
		for _, t := range c.tasks {
			f.requestStop(t, "meshsim is shutting down", stopCodeScheduler)
		}
	}
	f.mu.Unlock()
	f.taskGroup.Wait()
	f.cancel()
	return nil
}

// op adapts a typed operation whose input shape is schema to an
// awsproto.Handler. The request is checked against schema first (see
// checkRequest); once the operation succeeds, the members it ignored are
// reported.
func op[In any](f *Fake, schema *smithy.Schema, fn func(region string, in *In) (any, error)) awsproto.Handler {
	return func(c *awsproto.Call) (any, error) {
		code := codeInvalidParameter
		if strings.Contains(c.Operation, "TaskDefinition") {
			code = codeClient // as ECS answers malformed task definitions
		}
		req, err := checkRequest(c.Body, schema, honouredPatterns[c.Operation], code)
		if err != nil {
			return nil, err
		}
		var in In
		if err := json.Unmarshal(req.body, &in); err != nil {
			return nil, awsproto.Errorf(http.StatusBadRequest, code, "%s: %v", c.Operation, err)
		}
		out, err := fn(c.Region, &in)
		if err == nil {
			f.reportIgnored(c.Operation, req)
		}
		return out, err
	}
}

// ServeHTTP implements http.Handler: the ECS API in JSON 1.1.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.api.ServeHTTP(w, r) }

// Operations returns the names of the ECS operations the fake implements.
func (f *Fake) Operations() []string { return f.api.Operations() }

// Error codes and messages of the ECS API.
const (
	codeClient           = "ClientException"
	codeInvalidParameter = "InvalidParameterException"
	codeClusterNotFound  = "ClusterNotFoundException"
	codeServiceNotFound  = "ServiceNotFoundException"
	codeServiceNotActive = "ServiceNotActiveException"
	codeLimitExceeded    = "LimitExceededException"
)

func clientError(format string, args ...any) error {
	return awsproto.Errorf(http.StatusBadRequest, codeClient, format, args...)
}

func invalidParameter(format string, args ...any) error {
	return awsproto.Errorf(http.StatusBadRequest, codeInvalidParameter, format, args...)
}

var (
	errClusterNotFound  = awsproto.Errorf(http.StatusBadRequest, codeClusterNotFound, "Cluster not found.")
	errServiceNotFound  = awsproto.Errorf(http.StatusBadRequest, codeServiceNotFound, "Service not found.")
	errServiceNotActive = awsproto.Errorf(http.StatusBadRequest, codeServiceNotActive, "Service was not ACTIVE.")
)

// emit sends an event from the ECS fake to the bus.
func (f *Fake) emit(typ contract.EventType, resource string, detail map[string]string) {
	if f.opts.Bus == nil {
		return
	}
	f.opts.Bus.Emit(events.Event{Source: contract.SourceECS, Type: typ, Resource: resource, Detail: detail})
}

// kick makes the scheduler look at service s soon. Callers hold f.mu.
func (f *Fake) kick(s *service) {
	f.dirty[s] = struct{}{}
	select {
	case f.kickc <- struct{}{}:
	default:
	}
}

// seconds turns ECS seconds into a duration.
func (f *Fake) seconds(n int) time.Duration { return time.Duration(n) * f.opts.Second }

// minutes turns ECS minutes into a duration.
func (f *Fake) minutes(n int) time.Duration { return time.Duration(n) * f.opts.Minute }

// scaled turns a duration of ECS time into real time.
func (f *Fake) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * float64(f.opts.Second) / float64(time.Second))
}
