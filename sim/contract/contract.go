// Package contract names what meshsim's parts agree on: container image
// names, environment variables, ports, the headers and gRPC metadata that
// attribute a request to the task that served it, App Mesh node ids, the
// hook answer path, and the sources, types and detail keys of world events.
//
// It has no dependencies, so an AWS API fake, the engine or the dashboard
// can name a data-plane contract without importing the data plane. A name
// shared by two parts is defined here, once.
package contract

// Container images the runtimes know. Task definitions name them; a
// runtime runs the embedded sidecar for SidecarImage (and for any image
// whose name contains "envoy") and the sample services for the sample
// images.
const (
	SidecarImage    = "meshsim/sidecar"
	SampleHTTPImage = "meshsim/sample-http"
	SampleGRPCImage = "meshsim/sample-grpc"
	// CommandImage is the image of a container that the inproc runtime
	// runs as a local process: the user's command, its entryPoint and
	// command being the program and its arguments.
	CommandImage = "meshsim/command"
)

// Ports of every sidecar, as in App Mesh's Envoy configuration: callers
// reach the application through IngressPort, the application sends its
// outbound traffic to EgressPort, and AdminPort is Envoy's admin listener.
const (
	IngressPort = 15000
	EgressPort  = 15001
	AdminPort   = 9901
)

// SampleDefaultPort is the sample services' port when none is given.
const SampleDefaultPort = 8080

// DefaultMaxTasks is the most tasks the ECS fake runs unless told
// otherwise: the desiredCount of all its services together. Scenario
// validation holds a scenario's tasks to it.
const DefaultMaxTasks = 1000

// Environment variables of App Mesh's Envoy image, read by the sidecar.
const (
	EnvResourceARN     = "APPMESH_RESOURCE_ARN"
	EnvVirtualNodeName = "APPMESH_VIRTUAL_NODE_NAME"
	EnvXDSEndpoint     = "APPMESH_XDS_ENDPOINT"
)

// Environment variables of the sample services.
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
	EnvShutdown   = "MESHSIM_SHUTDOWN"
	EnvCrashAfter = "MESHSIM_CRASH_AFTER"
	EnvHealth     = "MESHSIM_HEALTH"
	// The cost of a request (sim/sampleapp Config.CPU, LatencyDist,
	// Concurrency), for capacity sweeps.
	EnvCPU         = "MESHSIM_CPU"
	EnvLatencyDist = "MESHSIM_LATENCY_DIST"
	EnvConcurrency = "MESHSIM_CONCURRENCY"
	// Of the sample gRPC service only.
	EnvHealthPort    = "MESHSIM_HEALTH_PORT"
	EnvFeedInterval  = "MESHSIM_FEED_INTERVAL"
	EnvFeedRetention = "MESHSIM_FEED_RETENTION"
)

// Attribution of a response to the task that served it. The names are in
// net/http's canonical form, so they can key an http.Header directly; gRPC's
// metadata.Pairs and MD.Get lower-case them, so they name the gRPC metadata
// too.
const (
	// HeaderVersion carries the serving task's version.
	HeaderVersion = "X-Meshsim-Version"
	// HeaderTask carries the serving task's id.
	HeaderTask = "X-Meshsim-Task"
	// HeaderChain lists who answered, outermost first, as comma-separated
	// SERVICE/VERSION/TASK entries.
	HeaderChain = "X-Meshsim-Chain"
	// HeaderProxy names the proxy (its node id) that forwarded a request.
	HeaderProxy = "X-Meshsim-Proxy"
	// HeaderUpstreamCluster and HeaderUpstreamEndpoint are set by a proxy
	// forwarding on an outbound listener (the ingress gateway, a caller's
	// sidecar) on the responses it passes back and on its own failure
	// replies: the cluster it picked (a virtual node, or a Service Connect
	// revision) and the endpoint (a task's host:port) it forwarded to. They
	// attribute a request to a task when the application names none.
	HeaderUpstreamCluster  = "X-Meshsim-Upstream-Cluster"
	HeaderUpstreamEndpoint = "X-Meshsim-Upstream-Endpoint"
	// HeaderUpstreamServiceTime is Envoy's: set on the responses that came
	// from upstream, not on a proxy's own replies.
	HeaderUpstreamServiceTime = "X-Envoy-Upstream-Service-Time"
)

// gRPC trailers of the sample service's streams.
const (
	MetadataEnd     = "X-Meshsim-End"
	MetadataNextSeq = "X-Meshsim-Next-Seq"
)

// NodeID returns App Mesh's node id for a virtual node:
// "mesh/<mesh>/virtualNode/<name>".
func NodeID(mesh, virtualNode string) string {
	return "mesh/" + mesh + "/virtualNode/" + virtualNode
}

// GatewayNodeID returns App Mesh's node id for a virtual gateway:
// "mesh/<mesh>/virtualGateway/<name>".
func GatewayNodeID(mesh, virtualGateway string) string {
	return "mesh/" + mesh + "/virtualGateway/" + virtualGateway
}

// HookPathPrefix is where a lifecycle hook's answer is posted on the fakes'
// endpoint: POST HookPathPrefix+invocationId with a HookAnswer body.
const HookPathPrefix = "/_meshsim/hooks/"

// HookAnswer is the body of a lifecycle hook's answer.
type HookAnswer struct {
	// HookStatus is SUCCEEDED, FAILED or IN_PROGRESS.
	HookStatus string `json:"hookStatus"`
	Reason     string `json:"reason"`
}

// Source is the part of the world that emitted an event.
type Source string

// Event sources.
const (
	SourceECS      Source = "ecs"
	SourceCloudMap Source = "cloudmap"
	SourceAppMesh  Source = "appmesh"
	SourceXDS      Source = "xds"
	SourceRuntime  Source = "runtime"
	SourceSidecar  Source = "sidecar"
	SourceLambda   Source = "lambda"
	SourceRoute53  Source = "route53"
	SourceEndpoint Source = "endpoint"
	SourceEngine   Source = "engine"
	SourceELB      Source = "elbv2"
	// SourceEvents is the event bus itself (its gap marker, EventGap).
	SourceEvents Source = "events"
)

// EventType names what happened, dotted.
type EventType string

// Event types.
const (
	EventTaskState            EventType = "task.state"
	EventTaskError            EventType = "task.error"
	EventServiceCreated       EventType = "service.created"
	EventServiceDeleted       EventType = "service.deleted"
	EventServiceUpdated       EventType = "service.updated"
	EventServiceEvent         EventType = "service.event"
	EventDeploymentState      EventType = "deployment.state"
	EventDeploymentStage      EventType = "deployment.stage"
	EventDeploymentTraffic    EventType = "deployment.traffic"
	EventNamespaceCreated     EventType = "namespace.created"
	EventNamespaceDeleted     EventType = "namespace.deleted"
	EventNamespaceUpdated     EventType = "namespace.updated"
	EventInstanceRegistered   EventType = "instance.registered"
	EventInstanceDeregistered EventType = "instance.deregistered"
	EventInstanceHealth       EventType = "instance.health"
	EventRouteCreated         EventType = "route.created"
	EventRouteUpdated         EventType = "route.updated"
	EventXDSPush              EventType = "xds.push"
	EventXDSAck               EventType = "xds.ack"
	EventXDSNack              EventType = "xds.nack"
	EventXDSSnapshot          EventType = "xds.snapshot"
	EventXDSSnapshotCleared   EventType = "xds.snapshot.cleared"
	EventXDSError             EventType = "xds.error"
	EventEndpointError        EventType = "endpoint.error"
	EventHookInvoked          EventType = "hook.invoked"
	EventHookAnswered         EventType = "hook.answered"
	EventHookResult           EventType = "hook.result"
	EventGateError            EventType = "gate.error"
	EventGateSucceeded        EventType = "gate.succeeded"
	EventGateFailed           EventType = "gate.failed"
	EventGateUnanswered       EventType = "gate.unanswered"
	EventContainerStarted     EventType = "container.started"
	EventContainerExited      EventType = "container.exited"
	EventContainerHealth      EventType = "container.health"
	EventSidecarReady         EventType = "sidecar.ready"
	EventSidecarXDSApplied    EventType = "sidecar.xds.applied"
	EventSidecarXDSNack       EventType = "sidecar.xds.nack"
	EventSidecarDisconnected  EventType = "sidecar.xds.disconnected"
	EventSidecarFaults        EventType = "faults"
	EventFaultInjected        EventType = "fault.injected"
	EventFaultError           EventType = "fault.error"
	EventStepStart            EventType = "step.start"
	EventStepEnd              EventType = "step.end"
	EventRunEnd               EventType = "run.end"
	EventAWSCall              EventType = "aws.call"
	// EventGap stands for the events a slow reader of the bus lost (Detail:
	// DetailFrom, DetailTo, DetailLost).
	EventGap EventType = "events.gap"
	// EventRequestIgnored names the members of a successful API request
	// that the fake accepted without acting on them (DetailIgnored) and
	// those the API does not have (DetailUnknown), for operation
	// DetailOperation; its Resource names what the request made or changed.
	EventRequestIgnored EventType = "request.ignored"
	// EventDefinitionMapped (source engine) lists what meshsim changed in
	// a user's --cli-input-json definition (detail "file", "changes") to
	// register it locally; its Resource is the task definition or service.
	EventDefinitionMapped EventType = "definition.mapped"
	EventWorldReady       EventType = "world.ready"
	EventTeardownError    EventType = "teardown.error"
	// Route 53: a hosted zone created or deleted (detail "name"), a change
	// batch applied to its record sets (detail "change", "zone",
	// "changes"), and a health check's status changed (detail "healthy",
	// "status").
	EventHostedZoneCreated EventType = "route53.hostedzone.created"
	EventHostedZoneDeleted EventType = "route53.hostedzone.deleted"
	EventRecordSetsChanged EventType = "route53.rrsets.changed"
	EventHealthCheckStatus EventType = "route53.healthcheck.status"
	// EventTargetHealth (source elbv2) is a load balancer target's new
	// health state (DetailState, DetailReason) in a target group (the
	// Resource), for target DetailTarget (ip:port).
	EventTargetHealth EventType = "target.health"
	// EventControl is a request the user made through the run's controls
	// (the dashboard's keys): DetailAction is pause, resume, advance,
	// rollback or abort; DetailReason says what it did.
	EventControl EventType = "control"
)

// Keys of an event's Detail.
const (
	DetailFrom              = "from"
	DetailTo                = "to"
	DetailService           = "service"
	DetailTaskDefinition    = "taskDefinition"
	DetailTask              = "task"
	DetailVersion           = "version"
	DetailNode              = "node"
	DetailTypeURL           = "typeUrl"
	DetailStatus            = "status"
	DetailStoppedReason     = "stoppedReason"
	DetailError             = "error"
	DetailFunction          = "function"
	DetailRolloutState      = "rolloutState"
	DetailInvocationID      = "invocationId"
	DetailWeights           = "weights"
	DetailTestWeight        = "testWeight"
	DetailProductionWeight  = "productionWeight"
	DetailProduction        = "production"
	DetailStage             = "stage"
	DetailServiceDeployment = "serviceDeployment"
	DetailIP                = "ip"
	DetailFailedTasks       = "failedTasks"
	DetailAction            = "action"
	DetailLost              = "lost"
	DetailOperation         = "operation"
	DetailIgnored           = "ignored" // member paths, comma-separated
	DetailUnknown           = "unknown" // member paths, comma-separated
	// DetailStep is the index of the step an engine step.start / step.end
	// event is about; DetailName the step's name (step.start); DetailCut
	// "true" on a step.end of a step cut short.
	DetailStep   = "step"
	DetailName   = "name"
	DetailCut    = "cut"
	DetailReason = "reason"
	// DetailState and DetailTarget are a load balancer target's health
	// state and its ip:port (target.health).
	DetailState  = "state"
	DetailTarget = "target"
)
