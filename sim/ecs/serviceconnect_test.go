package ecs_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/servicediscovery"
	sdtypes "github.com/aws/aws-sdk-go-v2/service/servicediscovery/types"

	"github.com/meshsim/meshsim/sim/contract"
	"github.com/meshsim/meshsim/sim/ecs"
	"github.com/meshsim/meshsim/sim/poll/polltest"
)

const testNamespace = "meshsim.local"

// namespace creates the Cloud Map HTTP namespace name and returns its ARN.
func (w *world) namespace(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := w.cloudMap.CreateHttpNamespace(ctx, &servicediscovery.CreateHttpNamespaceInput{Name: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	out, err := w.cloudMap.ListNamespaces(ctx, &servicediscovery.ListNamespacesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range out.Namespaces {
		if aws.ToString(ns.Name) == name {
			return aws.ToString(ns.Arn)
		}
	}
	t.Fatalf("namespace %s was not created", name)
	return ""
}

// createConnected creates a Service Connect service (no serviceRegistries).
func (w *world) createConnected(t *testing.T, cluster, name, taskDef string, desired int32, sc *types.ServiceConnectConfiguration, config *types.DeploymentConfiguration) error {
	t.Helper()
	_, err := w.client.CreateService(context.Background(), &sdk.CreateServiceInput{
		Cluster: aws.String(cluster), ServiceName: aws.String(name), TaskDefinition: aws.String(taskDef),
		DesiredCount: aws.Int32(desired), ServiceConnectConfiguration: sc, DeploymentConfiguration: config,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-0123456789abcdef0"}}},
	})
	return err
}

// discover returns the instances of a Cloud Map service by id.
func (w *world) discover(t *testing.T, service string) map[string]map[string]string {
	t.Helper()
	out, err := w.cloudMap.DiscoverInstances(context.Background(), &servicediscovery.DiscoverInstancesInput{
		NamespaceName: aws.String(testNamespace), ServiceName: aws.String(service), HealthStatus: sdtypes.HealthStatusFilterAll,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]string{}
	for _, inst := range out.Instances {
		got[aws.ToString(inst.InstanceId)] = inst.Attributes
	}
	return got
}

func TestServiceConnect(t *testing.T) {
	w := newWorld(t)
	nsARN := w.namespace(t, testNamespace)
	v1 := w.register(t, "meshsim/test-http:v1", "v1")
	w.register(t, "meshsim/test-http:v2", "v2")
	sc := &types.ServiceConnectConfiguration{
		Enabled:   true,
		Namespace: aws.String(testNamespace),
		Services: []types.ServiceConnectService{{
			PortName:      aws.String("http"),
			ClientAliases: []types.ServiceConnectClientAlias{{Port: aws.Int32(80)}},
			Timeout:       &types.TimeoutConfiguration{PerRequestTimeoutSeconds: aws.Int32(10)},
		}},
	}
	if err := w.createConnected(t, testCluster, "web", v1, 2, sc, &types.DeploymentConfiguration{
		Strategy: types.DeploymentStrategyBlueGreen, BakeTimeInMinutes: aws.Int32(0),
		LifecycleHooks: []types.DeploymentLifecycleHook{{
			TargetType:      types.DeploymentLifecycleHookTargetTypePause,
			LifecycleStages: []types.DeploymentLifecycleHookStage{types.DeploymentLifecycleHookStagePostProductionTrafficShift},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	svc := w.waitStable(t, "web")

	d, discoveryARN := checkConnectDeployment(t, w, svc)
	checkConnectTasks(t, w, d, v1)
	checkConnectTrafficState(t, w, discoveryARN)
	checkConnectShift(t, w)
	checkConnectDefaults(t, w, nsARN, v1)
}

// checkConnectDeployment checks that the Service Connect configuration is
// echoed on the deployment of svc, as given, with the Cloud Map service ECS
// made for it; it returns the deployment and that service's ARN.
func checkConnectDeployment(t *testing.T, w *world, svc types.Service) (types.Deployment, string) {
	t.Helper()
	// The configuration is echoed on the deployment, as given, with the
	// Cloud Map service ECS made for it.
	d := svc.Deployments[0]
	got := d.ServiceConnectConfiguration
	if got == nil || !got.Enabled || aws.ToString(got.Namespace) != testNamespace || len(got.Services) != 1 ||
		aws.ToString(got.Services[0].PortName) != "http" || got.Services[0].DiscoveryName != nil ||
		aws.ToInt32(got.Services[0].Timeout.PerRequestTimeoutSeconds) != 10 {
		t.Errorf("deployment serviceConnectConfiguration %+v, want the one given", got)
	}
	if len(d.ServiceConnectResources) != 1 || aws.ToString(d.ServiceConnectResources[0].DiscoveryName) != "http" {
		t.Fatalf("serviceConnectResources %+v", d.ServiceConnectResources)
	}
	discoveryARN := aws.ToString(d.ServiceConnectResources[0].DiscoveryArn)
	cmSvc, err := w.cloudMap.ListServices(context.Background(), &servicediscovery.ListServicesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmSvc.Services) != 1 || aws.ToString(cmSvc.Services[0].Arn) != discoveryARN || aws.ToString(cmSvc.Services[0].Name) != "http" ||
		cmSvc.Services[0].Type != sdtypes.ServiceTypeHttp {
		t.Errorf("Cloud Map services %+v, want the API-only service http", cmSvc.Services)
	}

	return d, discoveryARN
}

// checkConnectTasks checks that every task of the deployment d is
// registered under the discovery name with its revision v1, and runs the
// Service Connect proxy ECS adds.
func checkConnectTasks(t *testing.T, w *world, d types.Deployment, v1 string) {
	t.Helper()
	// Every task is registered under the discovery name with its revision,
	// and runs the Service Connect proxy ECS adds.
	instances := w.discover(t, "http")
	tasks := w.tasks(t, "web", types.DesiredStatusRunning)
	if len(instances) != 2 || len(tasks) != 2 {
		t.Fatalf("%d instances for %d tasks", len(instances), len(tasks))
	}
	for _, task := range tasks {
		id := taskID(aws.ToString(task.TaskArn))
		attrs := instances[id]
		if attrs["AWS_INSTANCE_IPV4"] != taskIP(t, task) || attrs["AWS_INSTANCE_PORT"] != "8080" ||
			attrs[ecs.AttrDeploymentID] != aws.ToString(d.Id) || attrs[ecs.AttrTaskDefinitionARN] != v1 || attrs["ECS_SERVICE_NAME"] != "web" {
			t.Errorf("instance %s: %v", id, attrs)
		}
		names := []string{}
		for _, c := range task.Containers {
			names = append(names, aws.ToString(c.Name)+"="+aws.ToString(c.Image))
		}
		if !slices.Equal(names, []string{ecs.ServiceConnectContainer + "=" + contract.SidecarImage, "app=meshsim/test-http:v1"}) {
			t.Errorf("task %s containers %v", id, names)
		}
		if got := w.proxies.envOf(id)[contract.EnvVirtualNodeName]; got != "mesh/meshsim.local/virtualNode/web" {
			t.Errorf("proxy of task %s is node %q", id, got)
		}
	}

}

// checkConnectTrafficState checks that the data plane learns the
// configuration, resolved.
func checkConnectTrafficState(t *testing.T, w *world, discoveryARN string) {
	t.Helper()
	// The data plane learns the configuration, resolved.
	state := w.fake.TrafficState()
	if len(state) != 1 || state[0].ServiceConnect == nil {
		t.Fatalf("traffic state %+v", state)
	}
	conn := state[0].ServiceConnect
	perRequest := 10 * time.Second
	want := ecs.ServiceConnectService{
		PortName: "http", DiscoveryName: "http", DiscoveryARN: discoveryARN, ContainerName: "app", ContainerPort: 8080,
		AppProtocol: "http", IngressPort: 8080, ClientAliases: []ecs.ClientAlias{{Port: 80, DNSName: "http.meshsim.local"}},
		PerRequestTimeout: &perRequest,
	}
	if conn.Namespace != testNamespace || len(conn.Services) != 1 || !equalService(conn.Services[0], want) {
		t.Errorf("Service Connect %+v, want %+v", conn.Services, want)
	}

}

// checkConnectShift checks that a blue/green deployment shifts the
// revisions' weights, that Watch tells, and that both revisions are
// registered meanwhile.
func checkConnectShift(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	// A blue/green deployment shifts the revisions' weights; Watch tells.
	changed := w.fake.Watch(ctx)
	w.update(t, "web", sdk.UpdateServiceInput{TaskDefinition: aws.String("web:2")})
	deadline := time.After(polltest.Limit)
	var weights []float64
	for len(weights) != 2 || weights[0] != 100 {
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("Watch never told of the green revision taking production traffic; last weights %v", weights)
		}
		weights = weights[:0]
		for _, r := range w.fake.TrafficState()[0].Revisions {
			weights = append(weights, r.ProductionWeight)
		}
	}
	green := w.tasks(t, "web", types.DesiredStatusRunning)
	byDeployment := map[string]int{}
	for _, attrs := range w.discover(t, "http") {
		byDeployment[attrs[ecs.AttrDeploymentID]]++
	}
	if len(green) != 4 || len(byDeployment) != 2 {
		t.Errorf("during the deployment: %d tasks, instances by deployment %v; want 4 tasks, 2 per revision", len(green), byDeployment)
	}

}

// checkConnectDefaults checks client-only services (no endpoints) and the
// cluster's default namespace.
func checkConnectDefaults(t *testing.T, w *world, nsARN, v1 string) {
	t.Helper()
	ctx := context.Background()
	// Client-only services (no endpoints) and the cluster's default namespace.
	if err := w.createConnected(t, testCluster, "client", v1, 0, &types.ServiceConnectConfiguration{Enabled: true, Namespace: aws.String(nsARN)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.CreateCluster(ctx, &sdk.CreateClusterInput{
		ClusterName: aws.String("other"), ServiceConnectDefaults: &types.ClusterServiceConnectDefaultsRequest{Namespace: aws.String(testNamespace)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.createConnected(t, "other", "api", v1, 0, &types.ServiceConnectConfiguration{
		Enabled: true, Services: []types.ServiceConnectService{{PortName: aws.String("http"), DiscoveryName: aws.String("api"),
			ClientAliases: []types.ServiceConnectClientAlias{{Port: aws.Int32(8080), DnsName: aws.String("api")}}}},
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, st := range w.fake.TrafficState() {
		switch st.Service {
		case "client":
			if st.ServiceConnect == nil || st.ServiceConnect.Namespace != testNamespace || len(st.ServiceConnect.Services) != 0 {
				t.Errorf("client-only service: %+v", st.ServiceConnect)
			}
		case "api":
			if st.Cluster != "other" || st.ServiceConnect == nil || st.ServiceConnect.Namespace != testNamespace ||
				st.ServiceConnect.Services[0].ClientAliases[0].DNSName != "api" {
				t.Errorf("service in the default namespace: %+v", st.ServiceConnect)
			}
		}
	}
	list, err := w.client.ListServicesByNamespace(ctx, &sdk.ListServicesByNamespaceInput{Namespace: aws.String(testNamespace)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{
		"arn:aws:ecs:eu-west-1:000000000000:service/other/api",
		"arn:aws:ecs:eu-west-1:000000000000:service/sim/client",
		"arn:aws:ecs:eu-west-1:000000000000:service/sim/web",
	}; !slices.Equal(list.ServiceArns, want) {
		t.Errorf("ListServicesByNamespace %v, want %v", list.ServiceArns, want)
	}
}

// equalService compares two ServiceConnectServices, timeouts by value.
func equalService(a, b ecs.ServiceConnectService) bool {
	eq := func(x, y *time.Duration) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	return eq(a.PerRequestTimeout, b.PerRequestTimeout) && eq(a.IdleTimeout, b.IdleTimeout) &&
		slices.Equal(a.ClientAliases, b.ClientAliases) &&
		a.PortName == b.PortName && a.DiscoveryName == b.DiscoveryName && a.DiscoveryARN == b.DiscoveryARN &&
		a.ContainerName == b.ContainerName && a.ContainerPort == b.ContainerPort && a.AppProtocol == b.AppProtocol &&
		a.IngressPort == b.IngressPort
}

func TestServiceConnectValidation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.namespace(t, testNamespace)
	td := w.register(t, "meshsim/test-http:v1", "v1")
	raw, err := w.client.RegisterTaskDefinition(ctx, &sdk.RegisterTaskDefinitionInput{
		Family: aws.String("raw"), NetworkMode: types.NetworkModeAwsvpc,
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("meshsim/test-http"),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), Name: aws.String("tcp")}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	alias := []types.ServiceConnectClientAlias{{Port: aws.Int32(80)}}
	service := func(s types.ServiceConnectService) *types.ServiceConnectConfiguration {
		return &types.ServiceConnectConfiguration{Enabled: true, Namespace: aws.String(testNamespace), Services: []types.ServiceConnectService{s}}
	}
	tests := []struct {
		name    string
		taskDef string
		sc      *types.ServiceConnectConfiguration
		code    string
		msg     string
	}{
		{"unknown port name", td, service(types.ServiceConnectService{PortName: aws.String("grpc"), ClientAliases: alias}),
			"InvalidParameterException", "The port name grpc in serviceConnectConfiguration.services[0] does not match a portMappings name in task definition " + td + "."},
		{"port without appProtocol", aws.ToString(raw.TaskDefinition.TaskDefinitionArn), service(types.ServiceConnectService{PortName: aws.String("tcp"), ClientAliases: alias}),
			"InvalidParameterException", `Port mapping tcp of task definition arn:aws:ecs:eu-west-1:000000000000:task-definition/raw:1 has appProtocol ""; Service Connect in meshsim needs http, http2 or grpc.`},
		{"unknown namespace", td, &types.ServiceConnectConfiguration{Enabled: true, Namespace: aws.String("nowhere.local")},
			"NamespaceNotFoundException", "Namespace nowhere.local not found."},
		{"no namespace", td, &types.ServiceConnectConfiguration{Enabled: true},
			"InvalidParameterException", "serviceConnectConfiguration.namespace is required when the cluster has no Service Connect default namespace."},
		{"bad discovery name", td, service(types.ServiceConnectService{PortName: aws.String("http"), DiscoveryName: aws.String("Web!"), ClientAliases: alias}),
			"InvalidParameterException", `serviceConnectConfiguration.services[0].discoveryName "Web!" must be up to 64 lowercase letters, numbers, underscores and hyphens, not starting with a hyphen.`},
		{"two aliases", td, service(types.ServiceConnectService{PortName: aws.String("http"), ClientAliases: append(alias, alias...)}),
			"InvalidParameterException", "serviceConnectConfiguration.services[0].clientAliases can have at most 1 alias."},
		{"alias port 0", td, service(types.ServiceConnectService{PortName: aws.String("http"), ClientAliases: []types.ServiceConnectClientAlias{{Port: aws.Int32(0), DnsName: aws.String("web")}}}),
			"InvalidParameterException", "serviceConnectConfiguration.services[0].clientAliases[0].port must be between 1 and 65535."},
		{"negative timeout", td, service(types.ServiceConnectService{PortName: aws.String("http"), ClientAliases: alias,
			Timeout: &types.TimeoutConfiguration{IdleTimeoutSeconds: aws.Int32(-1)}}),
			"InvalidParameterException", "serviceConnectConfiguration.services[0].timeout.idleTimeoutSeconds must be 0 or more."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := w.createConnected(t, testCluster, "web", tt.taskDef, 1, tt.sc, nil)
			if code, msg := apiError(err); code != tt.code || msg != tt.msg {
				t.Errorf("got %s %q, want %s %q", code, msg, tt.code, tt.msg)
			}
		})
	}
	out, err := w.cloudMap.ListServices(ctx, &servicediscovery.ListServicesInput{})
	if err != nil || len(out.Services) != 0 {
		t.Errorf("rejected configurations made Cloud Map services: %v %+v", err, out)
	}

	// A new task definition must still have the port Service Connect names.
	if err := w.createConnected(t, testCluster, "web", td, 0, service(types.ServiceConnectService{PortName: aws.String("http"), ClientAliases: alias}), nil); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.UpdateService(ctx, &sdk.UpdateServiceInput{Cluster: aws.String(testCluster), Service: aws.String("web"), TaskDefinition: raw.TaskDefinition.TaskDefinitionArn})
	if code, _ := apiError(err); code != "InvalidParameterException" {
		t.Errorf("update to a task definition without the port: %v", err)
	}
}
