package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/appmesh"
	amtypes "github.com/aws/aws-sdk-go-v2/service/appmesh/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"

	"github.com/meshsim/meshsim/scenarios"
	"github.com/meshsim/meshsim/sim/awsclient"
	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/grpcapp"
	"github.com/meshsim/meshsim/sim/poll"
	"github.com/meshsim/meshsim/sim/sidecar/admin"
)

// egressPort is where the sidecar's egress listener answers; the
// application uses it as its HTTP proxy (App Mesh redirects outbound
// traffic to the same port with iptables).
const egressPort = contract.EgressPort

// world creates and deletes the scenario's AWS resources, through the AWS
// APIs only.
type world struct {
	sc  *scenarios.Scenario
	aws awsclient.Clients

	namespaceID string
	// registries maps a unit's name to its Cloud Map service ARN (App Mesh
	// routing; with Service Connect, ECS creates the Cloud Map services).
	registries map[string]string
	// taskDefinitions maps a task definition ARN to the version it runs.
	taskDefinitions map[string]string
	// tasks, when set, learns which version each task definition runs.
	tasks *taskBook
	// event, when set, records an engine event.
	event func(typ contract.EventType, resource string, detail map[string]string)
	// lb is the load balancer of routing alb; nil otherwise.
	lb *albWorld
	// ecsServices lists the ECS services created, in creation order.
	ecsServices []string
	// dns is the hosted zone and weighted records of routing route53.
	dns     *records
	created []func(context.Context) error // undo actions, run in reverse
}

// versionName names the unit of a service version; a version such as 0.9
// becomes 0-9, as AWS resource names take no dots.
func versionName(svc, ver string) string { return svc + "-" + strings.ReplaceAll(ver, ".", "-") }

// portProtocol is the App Mesh protocol of service s's listener.
func portProtocol(s *scenarios.Service) amtypes.PortProtocol {
	if s.Protocol == scenarios.ProtocolGRPC {
		return amtypes.PortProtocolGrpc
	}
	return amtypes.PortProtocolHttp
}

// healthPortOffset places a gRPC task's HTTP /health port next to its gRPC
// port, for container health checks that are HTTP GETs.
const healthPortOffset = 100

func (w *world) virtualServiceName(svc string) string { return svc + "." + w.sc.Namespace }

func (w *world) routerName(svc string) string { return svc + "-router" }

func (w *world) routeName(svc string) string { return svc + "-route" }

// routed reports whether svc is provided by a virtual router whose route
// the rollout steps weigh (it has several versions or is rolled out by
// steps) rather than by its only virtual node.
func (w *world) routed(s *scenarios.Service) bool {
	if len(w.sc.Rollout.Deployments) > 0 || w.migration() {
		return s.Retries != nil // a route to carry the retry policy
	}
	return len(s.Versions) > 1 || s.Name == w.sc.Rollout.Service
}

// unit is one ECS service of the world: with route steps, one per service
// version (each its own virtual node, so the route can weigh them); with
// deployments, one per service, whose versions are task definition
// revisions that ECS deploys in turn. A unit's name names its ECS service,
// task definition family, Cloud Map service and virtual node.
//
// In a migration each service has two units, one per stack: its App Mesh
// one (named after the service) and its Service Connect twin (NAME-sc).
type unit struct {
	name    string
	service *scenarios.Service
	version scenarios.Version
	// sc is set when the unit's routing is Service Connect.
	sc bool
	// stack, in a migration, is "appmesh" or "serviceconnect": the sample
	// service reports it as its version, so the split shows which stack
	// served.
	stack string
}

func (w *world) units() []unit {
	sc := w.serviceConnect()
	var us []unit
	for i := range w.sc.Services {
		s := &w.sc.Services[i]
		switch {
		case w.migration():
			us = append(us,
				unit{name: s.Name, service: s, version: s.Versions[0], stack: scenarios.StackAppMesh},
				unit{name: s.Name + "-sc", service: s, version: s.Versions[0], sc: true, stack: scenarios.StackServiceConnect})
		case len(w.sc.Rollout.Deployments) > 0:
			us = append(us, unit{name: s.Name, service: s, version: s.Versions[0], sc: sc})
		default:
			for _, v := range s.Versions {
				us = append(us, unit{name: versionName(s.Name, v.Name), service: s, version: v, sc: sc})
			}
		}
	}
	return us
}

// unitFor returns the unit that serves service s (deployments mode).
func (w *world) unitFor(s *scenarios.Service) unit {
	for _, u := range w.units() {
		if u.service == s {
			return u
		}
	}
	return unit{}
}

// serviceConnect reports whether the services reach their backends
// through Service Connect: with routing serviceconnect, and with routing
// route53 (where the load reaches the rolled service by DNS).
func (w *world) serviceConnect() bool {
	return w.sc.Routing == scenarios.RoutingServiceConnect || w.route53()
}

// migration reports whether the world runs both stacks, App Mesh and its
// Service Connect twin, for a migration rehearsal.
func (w *world) migration() bool { return w.sc.Routing == scenarios.RoutingMigration }

// create stands the world up through the AWS APIs: the ECS cluster, the
// Cloud Map namespace, the routing (App Mesh mesh, virtual nodes, routers,
// routes and virtual services; or nothing more for Service Connect, which
// ECS sets up from each service's serviceConnectConfiguration), then the ECS
// task definitions and services, which start the tasks.
func (w *world) create(ctx context.Context) error {
	sc := w.sc
	w.registries = map[string]string{}
	w.taskDefinitions = map[string]string{}

	if _, err := w.aws.ECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(sc.Cluster)}); err != nil {
		return fmt.Errorf("ecs CreateCluster %s: %w", sc.Cluster, err)
	}
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.ECS.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String(sc.Cluster)})
		return err
	})
	if w.alb() { // no mesh, no discovery: the load balancer's target groups
		if err := w.createALB(ctx); err != nil {
			return err
		}
		for _, u := range w.units() {
			if err := w.createUnit(ctx, u); err != nil {
				return err
			}
		}
		return nil
	}
	if err := w.createNamespace(ctx); err != nil {
		return err
	}
	if !w.serviceConnect() { // App Mesh, or both stacks
		if err := w.createMesh(ctx); err != nil {
			return err
		}
	}
	for _, u := range w.units() {
		if err := w.createUnit(ctx, u); err != nil {
			return err
		}
	}
	return w.createIngressService(ctx)
}

// createMesh creates the Cloud Map service of each unit and the App Mesh
// resources.
func (w *world) createMesh(ctx context.Context) error {
	sc := w.sc
	for _, u := range w.units() {
		if u.sc {
			continue
		}
		out, err := w.aws.CloudMap.CreateService(ctx, &servicediscovery.CreateServiceInput{
			Name:             aws.String(u.name),
			NamespaceId:      aws.String(w.namespaceID),
			CreatorRequestId: aws.String("meshsim-" + u.name),
			DnsConfig: &sdtypes.DnsConfig{
				DnsRecords:    []sdtypes.DnsRecord{{Type: sdtypes.RecordTypeA, TTL: aws.Int64(60)}},
				RoutingPolicy: sdtypes.RoutingPolicyMultivalue,
			},
			HealthCheckCustomConfig: &sdtypes.HealthCheckCustomConfig{},
		})
		if err != nil {
			return fmt.Errorf("cloudmap CreateService %s: %w", u.name, err)
		}
		w.registries[u.name] = aws.ToString(out.Service.Arn)
		id := out.Service.Id
		w.undo(func(ctx context.Context) error {
			_, err := w.aws.CloudMap.DeleteService(ctx, &servicediscovery.DeleteServiceInput{Id: id})
			return err
		})
	}
	// Cloud Map services can be deleted once ECS has stopped (and so
	// deregistered) every task: wait for that after the ECS services go.
	w.undo(w.waitTasksStopped)

	// The mesh, then services leaves-first so that every backend a
	// virtual node names already exists.
	if _, err := w.aws.AppMesh.CreateMesh(ctx, &appmesh.CreateMeshInput{MeshName: aws.String(sc.Mesh)}); err != nil {
		return fmt.Errorf("appmesh CreateMesh %s: %w", sc.Mesh, err)
	}
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.AppMesh.DeleteMesh(ctx, &appmesh.DeleteMeshInput{MeshName: aws.String(sc.Mesh)})
		return err
	})
	for _, s := range leavesFirst(sc.Services) {
		if err := w.createMeshService(ctx, s); err != nil {
			return err
		}
	}
	if sc.Ingress.VirtualGateway != nil {
		return w.createGateway(ctx)
	}
	return w.createVirtualNode(ctx, sc.Ingress.Name, nil, []string{sc.Ingress.Service}, "")
}

// createGateway creates the ingress as an App Mesh virtual gateway with
// its gateway routes, in priority order, to the virtual services of the
// scenario's services.
func (w *world) createGateway(ctx context.Context) error {
	sc, gw := w.sc, w.sc.Ingress.VirtualGateway
	name := sc.Ingress.Name
	_, err := w.aws.AppMesh.CreateVirtualGateway(ctx, &appmesh.CreateVirtualGatewayInput{
		MeshName:           aws.String(sc.Mesh),
		VirtualGatewayName: aws.String(name),
		Spec: &amtypes.VirtualGatewaySpec{Listeners: []amtypes.VirtualGatewayListener{{
			PortMapping: &amtypes.VirtualGatewayPortMapping{Port: aws.Int32(int32(gw.Port)), Protocol: amtypes.VirtualGatewayPortProtocolHttp},
		}}},
	})
	if err != nil {
		return fmt.Errorf("appmesh CreateVirtualGateway %s: %w", name, err)
	}
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.AppMesh.DeleteVirtualGateway(ctx, &appmesh.DeleteVirtualGatewayInput{MeshName: aws.String(sc.Mesh), VirtualGatewayName: aws.String(name)})
		return err
	})
	for i, r := range gw.Routes {
		_, err := w.aws.AppMesh.CreateGatewayRoute(ctx, &appmesh.CreateGatewayRouteInput{
			MeshName:           aws.String(sc.Mesh),
			VirtualGatewayName: aws.String(name),
			GatewayRouteName:   aws.String(r.Name),
			Spec:               w.gatewayRouteSpec(r, i),
		})
		if err != nil {
			return fmt.Errorf("appmesh CreateGatewayRoute %s: %w", r.Name, err)
		}
		w.undo(func(ctx context.Context) error {
			_, err := w.aws.AppMesh.DeleteGatewayRoute(ctx, &appmesh.DeleteGatewayRouteInput{MeshName: aws.String(sc.Mesh),
				VirtualGatewayName: aws.String(name), GatewayRouteName: aws.String(r.Name)})
			return err
		})
	}
	return nil
}

// gatewayRouteSpec is the http gateway route r of the ingress gateway, at
// priority i.
func (w *world) gatewayRouteSpec(r scenarios.GatewayRoute, i int) *amtypes.GatewayRouteSpec {
	match := &amtypes.HttpGatewayRouteMatch{Prefix: aws.String(cmp.Or(r.Prefix, "/"))}
	if r.Path != "" {
		match = &amtypes.HttpGatewayRouteMatch{Path: &amtypes.HttpPathMatch{Exact: aws.String(r.Path)}}
	}
	var rw amtypes.HttpGatewayRouteRewrite
	switch r.RewritePrefix {
	case "":
	case "disabled":
		rw.Prefix = &amtypes.HttpGatewayRoutePrefixRewrite{DefaultPrefix: amtypes.DefaultGatewayRouteRewriteDisabled}
	default:
		rw.Prefix = &amtypes.HttpGatewayRoutePrefixRewrite{Value: aws.String(r.RewritePrefix)}
	}
	if r.RewritePath != "" {
		rw.Path = &amtypes.HttpGatewayRoutePathRewrite{Exact: aws.String(r.RewritePath)}
	}
	if r.KeepHostname {
		rw.Hostname = &amtypes.GatewayRouteHostnameRewrite{DefaultTargetHostname: amtypes.DefaultGatewayRouteRewriteDisabled}
	}
	action := &amtypes.HttpGatewayRouteAction{Target: &amtypes.GatewayRouteTarget{
		VirtualService: &amtypes.GatewayRouteVirtualService{VirtualServiceName: aws.String(w.virtualServiceName(r.Service))},
	}}
	if rw != (amtypes.HttpGatewayRouteRewrite{}) {
		action.Rewrite = &rw
	}
	return &amtypes.GatewayRouteSpec{Priority: aws.Int32(int32(i)), HttpRoute: &amtypes.HttpGatewayRoute{Match: match, Action: action}}
}

// createNamespace creates the Cloud Map namespace: a private DNS namespace
// for App Mesh, an HTTP (API-only) one for Service Connect.
func (w *world) createNamespace(ctx context.Context) error {
	var opID *string
	if w.serviceConnect() {
		out, err := w.aws.CloudMap.CreateHttpNamespace(ctx, &servicediscovery.CreateHttpNamespaceInput{
			Name:             aws.String(w.sc.Namespace),
			CreatorRequestId: aws.String("meshsim-" + w.sc.Namespace),
		})
		if err != nil {
			return fmt.Errorf("cloudmap CreateHttpNamespace %s: %w", w.sc.Namespace, err)
		}
		opID = out.OperationId
	} else {
		out, err := w.aws.CloudMap.CreatePrivateDnsNamespace(ctx, &servicediscovery.CreatePrivateDnsNamespaceInput{
			Name:             aws.String(w.sc.Namespace),
			Vpc:              aws.String("vpc-meshsim"),
			CreatorRequestId: aws.String("meshsim-" + w.sc.Namespace),
		})
		if err != nil {
			return fmt.Errorf("cloudmap CreatePrivateDnsNamespace %s: %w", w.sc.Namespace, err)
		}
		opID = out.OperationId
	}
	op, err := w.waitOperation(ctx, aws.ToString(opID))
	if err != nil {
		return fmt.Errorf("cloudmap namespace %s: %w", w.sc.Namespace, err)
	}
	w.namespaceID = op.Targets[string(sdtypes.OperationTargetTypeNamespace)]
	if w.namespaceID == "" {
		return fmt.Errorf("cloudmap namespace %s: operation %s names no namespace", w.sc.Namespace, aws.ToString(opID))
	}
	w.undo(func(ctx context.Context) error {
		out, err := w.aws.CloudMap.DeleteNamespace(ctx, &servicediscovery.DeleteNamespaceInput{Id: aws.String(w.namespaceID)})
		if err != nil {
			return fmt.Errorf("cloudmap DeleteNamespace %s: %w", w.sc.Namespace, err)
		}
		_, err = w.waitOperation(ctx, aws.ToString(out.OperationId))
		return err
	})
	return nil
}

// waitOperation polls a Cloud Map operation until it ends.
func (w *world) waitOperation(ctx context.Context, id string) (*sdtypes.Operation, error) {
	var op *sdtypes.Operation
	err := poll.Until(ctx, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, err := w.aws.CloudMap.GetOperation(ctx, &servicediscovery.GetOperationInput{OperationId: aws.String(id)})
		if err != nil {
			return false, fmt.Errorf("GetOperation %s: %w", id, err)
		}
		switch out.Operation.Status {
		case sdtypes.OperationStatusSuccess:
			op = out.Operation
			return true, nil
		case sdtypes.OperationStatusFail:
			return false, fmt.Errorf("operation %s failed: %s", id, aws.ToString(out.Operation.ErrorMessage))
		}
		return false, nil
	})
	return op, err
}

// createMeshService creates a service's virtual nodes (one per version),
// its router and route when it is routed, and its virtual service.
func (w *world) createMeshService(ctx context.Context, s *scenarios.Service) error {
	sc := w.sc
	var first string
	for _, u := range w.units() {
		if u.service != s || u.sc {
			continue
		}
		if first == "" {
			first = u.name
		}
		if err := w.createVirtualNode(ctx, u.name, s, s.Backends, u.name); err != nil {
			return err
		}
	}
	provider := amtypes.VirtualServiceProvider(&amtypes.VirtualServiceProviderMemberVirtualNode{
		Value: amtypes.VirtualNodeServiceProvider{VirtualNodeName: aws.String(first)},
	})
	if w.routed(s) {
		router := w.routerName(s.Name)
		_, err := w.aws.AppMesh.CreateVirtualRouter(ctx, &appmesh.CreateVirtualRouterInput{
			MeshName:          aws.String(sc.Mesh),
			VirtualRouterName: aws.String(router),
			Spec: &amtypes.VirtualRouterSpec{Listeners: []amtypes.VirtualRouterListener{{
				PortMapping: &amtypes.PortMapping{Port: aws.Int32(int32(s.Port)), Protocol: portProtocol(s)},
			}}},
		})
		if err != nil {
			return fmt.Errorf("appmesh CreateVirtualRouter %s: %w", router, err)
		}
		w.undo(func(ctx context.Context) error {
			_, err := w.aws.AppMesh.DeleteVirtualRouter(ctx, &appmesh.DeleteVirtualRouterInput{MeshName: aws.String(sc.Mesh), VirtualRouterName: aws.String(router)})
			return err
		})
		weights := map[string]int{s.Versions[0].Name: 100}
		if s.Name == sc.Rollout.Service && len(sc.Rollout.Steps) > 0 && !w.migration() {
			weights = sc.Rollout.Steps[0].Weights
		}
		route := w.routeName(s.Name)
		_, err = w.aws.AppMesh.CreateRoute(ctx, &appmesh.CreateRouteInput{
			MeshName:          aws.String(sc.Mesh),
			VirtualRouterName: aws.String(router),
			RouteName:         aws.String(route),
			Spec:              w.routeSpec(s, weights),
		})
		if err != nil {
			return fmt.Errorf("appmesh CreateRoute %s: %w", route, err)
		}
		w.undo(func(ctx context.Context) error {
			_, err := w.aws.AppMesh.DeleteRoute(ctx, &appmesh.DeleteRouteInput{MeshName: aws.String(sc.Mesh), VirtualRouterName: aws.String(router), RouteName: aws.String(route)})
			return err
		})
		provider = &amtypes.VirtualServiceProviderMemberVirtualRouter{
			Value: amtypes.VirtualRouterServiceProvider{VirtualRouterName: aws.String(router)},
		}
	}
	vs := w.virtualServiceName(s.Name)
	_, err := w.aws.AppMesh.CreateVirtualService(ctx, &appmesh.CreateVirtualServiceInput{
		MeshName:           aws.String(sc.Mesh),
		VirtualServiceName: aws.String(vs),
		Spec:               &amtypes.VirtualServiceSpec{Provider: provider},
	})
	if err != nil {
		return fmt.Errorf("appmesh CreateVirtualService %s: %w", vs, err)
	}
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.AppMesh.DeleteVirtualService(ctx, &appmesh.DeleteVirtualServiceInput{MeshName: aws.String(sc.Mesh), VirtualServiceName: aws.String(vs)})
		return err
	})
	return nil
}

// routeSpec is the HTTP route of a routed service with the given weights
// per version.
func (w *world) routeSpec(s *scenarios.Service, weights map[string]int) *amtypes.RouteSpec {
	var targets []amtypes.WeightedTarget
	for _, u := range w.units() {
		if u.service == s && !u.sc {
			targets = append(targets, amtypes.WeightedTarget{
				VirtualNode: aws.String(u.name),
				Weight:      int32(weights[u.version.Name]),
			})
		}
	}
	if s.Protocol == scenarios.ProtocolGRPC {
		match := &amtypes.GrpcRouteMatch{ServiceName: aws.String(grpcapp.ServiceName)}
		if userSoftware(s) || w.sc.Load.GRPCMethod != "" {
			match = &amtypes.GrpcRouteMatch{} // every gRPC service, reflection included
		}
		spec := &amtypes.RouteSpec{GrpcRoute: &amtypes.GrpcRoute{
			Match:  match,
			Action: &amtypes.GrpcRouteAction{WeightedTargets: targets},
		}}
		if s.Retries != nil {
			spec.GrpcRoute.RetryPolicy = &amtypes.GrpcRetryPolicy{
				MaxRetries:      aws.Int64(int64(*s.Retries)),
				PerRetryTimeout: &amtypes.Duration{Unit: amtypes.DurationUnitS, Value: aws.Int64(2)},
				GrpcRetryEvents: []amtypes.GrpcRetryPolicyEvent{amtypes.GrpcRetryPolicyEventUnavailable},
			}
		}
		return spec
	}
	spec := &amtypes.RouteSpec{HttpRoute: &amtypes.HttpRoute{
		Match:  &amtypes.HttpRouteMatch{Prefix: aws.String("/")},
		Action: &amtypes.HttpRouteAction{WeightedTargets: targets},
	}}
	if s.Retries != nil {
		spec.HttpRoute.RetryPolicy = &amtypes.HttpRetryPolicy{
			MaxRetries:      aws.Int64(int64(*s.Retries)),
			PerRetryTimeout: &amtypes.Duration{Unit: amtypes.DurationUnitS, Value: aws.Int64(2)},
			HttpRetryEvents: []string{"server-error", "gateway-error"},
			TcpRetryEvents:  []amtypes.TcpRetryPolicyEvent{amtypes.TcpRetryPolicyEventConnectionError},
		}
	}
	return spec
}

// setWeights applies a rollout step with UpdateRoute.
func (w *world) setWeights(ctx context.Context, weights map[string]int) error {
	s, _ := w.sc.Service(w.sc.Rollout.Service)
	_, err := w.aws.AppMesh.UpdateRoute(ctx, &appmesh.UpdateRouteInput{
		MeshName:          aws.String(w.sc.Mesh),
		VirtualRouterName: aws.String(w.routerName(s.Name)),
		RouteName:         aws.String(w.routeName(s.Name)),
		Spec:              w.routeSpec(s, weights),
	})
	if err != nil {
		return fmt.Errorf("appmesh UpdateRoute %s: %w", w.routeName(s.Name), err)
	}
	return nil
}

// createVirtualNode creates a virtual node listening as service s does (no
// listener when s is nil, for a client-only node such as the ingress),
// calling backends (service names), discovered through the Cloud Map
// service cloudMapService ("" for none).
func (w *world) createVirtualNode(ctx context.Context, name string, s *scenarios.Service, backends []string, cloudMapService string) error {
	spec := &amtypes.VirtualNodeSpec{}
	if s != nil {
		spec.Listeners = append(spec.Listeners, amtypes.Listener{
			PortMapping: &amtypes.PortMapping{Port: aws.Int32(int32(s.Port)), Protocol: portProtocol(s)},
		})
	}
	for _, b := range backends {
		spec.Backends = append(spec.Backends, &amtypes.BackendMemberVirtualService{
			Value: amtypes.VirtualServiceBackend{VirtualServiceName: aws.String(w.virtualServiceName(b))},
		})
	}
	if cloudMapService != "" {
		spec.ServiceDiscovery = &amtypes.ServiceDiscoveryMemberAwsCloudMap{Value: amtypes.AwsCloudMapServiceDiscovery{
			NamespaceName: aws.String(w.sc.Namespace),
			ServiceName:   aws.String(cloudMapService),
		}}
	}
	_, err := w.aws.AppMesh.CreateVirtualNode(ctx, &appmesh.CreateVirtualNodeInput{
		MeshName:        aws.String(w.sc.Mesh),
		VirtualNodeName: aws.String(name),
		Spec:            spec,
	})
	if err != nil {
		return fmt.Errorf("appmesh CreateVirtualNode %s: %w", name, err)
	}
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.AppMesh.DeleteVirtualNode(ctx, &appmesh.DeleteVirtualNodeInput{MeshName: aws.String(w.sc.Mesh), VirtualNodeName: aws.String(name)})
		return err
	})
	return nil
}

func (w *world) nodeARN(node string) string {
	return fmt.Sprintf("arn:aws:appmesh:%s:000000000000:mesh/%s/virtualNode/%s", w.sc.Region, w.sc.Mesh, node)
}

// gatewayContainer is the Envoy container of an App Mesh virtual gateway's
// task: the proxy alone, identified by the gateway's ARN, listening on the
// gateway's port.
func (w *world) gatewayContainer(name string, port int) ecstypes.ContainerDefinition {
	return ecstypes.ContainerDefinition{
		Name:      aws.String("envoy"),
		Image:     aws.String(contract.SidecarImage),
		Essential: aws.Bool(true),
		Environment: []ecstypes.KeyValuePair{{Name: aws.String("APPMESH_RESOURCE_ARN"),
			Value: aws.String(fmt.Sprintf("arn:aws:appmesh:%s:000000000000:mesh/%s/virtualGateway/%s", w.sc.Region, w.sc.Mesh, name))}},
		PortMappings: []ecstypes.PortMapping{
			{ContainerPort: aws.Int32(int32(port)), Name: aws.String("gateway")},
			{ContainerPort: aws.Int32(contract.AdminPort), Name: aws.String("admin")},
		},
		HealthCheck: sidecarHealthCheck(),
	}
}

// sidecarHealthCheck is the health check App Mesh documents for its Envoy
// container: the task turns healthy, and its service stable, only once
// the proxy has its configuration (without it, a rehearsal could send
// load to a task whose egress listener is not open yet).
func sidecarHealthCheck() *ecstypes.HealthCheck {
	return &ecstypes.HealthCheck{
		Command:     admin.SidecarHealthCheck,
		Interval:    aws.Int32(5),
		Timeout:     aws.Int32(2),
		Retries:     aws.Int32(3),
		StartPeriod: aws.Int32(10),
	}
}

// sidecarContainer is the Envoy container App Mesh tasks carry.
func (w *world) sidecarContainer(node string) ecstypes.ContainerDefinition {
	return ecstypes.ContainerDefinition{
		Name:      aws.String("envoy"),
		Image:     aws.String(contract.SidecarImage),
		Essential: aws.Bool(true),
		Environment: []ecstypes.KeyValuePair{
			{Name: aws.String("APPMESH_RESOURCE_ARN"), Value: aws.String(w.nodeARN(node))},
		},
		PortMappings: []ecstypes.PortMapping{
			{ContainerPort: aws.Int32(contract.IngressPort), Name: aws.String("ingress")},
			{ContainerPort: aws.Int32(egressPort), Name: aws.String("egress")},
			{ContainerPort: aws.Int32(contract.AdminPort), Name: aws.String("admin")},
		},
		HealthCheck: sidecarHealthCheck(),
	}
}

// createUnit registers the unit's first task definition and creates its
// ECS service.
func (w *world) createUnit(ctx context.Context, u unit) error {
	td, err := w.registerTaskDefinition(ctx, u, u.version)
	if err != nil {
		return err
	}
	in := w.serviceInput(u.name, td, u.version.Count)
	if u.service.ServiceFile != "" {
		var mapped []string
		if in, mapped, err = w.userServiceInput(u, td); err != nil {
			return err
		}
		w.mapped("service/"+u.name, u.service.ServiceFile, mapped)
	}
	switch {
	case w.alb():
		in.LoadBalancers = w.albLoadBalancers(u)
	case u.sc:
		in.ServiceConnectConfiguration = &ecstypes.ServiceConnectConfiguration{
			Enabled:   true,
			Namespace: aws.String(w.sc.Namespace),
			Services: []ecstypes.ServiceConnectService{{
				PortName:      aws.String(string(u.service.Protocol)),
				DiscoveryName: aws.String(u.name),
				ClientAliases: []ecstypes.ServiceConnectClientAlias{{
					Port: aws.Int32(int32(u.service.Port)), DnsName: aws.String(u.service.Name),
				}},
				Timeout: &ecstypes.TimeoutConfiguration{PerRequestTimeoutSeconds: aws.Int32(10)},
			}},
		}
	default:
		in.ServiceRegistries = []ecstypes.ServiceRegistry{{
			RegistryArn:   aws.String(w.registries[u.name]),
			ContainerName: aws.String(w.appName(u)),
			ContainerPort: aws.Int32(int32(u.service.Port)),
		}}
	}
	return w.createService(ctx, in)
}

// backendURL is how an application addresses service name: its App Mesh
// virtual service, or its Service Connect client alias.
func (w *world) backendURL(name string, sc bool) string {
	s, _ := w.sc.Service(name)
	scheme := "http"
	if s.Protocol == scenarios.ProtocolGRPC {
		scheme = "grpc" // the sample service calls Echo
	}
	if sc {
		return fmt.Sprintf("%s://%s:%d/", scheme, s.Name, s.Port)
	}
	return fmt.Sprintf("%s://%s:%d/", scheme, w.virtualServiceName(s.Name), s.Port)
}

// appContainer is the sample service container of version v of service
// name, calling backends.
func (w *world) appContainer(name, version string, protocol scenarios.Protocol, port uint32, healthPath string, backends []string, sc bool, v scenarios.Version) ecstypes.ContainerDefinition {
	var urls []string
	for _, b := range backends {
		urls = append(urls, w.backendURL(b, sc))
	}
	env := map[string]string{
		contract.EnvService:  name,
		contract.EnvVersion:  version,
		contract.EnvPort:     fmt.Sprint(port),
		contract.EnvBackends: strings.Join(urls, ","),
		// The sidecar's egress listener stands in for the traffic capture
		// App Mesh (iptables) and Service Connect (/etc/hosts) set up.
		contract.EnvProxy: fmt.Sprintf("http://localhost:%d", egressPort),
	}
	for k, d := range map[string]time.Duration{
		contract.EnvLatency: v.Latency, contract.EnvStartDelay: v.StartDelay,
		contract.EnvDrain: v.Drain, contract.EnvCrashAfter: v.CrashAfter, contract.EnvCPU: v.CPU,
	} {
		if d > 0 {
			env[k] = d.String()
		}
	}
	if v.ErrorRate > 0 {
		env[contract.EnvErrorRate] = fmt.Sprint(v.ErrorRate)
	}
	if v.LatencyDist != "" {
		env[contract.EnvLatencyDist] = v.LatencyDist
	}
	if v.Concurrency > 0 {
		env[contract.EnvConcurrency] = fmt.Sprint(v.Concurrency)
	}
	if v.Shutdown != "" {
		env[contract.EnvShutdown] = v.Shutdown
	}
	if v.FailHealth {
		env[contract.EnvHealth] = "fail"
	}
	image, appProtocol, healthPort := contract.SampleHTTPImage, ecstypes.ApplicationProtocolHttp, port
	if protocol == scenarios.ProtocolGRPC {
		// The gRPC echo service answers HTTP health checks on a port of
		// its own.
		image, appProtocol, healthPort = contract.SampleGRPCImage, ecstypes.ApplicationProtocolGrpc, port+healthPortOffset
		env[contract.EnvHealthPort] = fmt.Sprint(healthPort)
		healthPath = "/health"
		delete(env, contract.EnvBackends)
		delete(env, contract.EnvProxy)
	}
	return ecstypes.ContainerDefinition{
		Name:         aws.String("app"),
		Image:        aws.String(image),
		Essential:    aws.Bool(true),
		Environment:  keyValues(env),
		PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(int32(port)), Name: aws.String(string(protocol)), AppProtocol: appProtocol}},
		HealthCheck: &ecstypes.HealthCheck{
			Command:     []string{"CMD-SHELL", fmt.Sprintf("curl -f http://localhost:%d%s || exit 1", healthPort, healthPath)},
			Interval:    aws.Int32(5),
			Timeout:     aws.Int32(2),
			Retries:     aws.Int32(3),
			StartPeriod: aws.Int32(0),
		},
		StopTimeout: aws.Int32(10),
	}
}

// registerTaskDefinition registers version v of unit u: with App Mesh, the
// sample service and its Envoy-style sidecar; with Service Connect, the
// sample service alone (ECS adds the Service Connect proxy).
func (w *world) registerTaskDefinition(ctx context.Context, u unit, v scenarios.Version) (string, error) {
	s := u.service
	label := v.Name
	if u.stack != "" {
		label = u.stack
	}
	if v.TaskDefinitionFile != "" {
		arn, err := w.registerUserTaskDefinition(ctx, u, v)
		if err != nil {
			return "", err
		}
		w.taskDefinitions[arn] = v.Name
		if w.tasks != nil {
			w.tasks.registered(arn, v.Name)
		}
		return arn, nil
	}
	app := w.appContainer(s.Name, label, s.Protocol, s.Port, s.HealthCheckPath, s.Backends, u.sc, v)
	if v.UserSoftware() {
		app = w.userContainer(s, v)
	}
	containers := []ecstypes.ContainerDefinition{app}
	if !u.sc && !w.alb() {
		containers = append(containers, w.sidecarContainer(u.name))
	}
	arn, err := w.registerFamily(ctx, u.name, containers)
	if err != nil {
		return "", err
	}
	w.taskDefinitions[arn] = v.Name
	if w.tasks != nil {
		w.tasks.registered(arn, v.Name)
	}
	return arn, nil
}

// proxyConfiguration is the App Mesh proxy configuration of a task whose
// application listens on appPort and whose proxy is the envoy container.
func (w *world) proxyConfiguration(appPort uint32) *ecstypes.ProxyConfiguration {
	return &ecstypes.ProxyConfiguration{
		Type:          ecstypes.ProxyConfigurationTypeAppmesh,
		ContainerName: aws.String("envoy"),
		Properties: keyValues(map[string]string{
			"AppPorts": fmt.Sprint(appPort), "EgressIgnoredIPs": "169.254.170.2,169.254.169.254",
			"IgnoredUID": "1337", "ProxyEgressPort": fmt.Sprint(egressPort), "ProxyIngressPort": fmt.Sprint(contract.IngressPort),
		}),
	}
}

// registerFamily registers a revision of task definition family.
func (w *world) registerFamily(ctx context.Context, family string, containers []ecstypes.ContainerDefinition) (string, error) {
	td := &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(family),
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ContainerDefinitions:    containers,
	}
	if len(containers) > 1 && aws.ToString(containers[len(containers)-1].Name) == "envoy" {
		td.ProxyConfiguration = w.proxyConfiguration(uint32(aws.ToInt32(containers[0].PortMappings[0].ContainerPort)))
	}
	out, err := w.aws.ECS.RegisterTaskDefinition(ctx, td)
	if err != nil {
		return "", fmt.Errorf("ecs RegisterTaskDefinition %s: %w", family, err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
}

// createIngressService creates the ECS service load enters through. With
// App Mesh it is a sidecar-only task of the ingress virtual node (a
// gateway); with Service Connect, a sample service named after the ingress
// that calls the ingress service through its client alias.
func (w *world) createIngressService(ctx context.Context) error {
	if w.route53() { // the clients call the rolled service's tasks by DNS
		return nil
	}
	if w.migration() {
		if err := w.createIngress(ctx, w.sc.Ingress.Name, false); err != nil {
			return err
		}
		return w.createIngress(ctx, w.sc.Ingress.Name+"-sc", true)
	}
	return w.createIngress(ctx, w.sc.Ingress.Name, w.serviceConnect())
}

// createIngress creates one ingress service: App Mesh's (sc false) or
// Service Connect's.
func (w *world) createIngress(ctx context.Context, name string, sc bool) error {
	if gw := w.sc.Ingress.VirtualGateway; !sc && gw != nil {
		td, err := w.registerFamily(ctx, name, []ecstypes.ContainerDefinition{w.gatewayContainer(name, gw.Port)})
		if err != nil {
			return err
		}
		return w.createService(ctx, w.serviceInput(name, td, 1))
	}
	if !sc {
		td, err := w.registerFamily(ctx, name, []ecstypes.ContainerDefinition{w.sidecarContainer(name)})
		if err != nil {
			return err
		}
		return w.createService(ctx, w.serviceInput(name, td, 1))
	}
	app := w.appContainer(name, "v1", scenarios.ProtocolHTTP, ingressPort, "/health", []string{w.sc.Ingress.Service}, true, scenarios.Version{})
	td, err := w.registerFamily(ctx, name, []ecstypes.ContainerDefinition{app})
	if err != nil {
		return err
	}
	in := w.serviceInput(name, td, 1)
	in.ServiceConnectConfiguration = &ecstypes.ServiceConnectConfiguration{Enabled: true, Namespace: aws.String(w.sc.Namespace)}
	return w.createService(ctx, in)
}

// ingressPort is where the Service Connect ingress application listens.
const ingressPort = 8080

// ingressTarget returns the URL load is sent to and the Host header it
// carries, once the ingress task (App Mesh's, or Service Connect's when sc)
// runs at ip.
func (w *world) ingressTarget(ip string, sc bool) (target, host string) {
	if w.alb() {
		return fmt.Sprintf("http://%s:%d%s", ip, w.sc.LoadBalancer.Port, w.sc.Load.Path), ""
	}
	if sc {
		return fmt.Sprintf("http://%s:%d%s", ip, ingressPort, w.sc.Load.Path), ""
	}
	if gw := w.sc.Ingress.VirtualGateway; gw != nil {
		// The client outside the mesh sends to the gateway's address; its
		// gateway routes choose the virtual service.
		return fmt.Sprintf("http://%s:%d%s", ip, gw.Port, w.sc.Load.Path), ""
	}
	s, _ := w.sc.Service(w.sc.Ingress.Service)
	return fmt.Sprintf("http://%s:%d%s", ip, egressPort, w.sc.Load.Path),
		fmt.Sprintf("%s:%d", w.virtualServiceName(s.Name), s.Port)
}

func (w *world) serviceInput(name, taskDefinition string, count int) *ecs.CreateServiceInput {
	return &ecs.CreateServiceInput{
		Cluster:        aws.String(w.sc.Cluster),
		ServiceName:    aws.String(name),
		TaskDefinition: aws.String(taskDefinition),
		DesiredCount:   aws.Int32(int32(count)),
		LaunchType:     ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: []string{"subnet-meshsim"},
		}},
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			MinimumHealthyPercent: aws.Int32(100),
			MaximumPercent:        aws.Int32(200),
		},
	}
}

// createService creates an ECS service, to be deleted at teardown.
func (w *world) createService(ctx context.Context, in *ecs.CreateServiceInput) error {
	name := aws.ToString(in.ServiceName)
	if _, err := w.aws.ECS.CreateService(ctx, in); err != nil {
		return fmt.Errorf("ecs CreateService %s: %w", name, err)
	}
	w.ecsServices = append(w.ecsServices, name)
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.ECS.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String(w.sc.Cluster), Service: aws.String(name), Force: aws.Bool(true)})
		return err
	})
	return nil
}

// waitStable waits, with the SDK's services-stable waiter, until every ECS
// service runs its desired count. The waiter polls at most every 250 ms
// (its default backs off to 15 s, and 1 s here cost up to 0.8 s of a
// docker run's start): DescribeServices takes about 2 ms of the fakes.
func (w *world) waitStable(ctx context.Context, max time.Duration) error {
	waiter := ecs.NewServicesStableWaiter(w.aws.ECS, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 250 * time.Millisecond
	})
	for i := 0; i < len(w.ecsServices); i += 10 { // DescribeServices takes at most 10
		batch := w.ecsServices[i:min(i+10, len(w.ecsServices))]
		if err := waiter.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(w.sc.Cluster), Services: batch}, max); err != nil {
			return fmt.Errorf("waiting for ECS services %s to be stable: %w", strings.Join(batch, ", "), err)
		}
	}
	return nil
}

// taskIP returns the private IP of a running task of the ECS service name.
func (w *world) taskIP(ctx context.Context, name string) (string, error) {
	list, err := w.aws.ECS.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(w.sc.Cluster), ServiceName: aws.String(name), DesiredStatus: ecstypes.DesiredStatusRunning,
	})
	if err != nil {
		return "", fmt.Errorf("ecs ListTasks %s: %w", name, err)
	}
	if len(list.TaskArns) == 0 {
		return "", fmt.Errorf("ecs service %s has no running task", name)
	}
	out, err := w.aws.ECS.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(w.sc.Cluster), Tasks: list.TaskArns})
	if err != nil {
		return "", fmt.Errorf("ecs DescribeTasks %s: %w", name, err)
	}
	for _, t := range out.Tasks {
		if ip := privateIPv4(t); ip != "" {
			return ip, nil
		}
	}
	return "", fmt.Errorf("ecs service %s: DescribeTasks shows no privateIPv4Address", name)
}

func (w *world) undo(f func(context.Context) error) { w.created = append(w.created, f) }

// waitTasksStopped waits until the cluster runs no task.
func (w *world) waitTasksStopped(ctx context.Context) error {
	running := 0
	err := poll.Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		out, err := w.aws.ECS.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(w.sc.Cluster)})
		if err != nil {
			return false, fmt.Errorf("ecs ListTasks: %w", err)
		}
		running = len(out.TaskArns)
		if running > 0 {
			return false, nil
		}
		// A deleted service turns INACTIVE once its last task is gone,
		// and only then may the cluster be deleted.
		return w.servicesInactive(ctx)
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%d tasks still running: %w", running, err)
	}
	return err
}

// servicesInactive reports whether every ECS service the world created
// is INACTIVE (or gone).
func (w *world) servicesInactive(ctx context.Context) (bool, error) {
	for names := range slices.Chunk(w.ecsServices, 10) {
		out, err := w.aws.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(w.sc.Cluster), Services: names})
		if err != nil {
			return false, fmt.Errorf("ecs DescribeServices: %w", err)
		}
		for _, s := range out.Services {
			if aws.ToString(s.Status) != "INACTIVE" {
				return false, nil
			}
		}
	}
	return true, nil
}

// teardown deletes what create made, newest first: ECS services (which
// stops their tasks and deregisters them from Cloud Map), then the mesh
// resources. It goes on past errors and returns them all.
func (w *world) teardown(ctx context.Context) error {
	// Scale services to zero first, so their tasks drain together.
	for _, name := range w.ecsServices {
		_, _ = w.aws.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(w.sc.Cluster), Service: aws.String(name), DesiredCount: aws.Int32(0)})
	}
	var errs []string
	for i := len(w.created) - 1; i >= 0; i-- {
		if err := w.created[i](ctx); err != nil {
			errs = append(errs, err.Error())
		}
	}
	w.created = nil
	if len(errs) > 0 {
		return fmt.Errorf("teardown: %s", strings.Join(errs, "; "))
	}
	return nil
}

// leavesFirst orders services so that each comes after the services it
// calls (the scenario's validation rules out self-calls; a cycle is broken
// by declaration order).
func leavesFirst(services []scenarios.Service) []*scenarios.Service {
	byName := map[string]*scenarios.Service{}
	for i := range services {
		byName[services[i].Name] = &services[i]
	}
	var out []*scenarios.Service
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(s *scenarios.Service)
	visit = func(s *scenarios.Service) {
		if state[s.Name] != 0 {
			return
		}
		state[s.Name] = 1
		for _, b := range s.Backends {
			if bs, ok := byName[b]; ok {
				visit(bs)
			}
		}
		state[s.Name] = 2
		out = append(out, s)
	}
	for i := range services {
		visit(&services[i])
	}
	return out
}

func keyValues(m map[string]string) []ecstypes.KeyValuePair {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]ecstypes.KeyValuePair, len(keys))
	for i, k := range keys {
		kv[i] = ecstypes.KeyValuePair{Name: aws.String(k), Value: aws.String(m[k])}
	}
	return kv
}
