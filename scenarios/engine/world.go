package engine

import (
	"context"
	"fmt"
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
	"github.com/meshsim/meshsim/sim/sampleapp"
	"github.com/meshsim/meshsim/sim/sidecar"
	"github.com/meshsim/meshsim/sim/xds"
)

// egressPort is where the sidecar's egress listener answers; the
// application uses it as its HTTP proxy (App Mesh redirects outbound
// traffic to the same port with iptables).
const egressPort = xds.EgressPort

// world creates and deletes the scenario's AWS resources, through the AWS
// APIs only.
type world struct {
	sc  *scenarios.Scenario
	aws awsclient.Clients

	namespaceID string
	// registries maps SERVICE-VERSION to its Cloud Map service ARN.
	registries map[string]string
	// ecsServices lists the ECS services created, in creation order.
	ecsServices []string
	created     []func(context.Context) error // undo actions, run in reverse
}

func versionName(svc, ver string) string { return svc + "-" + ver }

func (w *world) virtualServiceName(svc string) string { return svc + "." + w.sc.Namespace }

func (w *world) routerName(svc string) string { return svc + "-router" }

func (w *world) routeName(svc string) string { return svc + "-route" }

// routed reports whether svc is provided by a virtual router (it has
// several versions or is rolled out) rather than by its only virtual node.
func (w *world) routed(s *scenarios.Service) bool {
	return len(s.Versions) > 1 || s.Name == w.sc.Rollout.Service
}

// create stands the world up: Cloud Map namespace and services, App Mesh
// mesh, virtual nodes, routers, routes and virtual services, and the ECS
// cluster, task definitions and services (which start the tasks).
func (w *world) create(ctx context.Context) error {
	sc := w.sc
	w.registries = map[string]string{}

	// ECS cluster.
	if _, err := w.aws.ECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(sc.Cluster)}); err != nil {
		return fmt.Errorf("ecs CreateCluster %s: %w", sc.Cluster, err)
	}
	w.undo(func(ctx context.Context) error {
		_, err := w.aws.ECS.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String(sc.Cluster)})
		return err
	})

	// Cloud Map namespace, then one Cloud Map service per service version.
	if err := w.createNamespace(ctx); err != nil {
		return err
	}
	for _, s := range sc.Services {
		for _, v := range s.Versions {
			name := versionName(s.Name, v.Name)
			out, err := w.aws.CloudMap.CreateService(ctx, &servicediscovery.CreateServiceInput{
				Name:             aws.String(name),
				NamespaceId:      aws.String(w.namespaceID),
				CreatorRequestId: aws.String("meshsim-" + name),
				DnsConfig: &sdtypes.DnsConfig{
					DnsRecords:    []sdtypes.DnsRecord{{Type: sdtypes.RecordTypeA, TTL: aws.Int64(60)}},
					RoutingPolicy: sdtypes.RoutingPolicyMultivalue,
				},
				HealthCheckCustomConfig: &sdtypes.HealthCheckCustomConfig{},
			})
			if err != nil {
				return fmt.Errorf("cloudmap CreateService %s: %w", name, err)
			}
			w.registries[name] = aws.ToString(out.Service.Arn)
			id := out.Service.Id
			w.undo(func(ctx context.Context) error {
				_, err := w.aws.CloudMap.DeleteService(ctx, &servicediscovery.DeleteServiceInput{Id: id})
				return err
			})
		}
	}
	// Cloud Map services can be deleted once ECS has stopped (and so
	// deregistered) every task: wait for that after the ECS services go.
	w.undo(w.waitTasksStopped)

	// App Mesh: the mesh, then services leaves-first so that every backend
	// a virtual node names already exists.
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
	ingressNode := sc.Ingress.Name
	if err := w.createVirtualNode(ctx, ingressNode, nil, []string{sc.Ingress.Service}, ""); err != nil {
		return err
	}

	// ECS task definitions and services: one per service version, and the
	// ingress (a sidecar-only task).
	for i := range sc.Services {
		s := &sc.Services[i]
		for _, v := range s.Versions {
			if err := w.createECSService(ctx, s, v); err != nil {
				return err
			}
		}
	}
	return w.createIngressService(ctx)
}

func (w *world) createNamespace(ctx context.Context) error {
	out, err := w.aws.CloudMap.CreatePrivateDnsNamespace(ctx, &servicediscovery.CreatePrivateDnsNamespaceInput{
		Name:             aws.String(w.sc.Namespace),
		Vpc:              aws.String("vpc-meshsim"),
		CreatorRequestId: aws.String("meshsim-" + w.sc.Namespace),
	})
	if err != nil {
		return fmt.Errorf("cloudmap CreatePrivateDnsNamespace %s: %w", w.sc.Namespace, err)
	}
	op, err := w.waitOperation(ctx, aws.ToString(out.OperationId))
	if err != nil {
		return fmt.Errorf("cloudmap namespace %s: %w", w.sc.Namespace, err)
	}
	w.namespaceID = op.Targets[string(sdtypes.OperationTargetTypeNamespace)]
	if w.namespaceID == "" {
		return fmt.Errorf("cloudmap namespace %s: operation %s names no namespace", w.sc.Namespace, aws.ToString(out.OperationId))
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
	for {
		out, err := w.aws.CloudMap.GetOperation(ctx, &servicediscovery.GetOperationInput{OperationId: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("GetOperation %s: %w", id, err)
		}
		switch out.Operation.Status {
		case sdtypes.OperationStatusSuccess:
			return out.Operation, nil
		case sdtypes.OperationStatusFail:
			return nil, fmt.Errorf("operation %s failed: %s", id, aws.ToString(out.Operation.ErrorMessage))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// createMeshService creates a service's virtual nodes (one per version),
// its router and route when it is routed, and its virtual service.
func (w *world) createMeshService(ctx context.Context, s *scenarios.Service) error {
	sc := w.sc
	for _, v := range s.Versions {
		name := versionName(s.Name, v.Name)
		if err := w.createVirtualNode(ctx, name, []uint32{s.Port}, s.Backends, name); err != nil {
			return err
		}
	}
	provider := amtypes.VirtualServiceProvider(&amtypes.VirtualServiceProviderMemberVirtualNode{
		Value: amtypes.VirtualNodeServiceProvider{VirtualNodeName: aws.String(versionName(s.Name, s.Versions[0].Name))},
	})
	if w.routed(s) {
		router := w.routerName(s.Name)
		_, err := w.aws.AppMesh.CreateVirtualRouter(ctx, &appmesh.CreateVirtualRouterInput{
			MeshName:          aws.String(sc.Mesh),
			VirtualRouterName: aws.String(router),
			Spec: &amtypes.VirtualRouterSpec{Listeners: []amtypes.VirtualRouterListener{{
				PortMapping: &amtypes.PortMapping{Port: aws.Int32(int32(s.Port)), Protocol: amtypes.PortProtocolHttp},
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
		if s.Name == sc.Rollout.Service {
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
	for _, v := range s.Versions {
		targets = append(targets, amtypes.WeightedTarget{
			VirtualNode: aws.String(versionName(s.Name, v.Name)),
			Weight:      int32(weights[v.Name]),
		})
	}
	return &amtypes.RouteSpec{HttpRoute: &amtypes.HttpRoute{
		Match:  &amtypes.HttpRouteMatch{Prefix: aws.String("/")},
		Action: &amtypes.HttpRouteAction{WeightedTargets: targets},
	}}
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

// createVirtualNode creates a virtual node listening on ports (none for a
// client-only node such as the ingress), calling backends (service names),
// discovered through the Cloud Map service cloudMapService ("" for none).
func (w *world) createVirtualNode(ctx context.Context, name string, ports []uint32, backends []string, cloudMapService string) error {
	spec := &amtypes.VirtualNodeSpec{}
	for _, p := range ports {
		spec.Listeners = append(spec.Listeners, amtypes.Listener{
			PortMapping: &amtypes.PortMapping{Port: aws.Int32(int32(p)), Protocol: amtypes.PortProtocolHttp},
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

// sidecarContainer is the Envoy container App Mesh tasks carry.
func (w *world) sidecarContainer(node string) ecstypes.ContainerDefinition {
	return ecstypes.ContainerDefinition{
		Name:      aws.String("envoy"),
		Image:     aws.String(sidecar.Image),
		Essential: aws.Bool(true),
		Environment: []ecstypes.KeyValuePair{
			{Name: aws.String("APPMESH_RESOURCE_ARN"), Value: aws.String(w.nodeARN(node))},
		},
		PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(egressPort), Name: aws.String("egress")}},
	}
}

func (w *world) createECSService(ctx context.Context, s *scenarios.Service, v scenarios.Version) error {
	name := versionName(s.Name, v.Name)
	var backends []string
	for _, b := range s.Backends {
		bs, _ := w.sc.Service(b)
		backends = append(backends, fmt.Sprintf("http://%s:%d/", w.virtualServiceName(b), bs.Port))
	}
	env := map[string]string{
		"MESHSIM_SERVICE":  s.Name,
		"MESHSIM_VERSION":  v.Name,
		"MESHSIM_PORT":     fmt.Sprint(s.Port),
		"MESHSIM_BACKENDS": strings.Join(backends, ","),
		"MESHSIM_PROXY":    fmt.Sprintf("http://localhost:%d", egressPort),
	}
	if v.Latency > 0 {
		env["MESHSIM_LATENCY"] = v.Latency.String()
	}
	if v.ErrorRate > 0 {
		env["MESHSIM_ERROR_RATE"] = fmt.Sprint(v.ErrorRate)
	}
	if v.StartDelay > 0 {
		env["MESHSIM_START_DELAY"] = v.StartDelay.String()
	}
	app := ecstypes.ContainerDefinition{
		Name:         aws.String("app"),
		Image:        aws.String(sampleapp.Image),
		Essential:    aws.Bool(true),
		Environment:  keyValues(env),
		PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(int32(s.Port)), Name: aws.String("http"), AppProtocol: ecstypes.ApplicationProtocolHttp}},
		HealthCheck: &ecstypes.HealthCheck{
			Command:     []string{"CMD-SHELL", fmt.Sprintf("curl -f http://localhost:%d%s || exit 1", s.Port, s.HealthCheckPath)},
			Interval:    aws.Int32(5),
			Timeout:     aws.Int32(2),
			Retries:     aws.Int32(3),
			StartPeriod: aws.Int32(0),
		},
	}
	return w.createTaskService(ctx, name, v.Count, []ecstypes.ContainerDefinition{app, w.sidecarContainer(name)},
		[]ecstypes.ServiceRegistry{{
			RegistryArn:   aws.String(w.registries[name]),
			ContainerName: aws.String("app"),
			ContainerPort: aws.Int32(int32(s.Port)),
		}})
}

func (w *world) createIngressService(ctx context.Context) error {
	return w.createTaskService(ctx, w.sc.Ingress.Name, 1, []ecstypes.ContainerDefinition{w.sidecarContainer(w.sc.Ingress.Name)}, nil)
}

// createTaskService registers the task definition family name and creates
// the ECS service of the same name.
func (w *world) createTaskService(ctx context.Context, name string, count int, containers []ecstypes.ContainerDefinition, registries []ecstypes.ServiceRegistry) error {
	td := &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(name),
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ContainerDefinitions:    containers,
	}
	if len(containers) > 1 {
		td.ProxyConfiguration = &ecstypes.ProxyConfiguration{
			Type:          ecstypes.ProxyConfigurationTypeAppmesh,
			ContainerName: aws.String("envoy"),
			Properties: keyValues(map[string]string{
				"AppPorts": fmt.Sprint(aws.ToInt32(containers[0].PortMappings[0].ContainerPort)), "EgressIgnoredIPs": "169.254.170.2,169.254.169.254",
				"IgnoredUID": "1337", "ProxyEgressPort": fmt.Sprint(egressPort), "ProxyIngressPort": fmt.Sprint(xds.IngressPort),
			}),
		}
	}
	out, err := w.aws.ECS.RegisterTaskDefinition(ctx, td)
	if err != nil {
		return fmt.Errorf("ecs RegisterTaskDefinition %s: %w", name, err)
	}
	_, err = w.aws.ECS.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster:        aws.String(w.sc.Cluster),
		ServiceName:    aws.String(name),
		TaskDefinition: out.TaskDefinition.TaskDefinitionArn,
		DesiredCount:   aws.Int32(int32(count)),
		LaunchType:     ecstypes.LaunchTypeFargate,
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: []string{"subnet-meshsim"},
		}},
		ServiceRegistries: registries,
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			MinimumHealthyPercent: aws.Int32(100),
			MaximumPercent:        aws.Int32(200),
		},
	})
	if err != nil {
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
// service runs its desired count.
func (w *world) waitStable(ctx context.Context, max time.Duration) error {
	waiter := ecs.NewServicesStableWaiter(w.aws.ECS, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = time.Second
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
		for _, a := range t.Attachments {
			for _, d := range a.Details {
				if aws.ToString(d.Name) == "privateIPv4Address" && aws.ToString(d.Value) != "" {
					return aws.ToString(d.Value), nil
				}
			}
		}
	}
	return "", fmt.Errorf("ecs service %s: DescribeTasks shows no privateIPv4Address", name)
}

func (w *world) undo(f func(context.Context) error) { w.created = append(w.created, f) }

// waitTasksStopped waits until the cluster runs no task.
func (w *world) waitTasksStopped(ctx context.Context) error {
	for {
		out, err := w.aws.ECS.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(w.sc.Cluster)})
		if err != nil {
			return fmt.Errorf("ecs ListTasks: %w", err)
		}
		if len(out.TaskArns) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d tasks still running: %w", len(out.TaskArns), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
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
