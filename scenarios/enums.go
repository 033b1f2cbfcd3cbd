package scenarios

import "slices"

// Routing is how the services of a scenario find each other.
type Routing string

// The routing modes.
const (
	// RoutingAppMesh routes through App Mesh virtual nodes, routers and
	// services (the default).
	RoutingAppMesh Routing = "appmesh"
	// RoutingServiceConnect routes through ECS Service Connect: client
	// aliases in a Cloud Map namespace.
	RoutingServiceConnect Routing = "serviceconnect"
	// RoutingMigration runs each service twice, on App Mesh and as its
	// Service Connect twin (NAME-sc), each stack with its own ingress;
	// route steps then weigh the load between the two ingresses by stack
	// (StackAppMesh, StackServiceConnect), as the weighted target groups of
	// a load balancer do in AWS's App Mesh → Service Connect migration.
	RoutingMigration Routing = "appmesh-to-serviceconnect"
	// RoutingRoute53 moves traffic with Route 53 weighted records, as a
	// DNS blue/green does: each version of the rolled service is a
	// weighted record set of one name (the addresses of its tasks), the
	// load comes from a population of clients that resolve that name and
	// cache the answer (see DNS), and route steps change the records'
	// weights with ChangeResourceRecordSets. The services call their
	// backends through Service Connect.
	RoutingRoute53 Routing = "route53"
	// RoutingALB puts the ingress service behind an Application Load
	// Balancer (the ELBv2 fake): load enters at the ALB's listener, ECS
	// registers the service's tasks in target groups, and deployments
	// shift the listener rules' weights (see LoadBalancer).
	RoutingALB Routing = "alb"
)

// Routings are the routing modes, in the order the docs list them.
var Routings = []Routing{RoutingAppMesh, RoutingServiceConnect, RoutingMigration, RoutingALB, RoutingRoute53}

// Valid reports whether r is one of Routings.
func (r Routing) Valid() bool { return slices.Contains(Routings, r) }

// Protocol is what a service speaks.
type Protocol string

// The protocols.
const (
	// ProtocolHTTP is HTTP/1.1 (the sample HTTP service; the default).
	ProtocolHTTP Protocol = "http"
	// ProtocolGRPC is gRPC (the sample gRPC echo service).
	ProtocolGRPC Protocol = "grpc"
)

// Protocols are the protocols a service can speak.
var Protocols = []Protocol{ProtocolHTTP, ProtocolGRPC}

// Valid reports whether p is one of Protocols.
func (p Protocol) Valid() bool { return slices.Contains(Protocols, p) }

// Strategy is an ECS deployment strategy (deploymentConfiguration.strategy).
type Strategy string

// The ECS deployment strategies.
const (
	StrategyRolling   Strategy = "ROLLING"
	StrategyBlueGreen Strategy = "BLUE_GREEN"
	StrategyLinear    Strategy = "LINEAR"
	StrategyCanary    Strategy = "CANARY"
)

// Strategies are the ECS deployment strategies.
var Strategies = []Strategy{StrategyRolling, StrategyBlueGreen, StrategyLinear, StrategyCanary}

// Valid reports whether s is one of Strategies.
func (s Strategy) Valid() bool { return slices.Contains(Strategies, s) }

// FaultAction is what a fault does to the tasks it chooses.
type FaultAction string

// The fault actions (see Fault.Action).
const (
	FaultStopTask   FaultAction = "stop-task"
	FaultKill       FaultAction = "kill"
	FaultPause      FaultAction = "pause"
	FaultUnpause    FaultAction = "unpause"
	FaultDisconnect FaultAction = "disconnect"
	FaultReconnect  FaultAction = "reconnect"
	FaultDelay      FaultAction = "delay"
	FaultDrop       FaultAction = "drop"
	FaultHeal       FaultAction = "heal"
)

// FaultActions are the actions a fault can take.
var FaultActions = []FaultAction{FaultStopTask, FaultKill, FaultPause, FaultUnpause, FaultDisconnect,
	FaultReconnect, FaultDelay, FaultDrop, FaultHeal}

// Valid reports whether a is one of FaultActions.
func (a FaultAction) Valid() bool { return slices.Contains(FaultActions, a) }

// AnyRuntime reports whether every runtime can carry out a: stopping a task
// through ECS and the sidecar faults; the others need the docker runtime.
func (a FaultAction) AnyRuntime() bool {
	switch a {
	case FaultStopTask, FaultDelay, FaultDrop, FaultHeal:
		return true
	}
	return false
}

// OnNoData is what a lifecycle hook answers when its window holds too few
// requests to judge.
type OnNoData string

// The answers to a gate without data.
const (
	// OnNoDataRollback answers FAILED with the reason "no data" (the
	// default): ECS rolls the deployment back.
	OnNoDataRollback OnNoData = "rollback"
	// OnNoDataContinue answers SUCCEEDED with the reason "no data".
	OnNoDataContinue OnNoData = "continue"
)

// OnNoDatas are the answers a gate can give without data.
var OnNoDatas = []OnNoData{OnNoDataRollback, OnNoDataContinue}

// Valid reports whether o is one of OnNoDatas.
func (o OnNoData) Valid() bool { return slices.Contains(OnNoDatas, o) }
